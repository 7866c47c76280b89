"""`sanke bench media`'s probe path end to end, kept small: the SFU host in a process of its own (one SFU
worker), the publisher, two bot processes with counting probes and sinks, all over the bench's HTTP signal.

Nothing but the bench itself ran this path: an offer-id change once broke it (the probes' answers raised a
TypeError in their processes and the ladder stopped at its first step) and only a bench run showed it. A
160×120 clip and two steps (1 subscriber, then 10: the eight probes and two sinks) keep it to seconds of
media. No time bound is asserted, only floors far below 30 fps that tell receiving from not receiving, so it
is not `solo`; the processes it starts are its own and stopped by the ladder.
"""

from __future__ import annotations

import pytest

from loadtest.clip import load
from loadtest.media_ladder import PROBES, Ladder
from loadtest.media_report import Row

FLOOR_FPS = 10.0  # of a 30 fps clip: a starved machine stays above it, a path that carries nothing does not
NS = [1, 10]  # the first step: one probe; the second: every probe and two sinks


class AnswersSeen(Ladder):
    """The bench's ladder, reading after each step the answers the SFU host took (echoed ids or not)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.answers: list[dict[str, int]] = []

    async def step(self, n: int, late_joins: int, profiling: bool, longer: float = 1.0) -> Row:
        row = await super().step(n, late_joins, profiling, longer)
        self.answers.append(await self.signal.answers())
        return row


@pytest.mark.timeout(120)
async def test_the_bench_ladder_runs_its_probes_and_sinks_over_the_http_signal() -> None:
    lines: list[str] = []
    ladder = AnswersSeen("forward", 1, load(160, 120, 30, 60, 150_000), window=2.0, log=lines.append)
    await ladder.run(NS, late_joins=0, profile=None, stop_below=None, stall_at=None, stalls=None)
    log = "\n".join(lines)
    assert [row.n for row in ladder.rows] == NS, log
    assert not [line for line in lines if "not receiving" in line], log
    for row in ladder.rows:
        assert row.probe_fps > FLOOR_FPS, log  # the slowest probe received frames
    sinks = ladder.rows[-1].sink_min_fps
    assert sinks is not None and sinks > FLOOR_FPS, log  # the SFU's counters: it sent every sink the stream
    assert NS[-1] > PROBES  # (so the last step has sinks)
    # Every subscriber's answer echoed its offer's id and was taken: none refused, none left to the m-lines.
    assert ladder.answers == [
        {"echoed": 1, "without_id": 0, "refused": 0},
        {"echoed": NS[-1], "without_id": 0, "refused": 0},
    ], log
