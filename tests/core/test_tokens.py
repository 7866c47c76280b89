"""Join tokens: short-lived, signed, carrying grants; keys rotate by kid."""

from __future__ import annotations

import time

import jwt
import pytest

from core.tokens import JOIN_TTL_MAX, Grants, TokenError, TokenSigner
from rooms.roles import Role, RoomKind, grants_for


def test_round_trip_and_ttl_cap() -> None:
    signer = TokenSigner({"k1": b"a" * 32})
    grants = grants_for(Role.CLASSROOM, RoomKind.DELIVERY, "r-1")
    token = signer.issue_join("classroom:3", "白石村小学 四年级", "classroom", grants, ttl=86400, meta={"x": 1})
    claims = signer.verify_join(token)
    assert claims.identity == "classroom:3" and claims.grants == grants and claims.meta == {"x": 1}
    assert claims.expires_at - time.time() <= JOIN_TTL_MAX + 1
    assert jwt.get_unverified_header(token)["kid"] == "k1"
    assert claims.grants.may_publish("camera") and not claims.grants.may_publish("screen")


def test_rotation_and_rejections() -> None:
    old = TokenSigner({"k1": b"a" * 32})
    rotated = TokenSigner({"k1": b"a" * 32, "k2": b"b" * 32})
    token = old.issue_join("u", "u", "viewer", Grants(room="r", room_join=True))
    assert rotated.verify_join(token).identity == "u"  # old tokens still verify during rotation
    new = rotated.issue_join("u", "u", "viewer", Grants(room="r", room_join=True))
    assert jwt.get_unverified_header(new)["kid"] == "k2"
    with pytest.raises(TokenError) as e:
        old.verify_join(new)
    assert e.value.code == "token_invalid"
    with pytest.raises(TokenError) as e:
        rotated.verify_join(rotated.issue_session(1, 60, "s1"))  # a session token is not a join token
    assert e.value.code == "token_invalid"


def test_grants_per_role() -> None:
    g = {r: grants_for(r, RoomKind.DELIVERY, "r") for r in Role}
    assert g[Role.HUB_TEACHER].room_admin and g[Role.HUB_TEACHER].may_publish("screen")
    assert g[Role.CLASSROOM].may_publish("camera") and not g[Role.CLASSROOM].room_admin
    assert g[Role.OBSERVER].hidden and not g[Role.OBSERVER].can_publish
    assert g[Role.RECORDER].room_record and not g[Role.RECORDER].hidden and not g[Role.RECORDER].can_subscribe
    assert not grants_for(Role.CLASSROOM, RoomKind.BROADCAST, "r").can_publish
