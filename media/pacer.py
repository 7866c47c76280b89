"""What goes onto one subscriber's line, and in which order: a per-connection pacer with priority.

A line slower than what the SFU forwards queues it in the network (a DSL modem's drop-tail buffer), and
when that queue is full it drops whatever comes next: audio as readily as video. LiveKit's leaky bucket
and libwebrtc's PacingController keep that queue in the SFU instead, where it can choose. This one is
cut down to what Python can afford on every forwarded packet:

- While the line's capacity is unknown (`rate` None: no loss seen yet) it is not there at all: its
  consumers send straight to the line (`attach`), and only their own counters count.
- With a `rate`, a token bucket `burst_s` deep: a packet that fits leaves at once (no queue, no timer);
  video that does not fit waits in one FIFO drained by one timer, so a keyframe burst is spread at the
  rate. The line was busy all the while the FIFO waited, so a timer that fires late (a loaded loop) is
  credited the time it was late, up to `CATCH_UP_S`: capped at `burst_s`, a worker whose loop ran 40 ms
  behind drained at half its rate, dropped the video of a line that carried it, and the receivers' loss
  reports paused it (the 1+20 lesson bench's 0 fps classrooms). Audio never waits: it leaves at once and
  the video behind it owes its bytes.
- The FIFO holds at most `queue_s` at the rate; beyond, the oldest video is dropped here, up to the end
  of a frame, and its consumer asks for a keyframe (video, never audio, pays for a line that is short).
  Each drop is remembered by SSRC and sequence number (`dropped_in`): the receiver counts it as lost, and
  media.feedback must not read the SFU's own drops as a lossy line.
- During a probe (`start_padding`) padding-only RTP packets fill the line up to the probe's rate while
  no media waits, so the estimate can rise without risking the media (media.probe decides the rate).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pylibsrtp

from media.aiortc_seams import PacketSender
from media.rtp import restamp_abs_send_time, take_in_span

logger = logging.getLogger(__name__)
PAD_TICK_S = 0.01  # padding is topped up this often during a probe
MIN_WAIT_S = 0.002  # the drain timer never fires sooner than this (one wake-up sends a few packets)
CATCH_UP_S = 0.1  # a drain that wakes late sends what the line carried meanwhile, up to this much of it
DROPS_KEPT = 4096  # sequence numbers of drops remembered per SSRC until a receiver report covers them


class Paced(Protocol):
    """A consumer, as the pacer sees it: what it sends with (the line itself while nothing is paced: no cost
    per packet), the RTP timestamp of its newest keyframe (never dropped here: a layer switch waits for it),
    and told when its queued video was dropped."""

    keyframe_ts: int

    @property
    def kind(self) -> str: ...

    def use_sender(self, send: PacketSender) -> None: ...

    def on_paced_drop(self, seq: int) -> None: ...


class Padder(Protocol):
    """Builds padding-only packets (a video consumer's RTX stream)."""

    def padding_packet(self) -> tuple[bytes, bytes, bytes] | None: ...


@dataclass(slots=True)
class PacerCounters:
    queued: int = 0  # video packets that had to wait
    dropped: int = 0  # video packets dropped from the queue (or flushed at a layer switch)
    padding_packets: int = 0
    padding_bytes: int = 0
    bytes: int = 0  # everything sent on the line (media, retransmissions, padding)


def _not_started(header: bytes, ext: bytes, payload: bytes) -> int:
    raise RuntimeError("pacer used before its connection started")


_Item = tuple[bytes, bytes, bytes, "Paced | None"]


class Pacer:
    """One subscriber connection's pacer (see the module docstring)."""

    __slots__ = (
        "rate", "burst_s", "queue_s", "counters", "_send", "_tokens", "_at", "_queue", "_queued_bytes",
        "_timer", "_pad_rate", "_pad_timer", "_padder", "_pad_at", "_pad_sent", "closed", "_owners", "_drops",
    )

    def __init__(self, burst_s: float = 0.02, queue_s: float = 0.5) -> None:
        self.rate: float | None = None  # bits/s; None: pass-through
        self.burst_s = burst_s
        self.queue_s = queue_s
        self.counters = PacerCounters()
        self._send: PacketSender = _not_started
        self._tokens = 0.0  # bytes
        self._at = 0.0
        self._queue: deque[_Item] = deque()
        self._queued_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._pad_rate: Callable[[float], float] | None = None
        self._pad_timer: asyncio.TimerHandle | None = None
        self._padder: Padder | None = None
        self._pad_at = 0.0
        self._pad_sent = 0.0
        self.closed = False
        self._owners: list[Paced] = []
        self._drops: dict[int, deque[int]] = {}  # SSRC → sequence numbers dropped here, oldest first

    def start(self, send: PacketSender) -> None:
        """The connection is up: `send(header, ext, payload)` protects and sends one packet."""
        self._send = send
        self._point()

    def attach(self, owner: Paced) -> None:
        """A consumer of this connection sends through the pacer from now on (while it paces)."""
        if owner not in self._owners:
            self._owners.append(owner)
        self._point(owner)

    def detach(self, owner: Paced) -> None:
        if owner in self._owners:
            self._owners.remove(owner)

    def _point(self, only: Paced | None = None) -> None:
        """Give each consumer what it sends with: the line while nothing is paced, else the pacer."""
        for owner in [only] if only is not None else self._owners:
            if self.rate is None:
                owner.use_sender(self._send)
            else:
                owner.use_sender(self.audio if owner.kind == "audio" else self.video)

    @property
    def started(self) -> bool:
        return self._send is not _not_started

    @property
    def backlog(self) -> int:
        """Bytes of video waiting."""
        return self._queued_bytes

    def set_rate(self, rate: float | None) -> None:
        """Pace at `rate` bits/s from now on (None: pass-through, and whatever waits leaves now)."""
        was, self.rate = self.rate, rate
        if rate is None:
            self._flush_all()
        else:
            self._at = time.monotonic()
            self._tokens = min(self._tokens, rate / 8 * self.burst_s)
            self._trim()
            self._arm()
        if (was is None) != (rate is None):
            self._point()

    # -- hot path -------------------------------------------------------------------------------------

    def audio(self, header: bytes, ext: bytes, payload: bytes, owner: Paced | None = None) -> int:
        """Audio leaves at once; while pacing, the video behind it owes its bytes (`owner` is unused:
        the same signature as `video`)."""
        n = self._send(header, ext, payload)
        self.counters.bytes += n
        if self.rate is not None:
            self._tokens -= n
        return n

    def video(self, header: bytes, ext: bytes, payload: bytes, owner: Paced | None) -> int:
        """Video (or a retransmission, `owner` None) leaves at once if it fits, else waits its turn."""
        rate = self.rate
        if rate is None:
            n = self._send(header, ext, payload)
            self.counters.bytes += n
            return n
        queue = self._queue
        if not queue:
            tokens = self._refill(rate)
            if tokens > 0:
                n = self._send(header, ext, payload)
                self.counters.bytes += n
                self._tokens = tokens - n
                return n
        size = len(header) + len(ext) + len(payload)
        queue.append((header, ext, payload, owner))
        self._queued_bytes += size
        self.counters.queued += 1
        if self._queued_bytes > rate / 8 * self.queue_s:
            self._trim()
        self._arm()
        return size

    # -- the queue ------------------------------------------------------------------------------------

    def _refill(self, rate: float, waiting: bool = False) -> float:
        """The bucket's bytes now; `waiting`: the FIFO has waited since the last refill, so the line was busy
        and the whole time since counts (up to `CATCH_UP_S`), not only a burst's worth."""
        now = time.monotonic()
        pad = self._pad_rate
        if pad is not None:
            rate = max(rate, pad(now))
        elapsed = now - self._at
        depth = max(self.burst_s, min(elapsed, CATCH_UP_S)) if waiting else self.burst_s
        tokens = min(self._tokens + elapsed * rate / 8, rate / 8 * depth)
        self._at = now
        self._tokens = tokens
        return tokens

    def _arm(self) -> None:
        if self._timer is not None or not self._queue or self.rate is None or self.closed:
            return
        rate = self.rate
        header, ext, payload, _ = self._queue[0]
        wait = (len(header) + len(ext) + len(payload) - self._tokens) / (rate / 8)
        self._timer = asyncio.get_running_loop().call_later(max(wait, MIN_WAIT_S), self._drain)

    def _drain(self) -> None:
        self._timer = None
        rate = self.rate
        if rate is None or self.closed:
            return
        tokens = self._refill(rate, waiting=True)
        queue = self._queue
        while queue and tokens > 0:
            header, ext, payload, _ = queue.popleft()
            self._queued_bytes -= len(header) + len(ext) + len(payload)
            tokens -= self._send_later(header, ext, payload)
        self._tokens = tokens
        self._arm()

    def _send_later(self, header: bytes, ext: bytes, payload: bytes) -> int:
        """A queued packet leaves: a failure now drops it, as the line would (nobody waits on it)."""
        if len(ext) == 8 and ext[4] & 0x0F == 2:  # a lone abs-send-time element (media.rtp builds no other)
            ext = restamp_abs_send_time(ext)
        try:
            n = self._send(header, ext, payload)
        except (pylibsrtp.Error, OSError) as e:
            logger.debug("paced packet dropped: %s", e)
            return len(payload)
        except Exception:  # the connection is gone: nothing more leaves
            self.close()
            return 0
        self.counters.bytes += n
        return n

    def _trim(self) -> None:
        """Drop the oldest video until the queue fits `queue_s`, ending on a frame's last packet. The frame
        still arriving (after the last frame end) is kept, as LiveKit does, and so is each consumer's newest
        keyframe: the drops around it need it, and a layer switch waits for it."""
        if self.rate is None:
            return
        limit = self.rate / 8 * self.queue_s
        queue = self._queue
        keep = next((i for i, item in enumerate(reversed(queue)) if item[0][1] & 0x80), 1)  # no frame end: the newest
        kept: list[_Item] = []
        frame_open = False
        while len(queue) > keep and (self._queued_bytes > limit or frame_open):
            item = queue.popleft()
            header, ext, payload, owner = item
            if owner is not None and owner.keyframe_ts == int.from_bytes(header[4:8]):
                kept.append(item)
                continue
            self._queued_bytes -= len(header) + len(ext) + len(payload)
            self.counters.dropped += 1
            self._remember(header)
            frame_open = not header[1] & 0x80  # the marker closes a video frame
            if owner is not None:
                owner.on_paced_drop((header[2] << 8) | header[3])
        queue.extendleft(reversed(kept))

    def flush(self, owner: Paced) -> int:
        """Drop what `owner` has waiting (its layer switch starts afresh on a keyframe); returns how many."""
        queue = self._queue
        if not queue:
            return 0
        kept: deque[_Item] = deque()
        dropped = 0
        for item in queue:
            if item[3] is owner:
                self._queued_bytes -= len(item[0]) + len(item[1]) + len(item[2])
                self._remember(item[0])
                dropped += 1
            else:
                kept.append(item)
        self._queue = kept
        self.counters.dropped += dropped
        return dropped

    def _remember(self, header: bytes) -> None:
        ssrc = int.from_bytes(header[8:12])
        drops = self._drops.get(ssrc)
        if drops is None:
            drops = self._drops[ssrc] = deque(maxlen=DROPS_KEPT)
        drops.append((header[2] << 8) | header[3])

    def dropped_in(self, ssrc: int, after: int, upto: int) -> int:
        """How many packets of `ssrc` with sequence numbers in (after, upto] (16-bit, wrapping) this pacer
        dropped; those are forgotten, with any older. A receiver report's loss between two of its highest
        sequence numbers includes them: lost by the SFU, not by the line."""
        drops = self._drops.get(ssrc)
        return take_in_span(drops, after, upto) if drops else 0

    def _flush_all(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        queue, self._queue = self._queue, deque()
        self._queued_bytes = 0
        for header, ext, payload, _ in queue:
            self._send_later(header, ext, payload)

    # -- padding (probes) -----------------------------------------------------------------------------

    def start_padding(self, rate: Callable[[float], float], padder: Padder) -> None:
        """Fill the line up to `rate(now)` bits/s with padding (media first) until `stop_padding`."""
        self.stop_padding()
        self._pad_rate = rate
        self._padder = padder
        self._pad_at = time.monotonic()
        self._pad_sent = self.counters.bytes
        self._pad_timer = asyncio.get_running_loop().call_later(PAD_TICK_S, self._pad)

    def stop_padding(self) -> None:
        if self._pad_timer is not None:
            self._pad_timer.cancel()
        self._pad_timer = None
        self._pad_rate = None
        self._padder = None

    @property
    def padding(self) -> bool:
        return self._pad_rate is not None

    def _pad(self) -> None:
        """Top the line up to the probe's rate for the time since the last tick (no catching up after a
        stall: a late tick must not turn into a burst)."""
        rate, padder = self._pad_rate, self._padder
        if rate is None or padder is None or self.closed:
            return
        now = time.monotonic()
        elapsed = min(now - self._pad_at, 3 * PAD_TICK_S)
        budget = rate(now) / 8 * elapsed - (self.counters.bytes - self._pad_sent)
        self._pad_at = now
        while budget > 0 and not self._queue:
            packet = padder.padding_packet()
            if packet is None:
                break
            n = self._send_later(*packet)
            if n <= 0:
                break
            budget -= n
            self.counters.padding_packets += 1
            self.counters.padding_bytes += n
            if self.rate is not None:
                self._tokens -= n
        self._pad_sent = self.counters.bytes
        self._pad_timer = asyncio.get_running_loop().call_later(PAD_TICK_S, self._pad)

    def close(self) -> None:
        self.closed = True
        self._owners.clear()
        self.stop_padding()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
        self._queued_bytes = 0
