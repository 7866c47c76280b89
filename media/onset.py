"""The first sign that a subscriber's line got slower, before it loses anything: a falling REMB.

A line whose capacity drops under the layer it carries (a school's 3 Mbps shared by a second class at
once) does not lose packets at first: its drop-tail queue fills, for as long as its buffer lasts (half a
second on a DSL modem at 600 kbps, less the faster the SFU overfills it). Only then does it drop, and it
drops the audio as readily as the video, in bursts. NACKs and receiver-report loss come after that: every
moment the SFU waits for them is audio lost. libwebrtc sees the queue grow from its delay (TWCC, every
50–100 ms); the receivers here send REMB, which comes from the same kind of delay-based estimator: while
the queue grows it reports overuse with every packet, each time 0.85 × what it received in the last
second. So the REMB falls steadily, and below what was sent in that same second.

A keyframe burst on a fast line, or a receiver that stalled for a moment, also makes it report overuse, but
briefly, and what it received is about what was sent: REMB ≈ 0.85 × sent, and rising as the burst
arrives. A browser whose estimate ramps up from a low start sends REMBs every ~0.2 s too, each a little
higher than the last (a run that rises is not overuse). `OnsetDetector` tells these apart from what it is
fed per REMB: the REMB, and the bytes the SFU sent to the streams that REMB is about. An onset is a run of
overuse REMBs at least `min_run_s` long whose newest is far below the second's sent rate (`strong`), or below
`trend` × that rate and falling — no faster than a one-second window can (a receiver that stalled loses from
its window what it had not read yet). The caller paces the line at once (the queue drains while the layer
switch waits for its keyframe) and tells the quality controller that the line is full
(media.feedback). Pure bookkeeping: no clock, no I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class OnsetSettings:
    window_s: float = 1.0  # what was sent is taken over the window the receiver's incoming rate covers (aiortc: 1 s)
    min_span_s: float = 0.15  # …or since the stream began, when that is shorter (the receiver's is too), not shorter
    trend: float = 0.74  # a falling run below this × sent is an onset (a keyframe's overuse: ≈ 0.85, rising)
    strong: float = 0.5  # a run's REMB below this × sent is one, falling or not
    run_gap_s: float = 0.2  # REMBs closer than this are one run of overuse (outside overuse: one per 0.5 s)
    min_run_s: float = 0.08  # a run must last this long (a lone REMB, or a receiver's burst, is not a trend)
    fall: float = 0.97  # falling: below this × the run's first REMB
    max_fall: float = 1.1  # …but not faster than this × sent per second: a 1 s window of what arrived can lose at
    # most what was sent (× 0.85); faster is a receiver whose own loop stalled (its window lost what it had not yet
    # read), not its line: the run starts afresh from there
    young_s: float = 2.0  # this soon after the streams (re)started only a `strong` run is one: the receiver's first
    # window starts at its first packet as its own loop got to it, and a loaded receiver's falls short of what was
    # sent (a 3 Mbps line's REMB at 0.70 × sent 1.1 s in, at load 12); a line far too slow is still strong
    rise: float = 1.01  # a run whose newest REMB is above this × its first is an estimate going up, not overuse:
    # libwebrtc's (a browser's) REMB comes every ~0.2 s while its estimate ramps up from a low start (+1.7 % each at
    # ~100 kbps, far below what the SFU sends at once), and such REMBs read as a `strong` run paced a co-teaching
    # page's line at 63 kbps, whose drops then paused its video; overuse is 0.85 × what arrived: level or falling
    hold_s: float = 2.0  # after an onset, the next one is not looked for until the window has renewed
    sample_s: float = 0.01  # what was sent is sampled at most this often


ONSET = OnsetSettings()


class OnsetDetector:
    """One REMB stream's onset detector (see the module docstring)."""

    __slots__ = ("settings", "_sent", "_run_at", "_run_bps", "_last_at", "_quiet_until", "_began_at", "why")

    def __init__(self, settings: OnsetSettings = ONSET) -> None:
        self.settings = settings
        self._sent: deque[tuple[float, int]] = deque()  # (time, cumulative bytes sent to the REMB's streams)
        self._run_at = -1e9
        self._run_bps = 0.0
        self._last_at = -1e9
        self._quiet_until = -1e9
        self._began_at = -1e9  # when the streams (re)started, if known
        self.why = ""  # the last onset's numbers, for the log

    def sent_bps(self, now: float) -> float | None:
        """What was sent in the last window, or since the stream began (None: too short to say)."""
        s = self.settings
        start = now - s.window_s
        sent = self._sent
        if not sent or now - sent[0][0] < s.min_span_s:
            return None
        before = None
        for at, total in sent:  # the newest sample at or before the window's start (few: pruned below)
            if at > start:
                break
            before = (at, total)
        if before is None:
            before = sent[0]
        newest = sent[-1]
        span = newest[0] - before[0]
        return (newest[1] - before[1]) * 8 / span if span > 0 else None

    def on_remb(self, now: float, bps: float, sent_bytes: int, began: tuple[float, int] | None = None) -> bool:
        """A REMB of `bps` arrives while `sent_bytes` (cumulative) have been sent to its streams, which
        (re)started at `began` (when, bytes sent before then): an onset?"""
        s = self.settings
        sent = self._sent
        if sent and sent_bytes < sent[-1][1]:  # the streams changed (a consumer left): start afresh
            sent.clear()
        if began is not None and began[0] <= now and (not sent or began[0] > sent[0][0]):
            sent.clear()  # what the receiver counts starts there (its rate is since its first packet)
            sent.append(began)
            self._began_at = began[0]
        if not sent or now - sent[-1][0] >= s.sample_s:
            sent.append((now, sent_bytes))
        while len(sent) > 2 and sent[1][0] <= now - s.window_s:
            sent.popleft()
        if now - self._last_at > s.run_gap_s:
            self._run_at, self._run_bps = now, bps
        self._last_at = now
        if now < self._quiet_until:
            return False
        rate = self.sent_bps(now)
        if rate is None or rate <= 0:
            return False
        if now - self._run_at < s.min_run_s:  # one REMB, or a burst of them, is not a trend
            return False
        if self._run_bps - bps > s.max_fall * rate * (now - self._run_at):
            self._run_at, self._run_bps = now, bps
            return False
        if bps > self._run_bps * s.rise:
            return False
        falling = bps < self._run_bps * s.fall
        young = now - self._began_at < s.young_s
        if bps < rate * s.strong or (falling and bps < rate * s.trend and not young):
            self._quiet_until = now + s.hold_s
            self.why = f"a {now - self._run_at:.2f} s run from {self._run_bps:.0f}, {bps / rate:.2f} × sent"
            return True
        return False
