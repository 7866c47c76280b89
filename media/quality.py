"""Bandwidth-driven quality per subscriber: the decision, and nothing else (no aiortc, no clock, no I/O).

Once a second the SFU hands a `QualityController` what the subscriber's receiver told it (the REMB
estimate and the loss fraction of its receiver reports) and what each cap would cost (`Needs`), and the
controller answers with a new cap or None. As LiveKit's stream allocator does, it steps down at once
and steps up only by probing:

- `high` → `low` when the estimate falls below what the high layer and audio need (with margin), or
  when loss is high in two reports in a row; → `off` (video paused, audio kept) when two reports in a
  row put it below what even the low layer and audio need. Audio is never touched.
- After a quiet period (no loss, no falling estimate) it first asks for a padding probe (`probe_bps`,
  run by media.probe on the connection's pacer): the line is filled with padding up to what the next cap
  needs while the media stays as it is. Only if that comes back clean does it step up, and it keeps the
  higher cap only if loss stays low and the estimate does not fall; a failed probe doubles the wait.
- `pace_bps` is what the connection's pacer may put on the line: unlimited until the line has shown its
  capacity (loss), then a margin below it, so that a burst waits in the SFU and not in front of the audio.

What "the estimate" is: when the link is full (the receiver reports loss), the subscriber's REMB, but
never less than what it demonstrably received in the last second (sent × (1 − loss)); without loss the
link carries at least what it was sent, and the estimate says nothing. A delay-based REMB is tied to what the
receiver gets: it starts low, drops to 0.85 × the received rate on any overuse (a keyframe burst, a CPU
hiccup) and climbs back by only 8 % a second, so on its own it would send a 3 Mbps classroom to the low
layer after every keyframe. The delivered rate is fresh every second and cannot be fooled that way;
REMB still vetoes a step down when loss is not congestion. The margin (`down_ratio`) is below one for
the same reason; a link short by less than that shows up as loss instead. One REMB pattern is trusted
before any loss: a run of overuse REMBs falling well below what was sent (`Feedback.full`, media.onset),
which is a line whose capacity dropped, seen while its queue fills and before it drops the audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Cap = Literal["high", "low", "off"]
Reason = Literal["bandwidth", "loss", "probe", "probe_failed"]
_RANK: dict[Cap, int] = {"off": 0, "low": 1, "high": 2}
_CAPS: tuple[Cap, Cap, Cap] = ("off", "low", "high")
REMB_BETA = 0.85  # a delay-based REMB in overuse is this × what the receiver got in its last second (libwebrtc's
# AIMD beta). At a line's first loss, before two receiver reports measure what arrived, it is the better measure:
# what was sent since the last step includes the starting keyframe and the queue's backlog (a 600 kbps line at
# 9 % loss read 1.05 Mbps by sent × (1 − loss) while its REMB said 457 k, and it kept the high layer 0.6 s longer,
# losing its audio); where the loss is not congestion the REMB is not in overuse and the minimum changes nothing


def lower(a: Cap, b: Cap) -> Cap:
    return a if _RANK[a] <= _RANK[b] else b


@dataclass(slots=True, frozen=True)
class Policy:
    down_ratio: float = 0.75  # step down when estimate < need × this
    loss_high: float = 0.10  # a report with this much loss is "high" (libwebrtc's loss-based controller: 10 %)
    loss_low: float = 0.02  # below this, loss does not interrupt a quiet period
    lossy_reports: int = 2  # high loss this many reports in a row steps down…
    start_loss: float = 0.05  # …but the high layer's first report with this much, before the line has shown what it
    # carries, does at once: at the start of a 600 kbps line nothing else comes in time (its receiver sent no REMB
    # in the first 2.4 s; reports of 9 %, 13 %, 49 % loss, one a second, while the audio was lost); a lossy line
    # that does carry the layer gets it back from the probe after the quiet period
    pause_reports: int = 2  # an estimate below low + audio this many reports in a row pauses video (drastic)
    probe_loss: float = 0.05  # a probe fails at this much loss
    probe_after_s: float = 10.0  # quiet period before the first probe up (a probe that fails costs a freeze)
    probe_max_s: float = 48.0  # the longest wait after failed probes
    probe_window_s: float = 4.0  # how long a probe must stay clean (a keyframe switch plus a few reports)
    settle_s: float = 2.5  # after a step down, the next report still shows the old layer's backlog: no second step
    probe_ratio: float = 1.1  # a padding probe fills the line to this × what the next cap needs
    probe_timeout_s: float = 4.0  # a padding probe that has not answered by then counts as failed
    pace_ratio: float = 0.8  # pace at this × the line's estimate (below it: a standing queue drains)…
    drain_ratio: float = 0.5  # …and at this × for `settle_s` after a step down (the old layer's queue drains fast)
    drain_room: float = 1.5  # …but not below this × what the new cap needs (its first keyframes come then)
    pace_floor: float = 2.0  # …and not below this × what the current cap needs (room for its keyframes), up to the line
    pace_trust: float = 1.2  # an estimate below this × what the current cap needs is taken for a wrong one
    behind: float = 0.8  # a clean probe fails if the receiver's reports got less than this × the media sent
    carried: float = 0.9  # a line that delivered this × what the SFU put on it was not full, whatever its loss says:
    # the loss is not its queue's (a publisher's, a random one), and what it delivered is what it was given — a
    # 3 Mbps line whose receiver got 592 kbps while the SFU, starved, sent it no more was taken for a 600 kbps one


DEFAULT = Policy()


@dataclass(slots=True, frozen=True)
class Needs:
    """Bits per second the subscriber's connection needs at each cap; each includes the audio."""

    high: float
    low: float
    audio: float


