"""Guessing limits for passwords and classroom join codes, decided before any await.

An attempt is counted the moment it arrives (as a failure in flight) and refunded only when it succeeds,
so a burst of concurrent requests cannot slip past the limit while earlier ones await the database or
the password hash. Limits lock the guesser, not the account: the key is the address with the account.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web


@dataclass(slots=True)
class _Pair:
    fails: int = 0
    inflight: int = 0
    blocked_until: float = 0.0
    last: float = 0.0


@dataclass(slots=True)
class Refusal:
    code: str
    message: str
    retry_after: float


@dataclass(slots=True)
class LoginAttempt:
    address: str
    account: str


@dataclass
class LoginLimiter:
    """Per address+account: `free` failures, then exponential back-off (one try at a time); per address:
    `per_address` failures a minute over all accounts (name spraying); per account: at most
    `account_inflight` verifications at once from everywhere (a distributed burst costs little CPU)."""

    free: int = 5
    backoff: float = 1.0
    backoff_max: float = 900.0
    forget_after: float = 3600.0
    per_address: int = 20
    account_inflight: int = 5
    _pairs: dict[tuple[str, str], _Pair] = field(default_factory=dict)
    _addresses: dict[str, deque[float]] = field(default_factory=dict)
    _accounts: dict[str, int] = field(default_factory=dict)

    def begin(self, address: str, account: str) -> LoginAttempt | Refusal:
        now = time.monotonic()
        self._prune(now)
        pair = self._pairs.setdefault((address, account), _Pair())
        if now - pair.last > self.forget_after and pair.inflight == 0:
            pair.fails, pair.blocked_until = 0, 0.0
        if now < pair.blocked_until or pair.fails + pair.inflight >= self.free and (
            pair.fails < self.free or pair.inflight > 0
        ):
            wait = max(pair.blocked_until - now, 1.0)
            return Refusal("too_many_attempts", "too many failed logins; wait and try again", wait)
        recent = self._addresses.setdefault(address, deque())
        while recent and now - recent[0] > 60.0:
            recent.popleft()
        if len(recent) >= self.per_address:
            return Refusal("too_many_attempts", "too many failed logins from this address; wait a minute",
                           60.0 - (now - recent[0]))
        if self._accounts.get(account, 0) >= self.account_inflight:
            return Refusal("too_many_attempts", "this account is being tried too often; try again", 1.0)
        pair.inflight += 1
        pair.last = now
        recent.append(now)  # counted now, refunded on success
        self._accounts[account] = self._accounts.get(account, 0) + 1
        return LoginAttempt(address, account)

    def end(self, attempt: LoginAttempt, ok: bool) -> None:
        now = time.monotonic()
        n = self._accounts.get(attempt.account, 1) - 1
        if n <= 0:
            self._accounts.pop(attempt.account, None)
        else:
            self._accounts[attempt.account] = n
        pair = self._pairs.get((attempt.address, attempt.account))
        if pair is None:
            return
        pair.inflight = max(0, pair.inflight - 1)
        if ok:
            self._pairs.pop((attempt.address, attempt.account), None)
            recent = self._addresses.get(attempt.address)
            if recent:
                recent.pop()
            return
        pair.fails += 1
        pair.last = now
        if pair.fails >= self.free:
            pair.blocked_until = now + min(self.backoff_max, self.backoff * 2 ** (pair.fails - self.free))

    def _prune(self, now: float) -> None:
        """Keys are chosen by strangers: forget idle ones before the maps grow without bound."""
        if len(self._pairs) > 50_000:
            for key in [k for k, p in self._pairs.items() if p.inflight == 0 and now - p.last > 60.0]:
                del self._pairs[key]
        if len(self._addresses) > 50_000:
            for key in [k for k, q in self._addresses.items() if not q or now - q[-1] > 60.0]:
                del self._addresses[key]


@dataclass
class CodeLimiter:
    """Join-code guesses per address: `limit` a minute, counted on arrival and refunded on success. A code
    that already worked from this address (the classroom's own PC) still works while the address is blocked
    by someone else's guesses (a shared school NAT)."""

    limit: int = 10
    window: float = 60.0
    _fails: dict[str, deque[float]] = field(default_factory=dict)
    _known: dict[tuple[str, str], float] = field(default_factory=dict)

    def begin(self, address: str, code: str) -> bool:
        now = time.monotonic()
        if (address, code) in self._known:
            return True
        q = self._fails.setdefault(address, deque())
        while q and now - q[0] > self.window:
            q.popleft()
        if len(q) >= self.limit:
            return False
        q.append(now)
        if len(self._fails) > 50_000:
            for key in [k for k, v in self._fails.items() if not v or now - v[-1] > self.window]:
                del self._fails[key]
        return True

    def succeeded(self, address: str, code: str) -> None:
        if (address, code) not in self._known:
            q = self._fails.get(address)
            if q:
                q.pop()
        self._known[(address, code)] = time.monotonic()
        if len(self._known) > 20_000:
            self._known.pop(next(iter(self._known)))


class SeenOnce:
    """Remembers keys for an hour, so playback (a request per range of a track) is audited once per viewing."""

    def __init__(self, ttl: float = 3600.0) -> None:
        self._ttl = ttl
        self._seen: dict[str, float] = {}

    def first(self, key: str) -> bool:
        now = time.monotonic()
        if len(self._seen) > 10_000:
            self._seen = {k: t for k, t in self._seen.items() if now - t < self._ttl}
        if now - self._seen.get(key, -self._ttl) < self._ttl:
            return False
        self._seen[key] = now
        return True


class AttemptLimiter:
    """The older check-then-record limiter, kept for callers not yet moved: it counts a failure only after
    the caller's awaits, so a concurrent burst passes it. New code uses `CodeLimiter` (counts on arrival)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._fails: dict[str, deque[float]] = {}

    def blocked(self, key: str) -> bool:
        q = self._fails.get(key)
        now = time.monotonic()
        while q and now - q[0] > self.window:
            q.popleft()
        return bool(q) and len(q) >= self.limit

    def fail(self, key: str) -> None:
        self._fails.setdefault(key, deque()).append(time.monotonic())

    def clear(self, key: str) -> None:
        self._fails.pop(key, None)


LOGIN_LIMIT = web.AppKey("login_limit", LoginLimiter)
CODE_LIMIT = web.AppKey("code_limit", CodeLimiter)
