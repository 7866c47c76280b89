"""Every domain error is one `SankeError` (code, message, field); only web/errors.py turns one into a status."""

from __future__ import annotations

import ast
import pathlib

import pytest

from core.errors import InvalidStateError, SankeError
from core.tokens import TokenError
from recorder.resources import ResourceError
from recorder.review import ReviewError
from rooms.service import RoomError
from rooms.stage import StageError
from signaling.protocol import ProtocolError
from web.errors import api_error, status_of

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "cls", [ProtocolError, RoomError, TokenError, StageError, ResourceError, ReviewError, InvalidStateError]
)
def test_each_layer_error_is_a_sanke_error_with_code_message_field(cls):
    err = cls("invalid_state", "closed", "track_id") if cls is not InvalidStateError else cls("closed", "track_id")
    assert isinstance(err, SankeError)
    assert (err.code, err.message, err.field) == ("invalid_state", "closed", "track_id")
    assert err.as_dict() == {"code": "invalid_state", "message": "closed", "field": "track_id"}


def test_statuses_come_from_the_code():
    assert status_of(ReviewError("forbidden", "only the owner", "action")) == 403
    assert status_of(ReviewError("wrong_status", "not submitted", "action")) == 409
    assert status_of(ResourceError("not_found", "no knowledge point 9", "knowledge_point_ids")) == 400
    assert status_of(RoomError("not_found", "no such room")) == 404
    assert status_of(ProtocolError("invalid_field", "bad")) == 400
    err = api_error(TokenError("token_expired", "token has expired"))
    assert err.status == 401 and b'"token_expired"' in err.body


def test_no_domain_module_carries_an_http_status():
    """`status=` / `.status` on an error lives in web/ only (the one place that knows HTTP)."""
    offenders = []
    for pkg in ("core", "rooms", "signaling", "media", "scheduler", "recorder"):
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and b.id == "SankeError" for b in node.bases
                ):
                    src = ast.get_source_segment(path.read_text(), node) or ""
                    if "status" in src.split('"""')[-1]:
                        offenders.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert not offenders, offenders
