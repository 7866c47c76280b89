"""A participant's outgoing frames: one bounded queue and one writer task per connection.

Everything a participant is sent (replies, room events, subscriber offers) goes through here, in order.
Putting never waits, so the room's fan-out and the SFU never block on one slow reader; a reader that
falls behind by more than `max_bytes`, or whose oldest frame waits longer than `max_seconds`, is dropped
(`on_slow`) instead of growing the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MAX_OUTBOX_BYTES = 1024 * 1024
MAX_OUTBOX_SECONDS = 10.0

SendRaw = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


@dataclass(slots=True, frozen=True)
class _CloseFrame:
    code: int
    reason: str


class SendQueue:
    def __init__(
        self, send_raw: SendRaw, close: Close, on_slow: Callable[[], None],
        max_bytes: int = MAX_OUTBOX_BYTES, max_seconds: float = MAX_OUTBOX_SECONDS,
    ) -> None:
        self._send_raw = send_raw
        self._close = close
        self._on_slow = on_slow
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._queue: deque[tuple[str | _CloseFrame, float]] = deque()
        self.queued_bytes = 0
        self.peak_bytes = 0
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self.closing = False  # a close is queued or done: nothing more is accepted
        self.slow = False

    def put(self, text: str) -> None:
        if self.closing:
            return
        now = time.monotonic()
        if self._queue and now - self._queue[0][1] > self.max_seconds or self.queued_bytes > self.max_bytes:
            self._drop()
            return
        self._queue.append((text, now))
        self.queued_bytes += len(text)
        self.peak_bytes = max(self.peak_bytes, self.queued_bytes)
        self._kick()

    def close(self, code: int, reason: str) -> None:
        """Close after what is already queued has been sent."""
        if not self.closing:
            self.closing = True
            self._queue.append((_CloseFrame(code, reason), time.monotonic()))
            self._kick()

    def _kick(self) -> None:
        self._wake.set()
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="outbox-writer")

    def _drop(self) -> None:
        self.closing = self.slow = True
        self._queue.clear()
        self.queued_bytes = 0
        self._on_slow()

    async def _write(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            item, _ = self._queue.popleft()
            if isinstance(item, _CloseFrame):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self._close(item.code, item.reason)
                return
            self.queued_bytes -= len(item)
            try:
                # A send blocks only while the socket's buffers are full: the reader is not reading.
                async with asyncio.timeout(self.max_seconds):  # a timer, not wait_for's extra task per frame
                    await self._send_raw(item)
            except TimeoutError:
                self._drop()
                return
            except (ConnectionError, RuntimeError):
                self.closing = True
                self._queue.clear()
                return

    async def stop(self) -> None:
        """The transport is gone: stop writing."""
        self.closing = True
        self._queue.clear()
        self.queued_bytes = 0
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        self._writer = None
