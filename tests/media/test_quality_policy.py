"""The bandwidth-driven quality decision (media/quality.py), driven by synthetic feedback sequences.

Rates as in the shaped test: a 1 Mbps camera with a 150 kbps low twin and ~50 kbps of audio."""

from __future__ import annotations

import pytest

from media.quality import Feedback, Needs, Policy
from media.quality import QualityController as _Controller

NEEDS = Needs(high=1_050_000, low=250_000, audio=50_000)
HIGH, LOW = 1_050_000.0, 250_000.0  # what the SFU sends at each cap
POLICY = Policy(probe_after_s=6.0)  # the default waits 10 s; 6 keeps the sequences short


def QualityController(now: float, cap: str = "high") -> _Controller:  # noqa: N802 - reads as the class
    return _Controller(now, POLICY, cap)  # type: ignore[arg-type]


def run(
    c: QualityController, seq: list[tuple[float | None, float | None, float]], start: float = 1.0, top="high",
    padding: str = "ok", asked: list[tuple[float, float]] | None = None,
):
    """Step once a second through (REMB, loss, sent); return [(time, cap, reason)] of the decisions. A padding
    probe the controller asks for is answered `padding` at the next step; `asked` collects (time, target)."""
    out = []
    for i, (remb, loss, sent) in enumerate(seq):
        now = start + i
        answer = padding if c.probe_bps is not None else None
        decision = c.step(now, Feedback(remb, loss, sent, probe=answer), NEEDS, top)  # type: ignore[arg-type]
        if decision is not None:
            out.append((now, decision.cap, decision.reason))
        if c.probe_bps is not None and answer is None and asked is not None:
            asked.append((now, c.probe_bps))
    return out


def test_a_600k_link_steps_down_at_once_and_a_worse_one_pauses_video():
    # 1.05 Mbps into 600 kbps: 43 % lost, 600 kbps delivered, REMB 0.85 × that
    assert run(QualityController(0.0), [(None, 0.0, HIGH), (510_000, 0.43, HIGH)]) == [(2.0, "low", "bandwidth")]
    # below even low + audio: low at once, video paused only when two reports after the switch has settled agree
    c = QualityController(0.0)
    assert run(c, [(120_000, 0.86, HIGH)] * 2 + [(120_000, 0.5, LOW)] * 3) == [
        (1.0, "low", "bandwidth"), (5.0, "off", "bandwidth"),
    ]
    c = QualityController(0.0, cap="low")
    assert run(c, [(100_000, 0.5, LOW), (None, 0.0, LOW)] * 3) == [] and c.cap == "low"  # once is not enough
    # right after a step down the report still shows the old layer's backlog: no second step until it settles
    c = QualityController(0.0)
    seq = [(510_000, 0.43, HIGH), (150_000, 0.7, HIGH), (150_000, 0.7, HIGH), (150_000, 0.4, LOW), (150_000, 0.4, LOW)]
    assert run(c, seq) == [(1.0, "low", "bandwidth"), (5.0, "off", "bandwidth")]
    assert c.cap == "off"


def test_a_low_or_falling_remb_alone_does_not_step_down():
    """aiortc's REMB starts near zero and drops to 0.85 × the received rate on a keyframe burst or a CPU
    hiccup: what the subscriber demonstrably received outweighs it."""
    c = QualityController(0.0)
    seq = [(30_000, 0.0, HIGH), (497_000, 0.0, HIGH), (HIGH * 0.85, 0.0, HIGH), (50_000, 0.01, HIGH)] * 4
    assert run(c, seq) == [] and c.cap == "high"


def test_no_receiver_report_no_decision():
    c = QualityController(0.0)
    assert run(c, [(100_000, None, HIGH)] * 5) == [] and c.cap == "high"


def test_high_loss_twice_in_a_row_steps_down_once_is_not_enough():
    c = QualityController(0.0)
    assert run(c, [(3e6, 0.15, HIGH), (3e6, 0.0, HIGH), (3e6, 0.2, HIGH), (3e6, None, HIGH), (3e6, 0.01, HIGH)]) == []
    c = QualityController(0.0)
    # a step without a new report neither breaks nor extends the streak; REMB does not veto loss
    assert run(c, [(3e6, 0.15, HIGH), (None, None, HIGH), (3e6, 0.12, HIGH)]) == [(3.0, "low", "loss")]


def test_probe_with_padding_after_a_quiet_period_and_keep_the_higher_layer_if_loss_stays_low():
    c = QualityController(0.0)
    asked: list[tuple[float, float]] = []
    seq = [(510_000, 0.43, HIGH)] + [(300_000, 0.0, LOW)] * 7 + [(300_000 * 1.08**i, 0.0, HIGH) for i in range(10)]
    assert run(c, seq, asked=asked) == [(1.0, "low", "bandwidth"), (8.0, "high", "probe")]
    assert asked == [(7.0, NEEDS.high * 1.1)]  # padding to what high needs first; the layer only once it passed
    assert not c.probing and c.cap == "high"  # a slowly climbing REMB does not undo a good probe


