"""Rate limits on valid messages: a token bucket per connection and one per chatty message type.

A valid message can still be abuse when it comes a hundred times a second (a stuck hand button, a script
toggling quality): each costs a room event, a plan computation or a recording marker for everyone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens added per second
    burst: float  # bucket size
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


# type → (rate per second, burst). A teacher's layout switch may change quality for every thumbnail at
# once, hence the larger burst there; hands go up and down a few times, not dozens.
PER_TYPE: dict[str, tuple[float, float]] = {
    "hand.raise": (1.0, 4.0),
    "hand.lower": (1.0, 4.0),
    "subscription.quality": (20.0, 120.0),
    "ping": (5.0, 20.0),
    "mute.request": (2.0, 10.0),
    "stage.invite": (2.0, 10.0),
    "stage.leave": (2.0, 10.0),
    "chat.send": (1.0, 5.0),  # a classroom typing, not a script
    "chat.delete": (2.0, 10.0),
    "quiz.push": (1.0, 3.0),
    "quiz.answer": (2.0, 6.0),
    "checkin.headcount": (1.0, 3.0),
    "lesson.state": (2.0, 10.0),
}
PER_CONNECTION = (50.0, 200.0)


class MessageLimiter:
    """One connection's buckets; `admit(type)` says whether this message may be handled now."""

    def __init__(self, per_type: dict[str, tuple[float, float]] | None = None,
                 per_connection: tuple[float, float] = PER_CONNECTION) -> None:
        self._limits = PER_TYPE if per_type is None else per_type
        self._all = TokenBucket(*per_connection)
        self._buckets: dict[str, TokenBucket] = {}

    def admit(self, kind: str) -> bool:
        now = time.monotonic()
        limit = self._limits.get(kind)
        if limit is not None:
            bucket = self._buckets.get(kind)
            if bucket is None:
                bucket = self._buckets[kind] = TokenBucket(*limit, stamp=now)
            if not bucket.take(now):
                return False
        return self._all.take(now)
