"""One lifecycle state per media object (router, transport, producer, consumer), closed once.

As in mediasoup and aiortc: `close()` on a closed object returns at once; a parent that closes tells each
child through a separate method (`transport_closed()`, `router_closed()`) so the child knows who closed
it; any other call on a closed object raises `InvalidStateError` (a `SankeError` with code
`invalid_state`), which signaling answers as an error message instead of acting on a dead object.
"""

from __future__ import annotations

from typing import Literal

from core.errors import InvalidStateError

MediaState = Literal["open", "closed"]


class Closable:
    __slots__ = ("state",)
    what = "media object"

    def __init__(self) -> None:
        self.state: MediaState = "open"

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    def _begin_close(self) -> bool:
        """Move to closed; False when it already was (the caller then does nothing)."""
        if self.state == "closed":
            return False
        self.state = "closed"
        return True

    def check_open(self, call: str) -> None:
        if self.state == "closed":
            raise InvalidStateError(f"{call}: the {self.what} is already closed")
