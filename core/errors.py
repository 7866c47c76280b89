"""One base error for every layer: a code a client switches on, a message a person reads, the field at fault.

Domain errors (protocol, rooms, tokens, stage, recorder, review, media state) derive from `SankeError`, so the
edges convert one type: `web/errors.py` maps a code to an HTTP status (the only place statuses live) and the
signaling session turns one into an `error` message. Nothing here knows about HTTP or WebSockets.
"""

from __future__ import annotations

from typing import Any


class SankeError(Exception):
    """A failure the caller can act on; `code` is stable, `message` is for people, `field` names the input."""

    code: str
    message: str
    field: str | None

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        return out


class InvalidStateError(SankeError):
    """A call on an object that is already closed (W3C/aiortc's name): the caller raced a close."""

    def __init__(self, message: str, field: str | None = None, code: str = "invalid_state") -> None:
        super().__init__(code, message, field)