@dataclass(slots=True, frozen=True)
class Feedback:
    """What the subscriber reported since the last step."""

    estimate_bps: float | None  # the newest REMB (None: no fresh one)
    loss: float | None  # worst fraction lost in the receiver reports since the last step (None: no report)
    sent_bps: float | None = None  # what the SFU sent this subscriber since the last step
    switching: bool = False  # a layer switch still waits for its keyframe: reports show the old layer
    probe: Literal["ok", "failed"] | None = None  # how the padding probe asked for (`probe_bps`) ended, if it has
    received_bps: float | None = None  # what the receiver got, from its own reports (None: not known)
    full: bool = False  # the REMB fell well below what was sent (media.onset): the line's queue grows, nothing lost yet
    offered_bps: float | None = None  # what the SFU put on the line over the time `received_bps` covers


@dataclass(slots=True, frozen=True)
class Decision:
    cap: Cap  # what is forwarded now: the lower of the new cap and the plan
    reason: Reason
    estimate_bps: float | None = None  # the effective estimate it was based on


class QualityController:
    """One subscriber connection's cap. `step` once a second; `cap` is what it may receive now."""

    __slots__ = (
        "policy", "cap", "_lossy", "_quiet_since", "_probe_wait", "_probe_until", "_probe_from", "_estimate",
        "_changed_at", "_starved", "probe_bps", "_padding_since", "link_bps",
    )

    def __init__(self, now: float, policy: Policy = DEFAULT, cap: Cap = "high") -> None:
        self.policy = policy
        self.cap: Cap = cap
        self._lossy = 0
        self._quiet_since = now
        self._probe_wait = policy.probe_after_s
        self._probe_until: float | None = None
        self._probe_from: Cap = cap
        self._estimate: float | None = None
        self._changed_at = -1e9
        self._starved = 0  # reports in a row whose estimate is below what the low layer and audio need
        self.probe_bps: float | None = None  # a padding probe to this rate is wanted (until its outcome comes)
        self._padding_since = 0.0
        self.link_bps: float | None = None  # what the line carries, once it has shown it (loss, or a good probe)

    @property
    def probing(self) -> bool:
        return self._probe_until is not None

    def step(self, now: float, feedback: Feedback, needs: Needs, top: Cap = "high") -> Decision | None:
        """The new cap and why, or None. `top` is the most the subscriber's plan asks for: the cap is what the
        network allows, what is forwarded is the lower of the two (a plan's `low` is not a quality change)."""
        p = self.policy
        layer = lower(self.cap, top)
        estimate, loss = self.estimate(feedback), feedback.loss
        self._estimate = estimate
        unknown = self.link_bps is None  # the line has not shown what it carries: loss now is the start overfilling it
        self._learn_link(now, feedback, estimate)
        lossy = loss is not None and loss >= p.loss_high
        settled = now - self._changed_at >= p.settle_s  # before, reports describe the backlog of the layer left

        def short(need: float) -> bool:
            return estimate is not None and estimate < need * p.down_ratio

        if loss is not None:
            self._lossy = self._lossy + 1 if lossy and settled else 0
            self._starved = self._starved + 1 if short(needs.low) and settled else 0
        if feedback.switching and self._probe_until is None:
            self._changed_at = now  # what the reports say is about the layer being left: settle from its end
            self._lossy = self._starved = 0

        if self.probe_bps is not None:  # a padding probe is out: nothing changes until it answers
            if feedback.probe is None and now - self._padding_since < p.probe_timeout_s:
                return None
            target, self.probe_bps = self.probe_bps, None
            if feedback.probe == "ok" and not self._behind(feedback):
                self.link_bps = max(self.link_bps or 0.0, target)
                return self._set(_CAPS[_RANK[self.cap] + 1], "probe", now, top, probing=True)
            self._probe_wait = min(self._probe_wait * 2, p.probe_max_s)
            self._quiet_since = now
            return None
        if self._probe_until is not None:
            if (loss is not None and loss >= p.probe_loss) or short(self._need(needs, layer)):
                self._probe_wait = min(self._probe_wait * 2, p.probe_max_s)
                return self._set(self._probe_from, "probe_failed", now, top)
            if now >= self._probe_until:
                self._probe_until = None
                self._probe_wait = p.probe_after_s
                self._quiet_since = now
            return None
        if layer != "off" and settled:
            if self._starved >= p.pause_reports:
                return self._set("off", "bandwidth", now, top)
            if layer == "high" and short(needs.high):
                return self._set("low", "bandwidth", now, top)
            if self._lossy >= p.lossy_reports:
                return self._set("low" if layer == "high" else "off", "loss", now, top)
            remb_carries = feedback.estimate_bps is not None and feedback.estimate_bps >= needs.high  # its veto
            if (layer == "high" and unknown and loss is not None and loss >= p.start_loss and not remb_carries
                    and not self._carried(feedback)):
                return self._set("low", "loss", now, top)
        if loss is not None and loss >= p.loss_low:
            self._quiet_since = now
        if self.cap != "high" and _RANK[self.cap] < _RANK[top] and now - self._quiet_since >= self._probe_wait:
            self._probe_from = self.cap
            self.probe_bps = self._need(needs, _CAPS[_RANK[self.cap] + 1]) * p.probe_ratio
            self._padding_since = now
        return None

    def _learn_link(self, now: float, feedback: Feedback, estimate: float | None) -> None:
        """What the line carries: an estimate (it was full) replaces it, except just after a change (the
        reports still describe the layer left, and the pacer's drops of it); a clean report raises it to
        what was sent."""
        if estimate is not None:
            if self.link_bps is None or now - self._changed_at >= self.policy.settle_s:
                self.link_bps = estimate
        elif self.link_bps is not None and feedback.loss is not None and feedback.sent_bps is not None:
            self.link_bps = max(self.link_bps, feedback.sent_bps)

    def pace_bps(self, now: float, needs: Needs, top: Cap = "high") -> float | None:
        """What the pacer may send (bits/s): None (unlimited) until the line has shown what it carries, then
        a margin below that (a standing queue in the network drains) but room for the current cap's
        keyframes, never above the line; just after a step down, half the line (the layer left has filled the
        network's queue, and the audio waits behind it until it drains), but room for the new cap's keyframes:
        its first one, and those asked for after drops, come now (at 1.2 × its average rate the pacer dropped
        them and a 600 kbps classroom's low layer froze 1.05 s at load 15; at 0.8 × the line the queue did not
        drain and the audio was lost). An
        estimate below what the current cap needs is taken for a wrong one (a loaded machine's can be far
        off, and one too low would have the pacer drop the layer the line does carry, the drops read as
        loss and lower it further): then the cap's need with room for its keyframes."""
        link = self.link_bps
        if link is None:
            return None
        p = self.policy
        need = self._need(needs, lower(self.cap, top))
        if link < need * p.pace_trust:
            return need * p.pace_floor
        if now - self._changed_at < p.settle_s and not self.probing:  # drain: the new cap and its keyframes
            return max(link * p.drain_ratio, need * p.drain_room)
        return max(link * p.pace_ratio, min(need * p.pace_floor, link))

    def estimate(self, feedback: Feedback) -> float | None:
        """What the link carries, known only when it is full (a fresh report with loss, and the receiver got
        less than it was given: `_carried`): max(REMB, what the receiver got — by its reports, else what was
        sent × (1 − loss)). Without loss the link carries at
        least what was sent, and more is not known — unless the REMB's onset said the line filled up (`full`):
        then the REMB (what the receiver got in its last second, × 0.85; a report from before the onset would
        still show the line's old rate)."""
        loss, sent, remb = feedback.loss, feedback.sent_bps, feedback.estimate_bps
        if feedback.full and remb is not None:
            return remb  # the receiver saw its queue grow before any loss: its word, not the past's
        if loss is None or sent is None or loss < self.policy.loss_low or self._carried(feedback):
            return None
        got = feedback.received_bps if feedback.received_bps is not None else sent * (1 - loss)
        if feedback.received_bps is None and self.link_bps is None and remb is not None:
            got = min(got, remb / REMB_BETA)  # the line's first loss: what was sent is no measure (see `REMB_BETA`)
        return max(got, remb or 0.0)

    def _carried(self, feedback: Feedback) -> bool:
        """The receiver's reports say it got about all the SFU put on the line meanwhile (`Policy.carried`): the
        line was not full. Only a line that held back what it was given shows its capacity (libwebrtc takes no
        acknowledged rate for one while the sender is application-limited)."""
        got, offered = feedback.received_bps, feedback.offered_bps
        return got is not None and offered is not None and offered > 0 and got >= offered * self.policy.carried

    def _behind(self, feedback: Feedback) -> bool:
        """The receiver's own reports say it lost, or got well under the media sent: its line's queue grows. A clean
        padding probe on a line with a deep buffer can end before anything is lost or its REMB falls (a 600
        kbps line took a 1.37 Mbps probe into its 0.5 s queue, and its reports said 175 kbps of 263 sent)."""
        got, sent, loss = feedback.received_bps, feedback.sent_bps, feedback.loss
        if loss is not None and loss >= self.policy.loss_low:
            return True  # a report that came as the padding ended is about the probe (4.3 % on that line)
        return got is not None and sent is not None and got < sent * self.policy.behind

    @staticmethod
    def _need(needs: Needs, cap: Cap) -> float:
        return needs.high if cap == "high" else needs.low if cap == "low" else needs.audio

    def _set(self, cap: Cap, reason: Reason, now: float, top: Cap, probing: bool = False) -> Decision:
        self.cap = cap
        self._lossy = self._starved = 0
        self._quiet_since = self._changed_at = now
        if not probing:
            self._probe_until = None
        else:
            self._probe_until = now + self.policy.probe_window_s
        return Decision(lower(cap, top), reason, self._estimate)
