"""The onset of a slower line from the REMBs alone (media/onset.py), and what the quality controller makes of it.

Sequences as aiortc's receiver produces them (its estimator fed the shaped line in a simulation): a 1.1 Mbps
layer on a 3 Mbps line, REMBs every 0.5 s while all is well; the line drops to 600 kbps and from ~0.16 s
later a REMB with every packet, each 0.85 × what arrived in the last second, falling as that second fills
with the slower line's rate."""

from __future__ import annotations

from media.onset import OnsetDetector
from media.quality import Feedback, Needs, QualityController

SENT_BPS = 1_100_000


def feed(d: OnsetDetector, rembs: list[tuple[float, float]], start: float = 0.0) -> list[float]:
    """Sent bytes grow at SENT_BPS from `start`; returns the times of the onsets among `rembs` (time, bps)."""
    return [t for t, bps in rembs if d.on_remb(t, bps, int((t - start) * SENT_BPS / 8))]


def steady(until: float) -> list[tuple[float, float]]:
    return [(t / 2, 0.85 * SENT_BPS) for t in range(1, int(until * 2))]  # one every 0.5 s, 0.85 × sent


def test_a_line_that_drops_is_seen_while_its_queue_fills():
    d = OnsetDetector()
    drop = 5.0
    # overuse from 0.16 s after the drop: the receiver's second of 1.1 Mbps gives way to 600 kbps
    overuse = [(drop + 0.16 + i * 0.015, 0.85 * (SENT_BPS - (0.16 + i * 0.015) * 500_000)) for i in range(30)]
    onsets = feed(d, steady(drop) + overuse)
    assert len(onsets) == 1  # once: the next is not looked for until the window has renewed
    assert drop + 0.2 <= onsets[0] <= drop + 0.35, onsets  # the queue (0.5 s at 600 kbps) is full at ~0.6 s


def test_a_keyframe_burst_or_a_lone_low_remb_is_not_an_onset():
    d = OnsetDetector()
    # a keyframe on a fast line: a short run of overuse REMBs at ≈ 0.85 × sent, rising as the burst arrives
    burst = [(5.0 + i * 0.01, 0.78 * SENT_BPS + i * 8_000) for i in range(10)]
    # a receiver that stalled: its backlog processed at once, a burst of REMBs within a few milliseconds
    stall = [(7.0 + i * 0.001, 0.4 * SENT_BPS) for i in range(25)]
    lone = [(9.0, 0.1 * SENT_BPS)]  # aiortc's first estimate can be far off
    # a receiver whose loop stalls again and again: its window loses what it has not read, faster than a line can
    starved = [(11.0 + i * 0.02, 0.85 * SENT_BPS * (1 - 0.06 * i)) for i in range(10)]
    assert feed(d, steady(5.0) + burst + steady(2.0)[:3] + stall + lone + steady(2.0)[:3] + starved) == []


def test_until_a_second_has_passed_the_rate_counts_from_the_streams_start():
    """A classroom whose line is short from the start: the receiver's rate counts since its first packet, so
    what was sent is taken since the stream began on its keyframe (and not before: it waited for one)."""
    d = OnsetDetector()
    began = (10.0, 0)
    rembs = [(10.3 + i * 0.015, 0.85 * 600_000) for i in range(12)]  # the line carries 600 kbps of 1.1 Mbps
    onsets = [t for t, bps in rembs if d.on_remb(t, bps, int((t - 10.0) * SENT_BPS / 8), began)]
    assert onsets and onsets[0] <= 10.4
    assert d.sent_bps(10.4) is not None and abs(d.sent_bps(10.4) - SENT_BPS) < 0.05 * SENT_BPS
    idle = OnsetDetector()  # subscribed long before its first keyframe: the idle time is not counted
    assert not idle.on_remb(9.0, 0.0, 0)
    assert [t for t, bps in rembs if idle.on_remb(t, bps, int((t - 10.0) * SENT_BPS / 8), began)] == onsets


def test_a_loaded_receivers_first_window_is_not_a_slower_line():
    """A 3 Mbps classroom whose receiver was starved as it started (measured at load 12): 1.1 s after the stream
    began its REMBs fall from 0.78 to 0.70 × what was sent. Its first window counts from when its own loop got
    to the first packet: only a line far too slow (a `strong` run) is an onset that soon, and the same fall
    later on is one."""
    began = (10.0, 0)
    falling = [(11.1 + i * 0.02, (0.78 - 0.01 * i) * SENT_BPS) for i in range(9)]
    young = OnsetDetector()
    assert [t for t, bps in falling if young.on_remb(t, bps, int((t - 10.0) * SENT_BPS / 8), began)] == []
    later = [(t + 1.5, bps) for t, bps in falling]
    onsets = [t for t, bps in later if young.on_remb(t, bps, int((t - 10.0) * SENT_BPS / 8), began)]
    assert onsets and onsets[0] <= later[-1][0]


def test_an_onset_steps_down_at_once_without_loss():
    needs = Needs(high=1_150_000, low=250_000, audio=50_000)
    c = QualityController(0.0)
    assert c.step(5.0, Feedback(1_000_000, 0.0, 1_100_000), needs) is None  # a REMB alone says nothing
    assert c.pace_bps(5.0, needs) is None
    decision = c.step(5.5, Feedback(560_000, None, 1_100_000, full=True), needs)
    assert decision is not None and (decision.cap, decision.reason) == ("low", "bandwidth")
    assert decision.estimate_bps == 560_000
    pace = c.pace_bps(5.5, needs)
    assert pace is not None and pace < 560_000  # the queue the high layer filled drains


