"""Join and session tokens: short-lived HS256 JWTs that carry grants (as LiveKit's video grant)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import jwt

from core import hs256
from core.errors import SankeError

Source = Literal["camera", "microphone", "screen"]
SOURCES = ("camera", "microphone", "screen")
JOIN_TTL_MAX = 600
MAX_IDENTITY_CHARS = 120


class TokenError(SankeError):
    """A token that is malformed, expired or signed with an unknown key."""


@dataclass(slots=True, frozen=True)
class Grants:
    room: str = ""
    room_join: bool = False
    can_publish: bool = False
    can_publish_sources: tuple[Source, ...] = ()
    can_subscribe: bool = False
    room_admin: bool = False
    room_record: bool = False
    hidden: bool = False

    def may_publish(self, source: str) -> bool:
        return self.can_publish and source in self.can_publish_sources

    def to_claim(self) -> dict[str, Any]:
        d = asdict(self)
        d["can_publish_sources"] = list(self.can_publish_sources)
        return d

    @classmethod
    def from_claim(cls, d: dict[str, Any]) -> Grants:
        """Strict: a claim of the wrong shape is refused (TokenError), never coerced into a grant."""
        sources = d.get("can_publish_sources") or [] if isinstance(d, dict) else None
        if not isinstance(sources, list) or not isinstance(d.get("room", ""), str):
            raise TokenError("token_invalid", "token grants are malformed")
        if any(s not in SOURCES for s in sources):
            raise TokenError("token_invalid", "token grants name an unknown media source")
        flags = ("room_join", "can_publish", "can_subscribe", "room_admin", "room_record", "hidden")
        if any(not isinstance(d.get(f, False), bool) for f in flags):
            raise TokenError("token_invalid", "token grants are malformed")
        return cls(
            room=str(d.get("room", "")),
            room_join=bool(d.get("room_join")),
            can_publish=bool(d.get("can_publish")),
            can_publish_sources=tuple(sources),
            can_subscribe=bool(d.get("can_subscribe")),
            room_admin=bool(d.get("room_admin")),
            room_record=bool(d.get("room_record")),
            hidden=bool(d.get("hidden")),
        )


@dataclass(slots=True, frozen=True)
class Claims:
    identity: str
    name: str
    role: str
    grants: Grants
    expires_at: float
    meta: dict[str, Any] = field(default_factory=dict)


class TokenSigner:
    """Signs with the newest key and verifies with any listed key (`kid` header), so keys can rotate."""

    def __init__(self, keys: dict[str, bytes], issuer: str = "sanke") -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._keys = dict(keys)
        self._kid = list(keys)[-1]
        self._issuer = issuer
        self._revoked: dict[str, float] = {}  # identity → join tokens issued at or before this time are refused

    def revoke_identity(self, identity: str, at: float | None = None) -> None:
        """Refuse every join token already issued to `identity` (a deactivated user)."""
        self._revoked[identity] = time.time() if at is None else at

    def issue_join(
        self,
        identity: str,
        name: str,
        role: str,
        grants: Grants,
        ttl: int = JOIN_TTL_MAX,
        meta: dict[str, Any] | None = None,
    ) -> str:
        ttl = min(ttl, JOIN_TTL_MAX)
        now = int(time.time())
        payload = {
            "iss": self._issuer,
            "aud": "join",
            "sub": identity,
            "name": name,
            "role": role,
            "video": grants.to_claim(),
            "meta": meta or {},
            "iat": now,
            "nbf": now - 5,
            "exp": now + ttl,
        }
        return jwt.encode(payload, self._keys[self._kid], algorithm="HS256", headers={"kid": self._kid})

    def verify_join(self, token: str) -> Claims:
        p = self._decode(token, "join")
        sub, video, meta = p["sub"], p.get("video") or {}, p.get("meta") or {}
        if not isinstance(sub, str) or not 0 < len(sub) <= MAX_IDENTITY_CHARS:
            raise TokenError("token_invalid", f"token subject must be 1–{MAX_IDENTITY_CHARS} characters")
        if not isinstance(video, dict) or not isinstance(meta, dict) or not isinstance(p.get("role", ""), str):
            raise TokenError("token_invalid", "token claims are malformed")
        if float(p["exp"]) - float(p["iat"]) > JOIN_TTL_MAX:
            raise TokenError("token_invalid", f"a join token may live at most {JOIN_TTL_MAX} s")
        revoked = self._revoked.get(str(p["sub"]))
        if revoked is not None and float(p["iat"]) <= revoked:
            raise TokenError("token_revoked", "this account was deactivated")
        return Claims(
            identity=sub,
            name=str(p.get("name", ""))[:200],
            role=str(p.get("role", "")),
            grants=Grants.from_claim(video),
            expires_at=float(p["exp"]),
            meta=dict(meta),
        )

    def issue_session(self, user_id: int, ttl: int, session_id: str) -> str:
        """A session token names its server-side row (`sid`), which logout and deactivation revoke."""
        now = int(time.time())
        payload = {"iss": self._issuer, "aud": "session", "sub": str(user_id), "sid": session_id, "iat": now,
                   "exp": now + ttl}
        return jwt.encode(payload, self._keys[self._kid], algorithm="HS256", headers={"kid": self._kid})

    def verify_session(self, token: str) -> tuple[int, str]:
        """(user id, session id); the caller still checks the session row is live."""
        p = self._decode(token, "session")
        sid = p.get("sid")
        if not isinstance(sid, str) or not sid:
            raise TokenError("token_invalid", "session token without a session id")
        return int(p["sub"]), sid

    def _decode(self, token: str, audience: str) -> dict[str, Any]:
        """Verified once, without PyJWT's per-character checks (core/hs256.py says why)."""
        try:
            return hs256.verify(
                token, lambda head: self._keys.get(head.get("kid") or ""), audience, self._issuer,
                required=("exp", "sub", "iat"),
            )
        except hs256.ExpiredToken as e:
            raise TokenError("token_expired", "token has expired") from e
        except hs256.InvalidToken as e:
            raise TokenError("token_invalid", f"token rejected: {e}") from e
