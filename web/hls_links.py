"""Signed HLS links: a playlist URL per viewer, segment URLs per room, so an HTTP cache can share segments.

The playlist URL carries the viewer, an expiry and an HMAC over room + viewer + expiry (query string):
the node counts who is watching and refuses a forged or expired link. The playlist then lists segments
under a *room* token in the path (`/hls/<room>/<bucket>.<sig>/seg-….m4s`), an HMAC over room + bucket,
where the bucket is an expiry rounded up to the hour. Every viewer in the same hour gets the same segment
URLs, so nginx's `proxy_cache` (keyed on the path) fetches each segment from the node once per school.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

VIEWER_TTL_S = 4 * 3600  # a lesson and some
BUCKET_S = 3600
TOKEN_RE = re.compile(r"^(\d{9,11})\.([A-Za-z0-9_-]{22})$")
VIEWER_RE = re.compile(r"^[A-Za-z0-9:_.@-]{1,80}$")


def _sig(key: bytes, *parts: str) -> str:
    mac = hmac.new(key, "|".join(parts).encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class HlsLinks:
    key: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> HlsLinks:
        """A key of its own, derived from the node's secret (a leaked HLS link signs nothing else)."""
        return cls(hmac.new(secret, b"sanke-hls-v1", hashlib.sha256).digest())

    def viewer_query(self, room: str, viewer: str, now: float | None = None, ttl: int = VIEWER_TTL_S) -> dict[str, str]:
        exp = int((now or time.time()) + ttl)
        return {"v": viewer, "e": str(exp), "s": _sig(self.key, "p", room, viewer, str(exp))}

    def check_viewer(self, room: str, viewer: str, exp: str, sig: str, now: float | None = None) -> bool:
        if not VIEWER_RE.match(viewer) or not exp.isdigit() or len(exp) > 11:
            return False
        if int(exp) < (now or time.time()):
            return False
        return hmac.compare_digest(sig, _sig(self.key, "p", room, viewer, exp))

    def room_token(self, room: str, now: float | None = None) -> str:
        """Valid for one to two hours; the same for every viewer asking within the same hour."""
        bucket = (int(now or time.time()) // BUCKET_S + 2) * BUCKET_S
        return f"{bucket}.{_sig(self.key, 's', room, str(bucket))}"

    def check_room_token(self, room: str, token: str, now: float | None = None) -> bool:
        m = TOKEN_RE.match(token)
        if m is None or int(m.group(1)) < (now or time.time()):
            return False
        return hmac.compare_digest(m.group(2), _sig(self.key, "s", room, m.group(1)))
