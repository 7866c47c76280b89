"""core/hs256.py gives PyJWT's verdict on every token: valid ones, expired ones, and broken ones of
every kind (signature, algorithm, claims, base64, JSON, segments), and every one-character change."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from core import hs256
from core.tokens import TokenError, TokenSigner

KEY = b"k" * 32
ISS = "sanke"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _token(claims: dict[str, Any] | None = None, header: dict[str, Any] | None = None, key: bytes = KEY,
           **changes: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISS, "aud": "join", "sub": "viewer:1", "iat": now, "nbf": now - 5, "exp": now + 600}
    payload.update(claims or {})
    for k, v in changes.items():
        if v is None:
            payload.pop(k, None)
        else:
            payload[k] = v
    return jwt.encode(payload, key, algorithm="HS256", headers=header or {"kid": "a"})


def _raw(header: Any, payload: Any, key: bytes = KEY) -> str:
    h = _b64(json.dumps(header).encode())
    p = _b64(json.dumps(payload).encode())
    import hashlib
    import hmac

    sig = hmac.new(key, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{_b64(sig)}"


def _pyjwt(token: str) -> str:
    try:
        head = jwt.get_unverified_header(token)
        if head.get("kid") != "a":
            return "invalid"
        jwt.decode(token, KEY, algorithms=["HS256"], audience="join", issuer=ISS,
                   options={"require": ["exp", "sub", "iat"]})
    except jwt.ExpiredSignatureError:
        return "expired"
    except (jwt.PyJWTError, ValueError, TypeError):
        return "invalid"
    return "ok"


def _ours(token: str) -> str:
    try:
        hs256.verify(token, lambda h: KEY if h.get("kid") == "a" else None, "join", ISS,
                     required=("exp", "sub", "iat"))
    except hs256.ExpiredToken:
        return "expired"
    except hs256.InvalidToken:
        return "invalid"
    return "ok"


def _cases() -> list[tuple[str, str]]:
    now = int(time.time())
    good = _token()
    head, payload, sig = good.split(".")
    return [
        ("valid", good),
        ("expired", _token(exp=now - 1)),
        ("expires now", _token(exp=now - 0)),
        ("expired, wrong audience", _token(exp=now - 10, aud="session")),
        ("not before in the future", _token(nbf=now + 60)),
        ("issued in the future", _token(iat=now + 60)),
        ("wrong audience", _token(aud="session")),
        ("audience list", _token(aud=["x", "join"])),
        ("audience list without ours", _token(aud=["x"])),
        ("audience of the wrong type", _token(aud=7)),
        ("empty audience", _token(aud="")),
        ("no audience", _token(aud=None)),
        ("wrong issuer", _token(iss="other")),
        ("no issuer", _token(iss=None)),
        ("no exp", _token(exp=None)),
        ("no sub", _token(sub=None)),
        ("no iat", _token(iat=None)),
        ("null sub", _raw({"alg": "HS256", "kid": "a"}, {"iss": ISS, "aud": "join", "sub": None, "iat": now,
                                                          "exp": now + 60})),
        ("numeric sub", _token(sub=12)),
        ("jti not a string", _token(jti=5)),
        ("exp not a number", _token(exp="soon")),
        ("exp as a numeric string", _token(exp=str(now + 60))),
        ("iat as a float", _token(iat=now + 0.5)),
        ("other key", _token(key=b"z" * 32)),
        ("unknown kid", _token(header={"kid": "b"})),
        ("kid not a string", _raw({"alg": "HS256", "kid": 1}, {"iss": ISS, "aud": "join", "sub": "s",
                                                                "iat": now, "exp": now + 60})),
        ("alg none", f"{_b64(json.dumps({'alg': 'none', 'kid': 'a'}).encode())}.{payload}."),
        ("alg HS512 header, HS256 signature", _raw({"alg": "HS512", "kid": "a"}, {"iss": ISS, "aud": "join",
                                                   "sub": "s", "iat": now, "exp": now + 60})),
        ("crit header", _raw({"alg": "HS256", "kid": "a", "crit": ["x"]}, {"iss": ISS, "aud": "join",
                                                                            "sub": "s", "iat": now, "exp": now + 60})),
        ("payload a list", _raw({"alg": "HS256", "kid": "a"}, ["x"])),
        ("header a list", _raw(["x"], {"iss": ISS})),
        ("two segments", f"{head}.{payload}"),
        ("four segments", f"{good}.x"),
        ("empty", ""),
        ("padded payload", f"{head}.{payload}{'=' * (-len(payload) % 4)}.{sig}"),
        ("padded signature", f"{head}.{payload}.{sig}{'=' * (-len(sig) % 4)}"),
        ("wrongly padded signature", f"{head}.{payload}.{sig}==="),
        ("standard base64 alphabet", good.replace("-", "+").replace("_", "/")),
        ("payload not JSON", f"{head}.{_b64(b'not json')}.{sig}"),
        ("truncated signature", good[:-2]),
        ("signature of another token", f"{head}.{_token(sub='viewer:2').split('.')[1]}.{sig}"),
    ]


@pytest.mark.parametrize(("name", "token"), _cases(), ids=[c[0] for c in _cases()])
def test_same_verdict_as_pyjwt(name: str, token: str) -> None:
    assert _ours(token) == _pyjwt(token)


def test_every_one_character_change_is_refused_as_pyjwt_refuses_it() -> None:
    good = _token()
    alphabet = "Aa0_-=+/.!é"
    verdicts = 0
    for i in range(len(good)):
        for c in alphabet:
            if c == good[i]:
                continue
            broken = good[:i] + c + good[i + 1:]
            assert _ours(broken) == _pyjwt(broken), (i, c)
            verdicts += 1
    assert verdicts > 2000


def test_signer_codes() -> None:
    signer = TokenSigner({"a": KEY})
    with pytest.raises(TokenError) as e:
        signer.verify_join(_token(exp=int(time.time()) - 1, iss="sanke"))
    assert e.value.code == "token_expired"
    with pytest.raises(TokenError) as e:
        signer.verify_join(_token(aud="session"))
    assert e.value.code == "token_invalid"
