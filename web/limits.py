"""Failed-attempt limits for guessable secrets (passwords, classroom join codes), per app."""

from __future__ import annotations

import time
from collections import defaultdict, deque

from aiohttp import web


class AttemptLimiter:
    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._fails: dict[str, deque[float]] = defaultdict(deque)

    def blocked(self, key: str) -> bool:
        q = self._fails.get(key)
        if not q:
            return False
        now = time.monotonic()
        while q and now - q[0] > self.window:
            q.popleft()
        return len(q) >= self.limit

    def fail(self, key: str) -> None:
        self._fails[key].append(time.monotonic())

    def clear(self, key: str) -> None:
        self._fails.pop(key, None)


LOGIN_LIMIT = web.AppKey("login_limit", AttemptLimiter)
CODE_LIMIT = web.AppKey("code_limit", AttemptLimiter)
