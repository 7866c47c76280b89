"""Keyframe requests toward a publisher: coalesced and throttled per track.

Every new subscriber, quality switch, recorder attach and subscriber PLI/FIR ends up here. The publisher
gets at most one PLI per `interval` (mediasoup and LiveKit do the same, 500 ms–1 s); a request that comes
inside the window is folded into one PLI at the window's end; if no keyframe arrives within `retry`
after a PLI, the PLI is sent again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

THROTTLE_S = 0.5
RETRY_S = 1.0


class KeyframeRequester:
    def __init__(
        self,
        send_pli: Callable[[], bool],
        interval: float = THROTTLE_S,
        retry: float = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send_pli = send_pli
        self._interval = interval
        self._retry = retry
        self._clock = clock
        self._last_sent = -1e9
        self._pending = False  # a keyframe is wanted and has not arrived yet
        self._timer: asyncio.TimerHandle | None = None
        self.requests = 0
        self.plis_sent = 0
        self.keyframes = 0
        self._closed = False

    def request(self) -> None:
        """Someone needs a keyframe soon."""
        self.requests += 1
        if self._closed:
            return
        self._pending = True
        if self._timer is not None:
            return  # a PLI (or its retry) is already scheduled: coalesce
        wait = self._last_sent + self._interval - self._clock()
        if wait <= 0:
            self._fire()
        else:
            self._arm(wait)

    def on_keyframe(self) -> None:
        """A keyframe arrived from the publisher: nothing is pending any more."""
        self.keyframes += 1
        self._pending = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._pending and not self._closed:
            self._fire()

    def _fire(self) -> None:
        if self._send_pli():
            self.plis_sent += 1
            self._last_sent = self._clock()
            self._arm(self._retry)
        else:
            # the publisher's transport is not up yet: try again shortly
            self._arm(0.05)