def test_a_failed_padding_probe_changes_nothing_and_waits_twice_as_long():
    c = QualityController(0.0)
    asked: list[tuple[float, float]] = []
    assert run(c, [(510_000, 0.43, HIGH)] + [(300_000, 0.0, LOW)] * 30, padding="failed", asked=asked) == [
        (1.0, "low", "bandwidth"),
    ]
    assert [t for t, _ in asked] == [7.0, 20.0]  # 12 s after the failure, not 6
    assert c.cap == "low"


def test_a_probe_that_does_not_answer_counts_as_failed():
    c = QualityController(0.0)
    asked, out = [], False
    for i, (remb, loss, sent) in enumerate([(510_000, 0.43, HIGH)] + [(300_000, 0.0, LOW)] * 30):
        assert c.step(1.0 + i, Feedback(remb, loss, sent), NEEDS) is None or i == 0  # never answered, never up
        if c.probe_bps is not None and not out:
            asked.append(1.0 + i)
        out = c.probe_bps is not None
    assert asked == [7.0, 23.0] and c.cap == "low"  # timed out at 11, asked again 12 s later


def test_a_failed_layer_probe_goes_back_and_waits_twice_as_long():
    c = QualityController(0.0)
    seq = [(510_000, 0.43, HIGH)] + [(300_000, 0.0, LOW)] * 7 + [(300_000, 0.06, HIGH)] + [(300_000, 0.0, LOW)] * 14
    decisions = run(c, seq)
    assert decisions[:3] == [(1.0, "low", "bandwidth"), (8.0, "high", "probe"), (9.0, "low", "probe_failed")]
    assert decisions[3] == (22.0, "high", "probe")  # padding 12 s after the failure, not 6; the layer a step later
    # a probe that delivers far less than the layer needs fails at once too
    c = QualityController(0.0)
    decisions = run(c, [(510_000, 0.43, HIGH)] + [(300_000, 0.0, LOW)] * 7 + [(400_000, 0.04, 700_000)])
    assert decisions[-1] == (9.0, "low", "probe_failed")


def test_pacing_starts_once_the_line_has_shown_its_capacity():
    c = QualityController(0.0)
    run(c, [(None, 0.0, HIGH)] * 3)
    assert c.pace_bps(4.0, NEEDS) is None  # no loss: the line carries at least what it got, pass everything
    run(c, [(None, 0.43, HIGH)], start=4.0)  # 1.05 Mbps into 600 kbps: 598 kbps delivered
    # the old layer's queue drains: half the line, or room for the low layer's keyframes
    assert c.cap == "low" and c.pace_bps(4.0, NEEDS) == pytest.approx(max(HIGH * 0.57 * 0.5, NEEDS.low * 1.5))
    assert c.pace_bps(7.0, NEEDS) == pytest.approx(max(HIGH * 0.57 * 0.8, NEEDS.low * 2))  # then room for keyframes
    run(c, [(None, 0.0, 700_000)], start=8.0)  # the line carried more, cleanly: so much it carries at least
    assert c.pace_bps(9.0, NEEDS) == pytest.approx(700_000 * 0.8)  # a margin below what the line carries
    c = QualityController(0.0, cap="low")
    run(c, [(None, 0.5, 60_000)])  # an estimate below what low needs (a CPU stall, not the line)…
    assert c.pace_bps(5.0, NEEDS) == pytest.approx(NEEDS.low * 2.0)  # …is not trusted to starve it


def test_loss_in_the_quiet_period_postpones_the_probe_and_off_probes_to_low():
    c = QualityController(0.0)
    seq = [(100_000, 0.86, HIGH)] + [(None, 0.03, 50_000)] * 5 + [(None, 0.0, 50_000)] * 7
    assert run(c, seq) == [(1.0, "low", "bandwidth"), (5.0, "off", "bandwidth"), (13.0, "low", "probe")]


def test_the_plan_caps_the_probe_and_a_lower_plan_is_followed_quietly():
    c = QualityController(0.0)
    seq = [(100_000, 0.6, LOW)] * 2 + [(None, 0.0, 50_000)] * 19
    assert run(c, seq, top="low") == [(2.0, "off", "bandwidth"), (9.0, "low", "probe")]  # never above the plan
    # a plan that asks only for low (or a twin published late) is not a network limit: once the plan
    # asks for high, high is forwarded at once, without waiting for a probe
    c = QualityController(0.0)
    assert run(c, [(3e6, 0.0, LOW)] * 3, top="low") == [] and c.cap == "high"
    assert run(c, [(3e6, 0.0, HIGH)], start=4.0) == [] and c.cap == "high"


def test_reports_during_a_switch_count_for_the_layer_being_left():
    """Until the low keyframe arrives the link still carries high; the backlog's loss must not pause video."""
    c = QualityController(0.0)
    decisions = []
    seq = [(510_000, 0.6, HIGH, False), (200_000, 0.9, HIGH, True), (200_000, 0.8, HIGH, True),
           (200_000, 0.7, LOW, False), (200_000, 0.0, LOW, False), (300_000, 0.0, LOW, False)]
    for i, (remb, loss, sent, switching) in enumerate(seq):
        d = c.step(1.0 + i, Feedback(remb, loss, sent, switching), NEEDS)
        if d is not None:
            decisions.append((1.0 + i, d.cap, d.reason))
    assert decisions == [(1.0, "low", "bandwidth")] and c.cap == "low"
