"""A padding probe: show that a subscriber's line carries a higher layer before sending it.

Probing by switching the layer (what the SFU did before) risks the media: on a line that is too slow the
higher layer's bursts fill the network's drop-tail queue, and the audio behind them is dropped until the
switch back lands on a keyframe (1.9 s of silence on a 600 kbps classroom line). LiveKit probes with
padding instead: padding-only RTP packets on a video's RTX stream, sent by the connection's pacer only
when no media waits, raise what the line carries to the target while the media stays as it is; the
receiver counts them toward its estimate and throws them away.

The padding ramps from what the connection sends now to the target over `ramp_s`, then holds for
`hold_s`: on a line that is too slow the network's queue grows gradually, and the receiver's
delay-based estimator reports overuse (a falling REMB) long before that queue is full. Without TWCC the
verdict comes from what the receiver sends anyway: the probe fails at once on a falling REMB, on NACKed
media, or on a receiver report with loss, and its padding stops there; it succeeds if it runs its
course clean — and only if the line did carry about the probe's rate: on a loaded worker the padding
ticks come late (and a late tick never catches up, so as not to burst) and media waiting in the pacer
comes first, so a probe can end having sent half of what it meant to, and a clean run then says nothing
(a 600 kbps line was taken up to its 1.2 Mbps layer that way at load 14). Pure bookkeeping apart from
`start`/`stop` (driven by media.bandwidth).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from media.pacer import Pacer, Padder

Outcome = Literal["running", "ok", "failed"]


@dataclass(slots=True, frozen=True)
class ProbeSettings:
    ramp_s: float = 0.8  # from the current rate to the target (a queue that grows slowly is seen early)
    hold_s: float = 0.4  # at the target (a line too slow for it has its queue grow, not overflow, by then)
    remb_fall: float = 0.95  # a REMB below this × the previous one from the same receiver: overuse
    nacked_packets: int = 2  # this many NACKed media packets during the probe: the line is full
    loss: float = 0.02  # a receiver report with this much loss during the probe
    carried: float = 0.7  # a clean probe whose paced line carried less than this × its rate's integral failed


PROBE = ProbeSettings()


class PaddingProbe:
    """One probe of one subscriber connection, from `from_bps` up to `to_bps` (see the module docstring)."""

    __slots__ = (
        "settings", "from_bps", "to_bps", "started", "outcome", "reason", "_nacked", "_pacer", "_timer", "_bytes_at",
    )

    def __init__(self, now: float, from_bps: float, to_bps: float, settings: ProbeSettings = PROBE) -> None:
        self.settings = settings
        self.from_bps = min(from_bps, to_bps)
        self.to_bps = to_bps
        self.started = now
        self.outcome: Outcome = "running"
        self.reason = ""
        self._nacked = 0
        self._pacer: Pacer | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._bytes_at: int | None = None  # the paced line's byte count at the start (None: not paced)

    @property
    def duration(self) -> float:
        return self.settings.ramp_s + self.settings.hold_s

    def rate(self, now: float) -> float:
        """What the connection should carry now, padding included (bits/s)."""
        ramp = self.settings.ramp_s
        done = min(1.0, max(0.0, (now - self.started) / ramp)) if ramp > 0 else 1.0
        return self.from_bps + (self.to_bps - self.from_bps) * done

    # -- the receiver's word --------------------------------------------------------------------------

    def on_remb(self, bps: float, previous: float | None) -> None:
        if previous is not None and bps < previous * self.settings.remb_fall:
            self.fail(f"REMB fell {previous:.0f} → {bps:.0f}")

    def on_nack(self, packets: int) -> None:
        self._nacked += packets
        if self._nacked >= self.settings.nacked_packets:
            self.fail(f"{self._nacked} packets NACKed")

    def on_loss(self, fraction: float) -> None:
        if fraction >= self.settings.loss:
            self.fail(f"{fraction:.0%} lost")

    # -- running it -----------------------------------------------------------------------------------

    def start(self, pacer: Pacer, padder: Padder) -> None:
        """Pad on `pacer` from now on (`started` is on its clock, time.monotonic); the probe ends by itself
        after `duration`, or at `fail`."""
        self._pacer = pacer
        self._bytes_at = pacer.counters.bytes if pacer.rate is not None else None  # unpaced media is not counted
        pacer.start_padding(self.rate, padder)
        self._timer = asyncio.get_running_loop().call_later(self.duration, self._finish)

    def _finish(self) -> None:
        self._timer = None
        pacer = self._pacer
        if self.outcome == "running" and pacer is not None and self._bytes_at is not None and pacer.rate is not None:
            s = self.settings
            meant = (self.from_bps + self.to_bps) / 2 * s.ramp_s + self.to_bps * s.hold_s
            carried = (pacer.counters.bytes - self._bytes_at) * 8
            if carried < s.carried * meant:
                self.fail(f"the line carried {carried / meant:.0%} of the probe")
        if self.outcome == "running":
            self.outcome = "ok"
        self.stop()

    def fail(self, reason: str) -> None:
        if self.outcome == "running":
            self.outcome = "failed"
            self.reason = reason
            self.stop()

    def stop(self) -> None:
        """Stop padding (the outcome stays what it is)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pacer is not None:
            self._pacer.stop_padding()
            self._pacer = None
