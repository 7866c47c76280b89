"""JSON errors at the HTTP edge: every failure answers with a code, a message and the field."""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from core.errors import SankeError
from core.uploads import UploadRefused

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
MAX_BODY = 1024 * 1024


class ApiError(web.HTTPException):
    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        self.status_code = status
        body: dict[str, Any] = {"code": code, "message": message}
        if field is not None:
            body["field"] = field
        body.update(extra or {})
        super().__init__(text=json.dumps({"error": body}, ensure_ascii=False), content_type="application/json")


# The one place a domain error's code becomes an HTTP status; anything not listed is the client's bad input.
STATUS_BY_CODE: dict[str, int] = {
    "not_logged_in": 401,
    "token_invalid": 401,
    "token_expired": 401,
    "token_revoked": 401,
    "session_revoked": 401,
    "forbidden": 403,
    "not_found": 404,
    "wrong_status": 409,
    "conflict": 409,
    "too_large": 413,
    "rate_limited": 429,
    "storage_unavailable": 503,
    "unavailable": 503,  # the bus (Redis) is away: retry
}


def status_of(error: SankeError) -> int:
    """`not_found` naming a body field is bad input (400); naming nothing, the addressed thing is missing (404)."""
    if error.code == "not_found" and error.field is not None:
        return 400
    return STATUS_BY_CODE.get(error.code, 400)


def api_error(error: SankeError) -> ApiError:
    """The HTTP form of a domain error: same code, message and field."""
    return ApiError(status_of(error), error.code, error.message, error.field)


async def parse_body(request: web.Request, model: type[M]) -> M:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", f"body exceeds {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", f"body exceeds {MAX_BODY} bytes")
    try:
        data = json.loads(raw or b"{}")
    except ValueError as e:
        raise ApiError(400, "bad_json", f"body is not valid JSON: {e}") from e
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise ApiError(400, "invalid_field", err["msg"], ".".join(str(p) for p in err["loc"]) or None) from e


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError:
        raise
    except SankeError as e:
        raise api_error(e) from e
    except web.HTTPException as e:
        if request.path.startswith("/api/") and e.status >= 400:
            raise ApiError(e.status, e.reason.lower().replace(" ", "_"), e.reason) from e
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        raise ApiError(500, "internal", "internal server error") from None


def upload_refused(e: UploadRefused) -> ApiError:
    """An upload over a limit: 413/422 naming the file and the limit, in Chinese and English."""
    body = e.to_json()
    return ApiError(e.status, body.pop("code"), body.pop("message"), body.pop("field"), extra=body)
