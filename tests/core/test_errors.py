"""Every domain error is one `SankeError` (code, message, field); only web/errors.py turns one into a status."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

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


# Run in a process of its own: CPython 3.11.7's ast constructor keeps its recursion depth in shared state
# (fixed upstream in 3.11.8, gh-106905), so an ast.parse here racing one in another thread of the test process
# (pytest rewriting a module imported by a live server's thread) raised "AST constructor recursion depth mismatch".
SCAN = """
import ast, json, pathlib, sys
root = pathlib.Path(sys.argv[1])
offenders = []
for pkg in ("core", "rooms", "signaling", "media", "scheduler", "recorder"):
    for path in sorted((root / pkg).rglob("*.py")):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and b.id == "SankeError" for b in node.bases
            ):
                src = ast.get_source_segment(text, node) or ""
                if "status" in src.split('\"\"\"')[-1]:
                    offenders.append(f"{path.relative_to(root)}:{node.name}")
print(json.dumps(offenders))
"""


def test_no_domain_module_carries_an_http_status():
    """`status=` / `.status` on an error lives in web/ only (the one place that knows HTTP)."""
    done = subprocess.run([sys.executable, "-c", SCAN, str(ROOT)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    offenders = json.loads(done.stdout)
    assert not offenders, offenders
