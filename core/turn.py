"""TURN for schools whose firewall blocks UDP: the `iceServers` a client gets with each join.

aiortc has no ICE-TCP, so a classroom that can only open TCP (or only TLS on 443) reaches the SFU through a
TURN server (coturn) that relays its media over TCP/TLS and speaks UDP to the SFU. Credentials follow the
TURN REST API convention coturn implements with `use-auth-secret`: username `<expiry>:<identity>`, password
base64(HMAC-SHA1(secret, username)). They expire on their own, so no list of users is kept anywhere, and a
leaked one is worth a few hours. The shared secret is created in the data dir on first start (0600, like the
signing key) and given to coturn as `static-auth-secret`; it is never in the repository.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from core.errors import SankeError

SECRET_FILE = "turn.secret"
DEFAULT_TTL = 4 * 3600  # a school day's lessons on one join; coturn checks the expiry on every refresh


class TurnError(SankeError):
    def __init__(self, message: str, field: str = "turn_url") -> None:
        super().__init__("bad_turn_url", message, field)


def check_turn_url(url: str) -> str:
    """`turn:host[:port][?transport=udp|tcp]` or `turns:host[:port][?transport=tcp]` (RFC 7065)."""
    scheme, sep, rest = url.partition(":")
    host, _, query = rest.partition("?")
    if not sep or scheme not in ("turn", "turns") or not host or host.startswith("//"):
        raise TurnError(f"{url!r}: expected turn:host[:port][?transport=udp|tcp] or turns:host[:port]")
    params = parse_qs(query) if query else {}
    if set(params) - {"transport"}:
        raise TurnError(f"{url!r}: only ?transport= is allowed")
    transport = params.get("transport", ["udp" if scheme == "turn" else "tcp"])[-1]
    if transport not in ("udp", "tcp") or (scheme == "turns" and transport == "udp"):
        raise TurnError(f"{url!r}: transport must be udp or tcp (turns: is always tcp)")
    if host.startswith("["):  # [IPv6]:port
        _, _, after = host[1:].partition("]")
        port = after[1:] if after.startswith(":") else ""
    else:
        _, _, port = host.partition(":")
    if port and (not port.isdigit() or not 0 < int(port) < 65536):
        raise TurnError(f"{url!r}: bad port {port!r}")
    return url


def load_secret(data_dir: Path) -> str:
    """The shared secret coturn is started with; created on first use, never in the repository."""
    path = Path(data_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
    secret = path.read_text().strip()
    if not secret:
        raise TurnError(f"{path} is empty", "turn_secret")
    return secret


@dataclass(frozen=True, slots=True)
class TurnCredentials:
    urls: tuple[str, ...]
    secret: str
    ttl: int = DEFAULT_TTL

    def credential(self, username: str) -> str:
        digest = hmac.new(self.secret.encode(), username.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    def ice_servers(self, identity: str, now: float | None = None) -> list[dict[str, Any]]:
        """The RTCConfiguration.iceServers for one join: every configured URL, one expiring credential."""
        if not self.urls:
            return []
        expiry = int(now if now is not None else time.time()) + self.ttl
        username = f"{expiry}:{identity.replace(':', '_')}"
        return [{"urls": list(self.urls), "username": username, "credential": self.credential(username)}]


def turn_from_settings(urls: list[str] | tuple[str, ...], data_dir: Path, ttl: int = DEFAULT_TTL) -> TurnCredentials | None:
    if not urls:
        return None
    return TurnCredentials(tuple(check_turn_url(u) for u in urls), load_secret(data_dir), ttl)