def test_at_a_lines_first_loss_the_receivers_rate_is_the_measure():
    """A 600 kbps classroom's start (measured at load 15): 1.16 Mbps sent since the last step, 9 % lost, REMB
    457 k. Sent × (1 − loss) says 1.05 Mbps, enough to keep the high layer; what the receiver got (REMB / 0.85)
    says 540 k, and it steps down now. Once the line's rate is known, random loss with a low REMB does not."""
    needs = Needs(high=1_300_000, low=250_000, audio=50_000)
    c = QualityController(0.0)
    decision = c.step(1.0, Feedback(456_552, 0.094, 1_162_913), needs)
    assert decision is not None and (decision.cap, decision.reason) == ("low", "bandwidth"), decision
    assert decision.estimate_bps is not None and decision.estimate_bps < 600_000
    known = QualityController(0.0)
    known.link_bps = 3_000_000
    assert known.step(1.0, Feedback(456_552, 0.094, 1_162_913), needs) is None


def test_a_clean_probe_the_receiver_fell_behind_on_is_a_failed_one():
    """A 600 kbps classroom's padding probe to 1.37 Mbps ended clean (its 0.5 s queue took it all, the REMB
    rose), but its receiver reports got 175 kbps of the 263 kbps of media sent: no step up."""
    needs = Needs(high=1_250_000, low=250_000, audio=50_000)
    for received, loss, expected in ((175_000, 0.0, None), (215_000, 0.043, None), (260_000, 0.0, "high")):
        c = QualityController(0.0)
        c.step(1.0, Feedback(400_000, 0.3, 1_100_000), needs)  # down to low
        t = 1.0
        while c.probe_bps is None and t < 30:
            t += 1.0
            c.step(t, Feedback(None, 0.0, 263_000), needs)
        assert c.probe_bps is not None and c.cap == "low"
        decision = c.step(t + 1.0, Feedback(354_000, loss, 263_000, probe="ok", received_bps=received), needs)
        assert (decision.cap if decision else None) == expected, (received, decision)


def test_the_high_layers_first_loss_on_an_unknown_line_steps_down_at_once():
    """A 600 kbps classroom's start with no REMB (measured at load 17): its first report says 9 % lost of 990
    kbps sent. On a line not yet known that is the start overfilling it: low now, not a second later. Once the
    line is known, one such report is not enough (two high-loss reports in a row are)."""
    needs = Needs(high=1_150_000, low=250_000, audio=50_000)
    c = QualityController(0.0)
    decision = c.step(1.0, Feedback(None, 0.089, 990_000), needs)
    assert decision is not None and (decision.cap, decision.reason) == ("low", "loss"), decision
    known = QualityController(0.0)
    known.link_bps = 3_000_000
    assert known.step(1.0, Feedback(None, 0.089, 990_000), needs) is None
    assert known.step(2.0, Feedback(None, 0.04, 990_000), needs) is None
    fast = QualityController(0.0)  # a REMB that says the line carries the layer: loss that is not congestion
    assert fast.step(1.0, Feedback(3_000_000, 0.089, 990_000), needs) is None


def test_a_browsers_estimate_ramping_up_is_not_an_onset():
    """Chrome's REMBs for a co-teaching page as it started (measured): one every ~0.2 s, each ~1.7 % above the last,
    from 92 kbps while the SFU sent three cameras at once. Far below what was sent, but going up: its estimator
    is in its increase state. Read as a `strong` run it paced the page's line at 63 kbps and paused its video."""
    d = OnsetDetector()
    ramp = [(10.0 + i * 0.18, 92_616 * 1.017**i) for i in range(20)]
    assert feed(d, ramp, start=9.0) == []
    # the same line then really fills up: the estimate falls below where it was, and that is an onset
    fall = [(ramp[-1][0] + 0.5 + i * 0.02, ramp[-1][1] * (0.9 - 0.01 * i)) for i in range(10)]
    assert feed(d, fall, start=9.0)


def test_a_line_that_delivered_what_it_was_given_is_not_a_slow_one():
    """A 3 Mbps classroom while the SFU worker starved (measured at load 13): its receiver reports got 592 kbps
    and said 5 % lost, its REMB was in overuse behind the burst that followed, and it was taken for a 600 kbps
    line. The SFU had put no more than ~600 kbps on it: a line that delivers about all it is given was not full,
    and shows no capacity. A 600 kbps line given 1.1 Mbps still does."""
    needs = Needs(high=1_100_000, low=250_000, audio=50_000)
    starved = Feedback(500_000, 0.05, 600_000, received_bps=592_000, offered_bps=600_000)
    unknown, known = QualityController(0.0), QualityController(0.0)
    known.link_bps = 3_000_000
    for c in (unknown, known):
        assert c.step(1.0, starved, needs) is None and c.cap == "high"
    slow = QualityController(0.0)
    decision = slow.step(1.0, Feedback(500_000, 0.4, 1_100_000, received_bps=600_000, offered_bps=1_050_000), needs)
    assert decision is not None and (decision.cap, decision.reason) == ("low", "bandwidth"), decision
