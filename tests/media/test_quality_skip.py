"""The quality step skipped for an idle subscriber (media.bandwidth.idle_step) decides exactly what stepping every
time decides: two controllers, one stepped always and one only when the step is not idle, over random
feedback (loss, REMB, onset, switches, probe answers), must agree at every step on the decision, the cap, the
pacing rate and the probe asked for. A change to media.quality that makes an idle-looking step act fails here."""

from __future__ import annotations

import random

import pytest

from media.bandwidth import clean_after, idle_step
from media.quality import DEFAULT, Feedback, Needs, QualityController

NEEDS = Needs(1_300_000, 400_000, 50_000)


def feedback(rng: random.Random, probe_wanted: bool, calm: bool) -> Feedback:
    quiet = calm or rng.random() < 0.6  # most steps of a large room: nothing but a REMB, or a clean report
    loss = rng.choice([None, None, 0.0]) if quiet else rng.choice([None, 0.0, 0.01, 0.03, 0.06, 0.12, 0.5])
    remb = rng.choice([None, 3_000_000.0, 3_000_000.0, 1_000_000.0, 450_000.0, 200_000.0])
    return Feedback(
        remb, loss, sent_bps=rng.choice([None, 1_350_000.0, 600_000.0]), switching=not quiet and rng.random() < 0.1,
        probe=rng.choice(["ok", "failed"]) if probe_wanted and rng.random() < 0.7 else None,
        received_bps=rng.choice([None, 1_300_000.0, 500_000.0]), full=not quiet and rng.random() < 0.1,
        offered_bps=rng.choice([None, 1_350_000.0, 520_000.0]),
    )


@pytest.mark.parametrize("seed", range(100))
def test_skipping_idle_steps_decides_the_same(seed: int) -> None:
    rng = random.Random(seed)
    top = rng.choice(["high", "low"])
    always, skipping = QualityController(0.0), QualityController(0.0)
    rate: float | None = None  # the skipping side's pacer: set by its full steps only
    clean = True
    skipped = 0
    calm_until = rng.randrange(10, 120)  # a line that starts quiet, then anything may happen
    for i in range(1, 300):
        now = i * 0.5
        fb = feedback(rng, always.probe_bps is not None, i < calm_until)
        expected = always.step(now, fb, NEEDS, top)  # type: ignore[arg-type]
        expected_rate = always.pace_bps(now, NEEDS, top)  # type: ignore[arg-type]
        if idle_step(skipping, DEFAULT, fb, rate is not None, clean):
            got = None
            skipped += 1
        else:
            clean = clean_after(fb, DEFAULT, clean)
            got = skipping.step(now, fb, NEEDS, top)  # type: ignore[arg-type]
            rate = skipping.pace_bps(now, NEEDS, top)  # type: ignore[arg-type]
        assert got == expected, f"step {i}: {fb}"
        assert (skipping.cap, skipping.probe_bps, skipping.probing) == (always.cap, always.probe_bps, always.probing)
        assert rate == expected_rate, f"step {i}: pacing"
    assert skipped > 0  # the sequences do reach idle steps


def test_an_unpaced_subscriber_with_only_rembs_is_idle_and_a_lossy_one_is_not() -> None:
    controller = QualityController(0.0)
    assert idle_step(controller, DEFAULT, Feedback(3_000_000.0, None), paced=False, clean=True)
    assert idle_step(controller, DEFAULT, Feedback(3_000_000.0, 0.0), paced=False, clean=True)
    assert not idle_step(controller, DEFAULT, Feedback(3_000_000.0, 0.0), paced=False, clean=False)
    assert not idle_step(controller, DEFAULT, Feedback(3_000_000.0, 0.12), paced=False, clean=True)
    assert not idle_step(controller, DEFAULT, Feedback(3_000_000.0, None), paced=True, clean=True)
