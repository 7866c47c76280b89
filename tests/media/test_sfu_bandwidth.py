"""Bandwidth-driven quality through the real server: subscribers behind UDP shapers (loadtest/shaper.py).

A hub teacher publishes a 1 Mbps camera with a 150 kbps low twin and a tone; three remote classrooms
receive it through their own shaped links: 600 kbps, 3 Mbps, and 3 Mbps that drops to 600 kbps. What a
classroom would check: the picture keeps moving (fps, no long freeze), it is the small one when the
line is slow and the sharp one when it is fast, the sound never stops, and the page is told why. The hub,
each classroom and each line are processes of their own (loadtest.shaped_process): on a loaded machine a
classroom that waits for another's packets, or for this loop, reports a slower line than it has.
`SANKE_QUALITY_SECONDS` (default 6) is how long each steady phase is watched; set 60 for a long run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from loadtest.bots import wait_for
from loadtest.clip import Clip, grainy
from loadtest.shaped_process import ShapedBotProcess, as_remote
from loadtest.shaper import Link

STEADY_S = float(os.environ.get("SANKE_QUALITY_SECONDS", "6"))
HIGH, LOW = (320, 240), (160, 128)
CAMERA = "hub:0"  # the high track id the classrooms subscribe to


# a shaped link, audio gaps and rates measured in real time: alone, after the parallel part (Makefile)
pytestmark = pytest.mark.solo


@pytest.fixture(scope="module")
def clips() -> tuple[Clip, Clip]:
    return grainy(320, 240, 30, 90, 1_000_000), grainy(160, 128, 30, 90, 150_000)


def _first_size_at(bot: ShapedBotProcess, size: tuple[int, int], after: float = 0.0) -> float | None:
    check = bot.video.get(CAMERA)
    return next((at for at, s in (check.size_changes if check else []) if s == size and at >= after), None)


def _steady(bot: ShapedBotProcess, since: float, until: float) -> tuple[float, float, float]:
    """(fps, longest freeze, longest audio gap) between two instants."""
    video = bot.video[CAMERA]
    audio = next(iter(bot.audio.values()))
    return video.fps(since, until), video.longest_freeze(since, until), audio.longest_gap(since, until)


async def _now(*bots: ShapedBotProcess) -> float:
    """Now, once every bot has reported what it saw up to now."""
    now = time.monotonic()
    for bot in bots:
        assert await bot.caught_up(now), (bot.name, "did not report")
    return now


def _changes(bot: ShapedBotProcess) -> list[dict]:
    return [e for e in bot.events if e.get("type") == "quality.changed"]


async def test_subscribers_follow_their_bandwidth(lesson_server, clips):
    srv = lesson_server
    assert clips  # built (and cached on disk) before the publisher process needs them
    room = await srv.room("delivery")
    classes: dict[str, ShapedBotProcess] = {}
    hub: asyncio.subprocess.Process | None = None
    try:
        # the hub teacher is its own process, as it is another machine: its camera must not wait for this
        # process's loop (the bots' CLI publishes the same grainy clips, cached on disk by the fixture)
        hub = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loadtest.bots", "--url", srv.url, "--publish", "--grainy",
            "--bitrate", "1000000", "--low-bitrate", "150000", "--seconds", "300",
            "--token", srv.token(room, "delivery", "hub", "hub_teacher", "hub"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        as_remote(hub.pid)
        # each classroom is its own process too (loadtest.shaped_process): a bot that waits for another's
        # packets, or for this loop, would have its delay-based estimate report a slower line than it has
        for name, rate in (("slow", 600_000), ("fast", 3_000_000), ("drop", 3_000_000)):
            token = srv.token(room, "delivery", name, "classroom", "remote")
            classes[name] = ShapedBotProcess(name, srv.url, token, Link(rate_bps=rate))
        await asyncio.gather(*(bot.start() for bot in classes.values()))
        slow, fast, drop = classes["slow"], classes["fast"], classes["drop"]

        def receiving(bot: ShapedBotProcess) -> bool:
            return CAMERA in bot.video and bot.video[CAMERA].frames > 0 and bool(bot.audio)

        assert await wait_for(lambda: all(receiving(b) for b in classes.values()), 15)
        started = {name: b.video[CAMERA].first_at or 0.0 for name, b in classes.items()}

        # 600 kbps: on the low layer within 5 s of its first picture
        assert await wait_for(lambda: _first_size_at(slow, LOW) is not None, 8)
        settled = _first_size_at(slow, LOW) or 0.0
        assert settled - started["slow"] <= 5.0, (settled - started["slow"], slow.video[CAMERA].size_changes)

        # the 3 Mbps pair stay sharp while the slow one is watched steadily
        await asyncio.sleep(max(0.0, settled + STEADY_S - time.monotonic()))
        now = await _now(*classes.values())
        fps, freeze, gap = _steady(slow, settled, now)
        assert fps >= 15 and freeze <= 1.0, (fps, freeze, slow.video[CAMERA].size_changes)
        assert gap <= 0.5, gap
        for bot in (fast, drop):
            fps, freeze, gap = _steady(bot, started[bot.name] + 1, now)
            assert bot.video[CAMERA].last_size == HIGH and fps >= 25 and freeze <= 1.0, (bot.name, fps, freeze)
            assert gap <= 0.5, (bot.name, gap)

        # 3 Mbps → 600 kbps: followed to the low layer within 5 s
        dropped = time.monotonic()
        drop.set_link(rate_bps=600_000)
        assert await wait_for(lambda: _first_size_at(drop, LOW, after=dropped) is not None, 8)
        followed = _first_size_at(drop, LOW, after=dropped) or 0.0
        assert followed - dropped <= 5.0, followed - dropped
        await asyncio.sleep(max(0.0, followed + STEADY_S - time.monotonic()))
        now = await _now(*classes.values())
        fps, freeze, gap = _steady(drop, followed, now)
        assert fps >= 15 and freeze <= 1.0, (fps, freeze, drop.video[CAMERA].size_changes)
        assert gap <= 0.5, gap

        # the fast one never left the high layer; audio ran throughout for everyone
        assert [s for _, s in fast.video[CAMERA].size_changes] == [HIGH]
        assert not _changes(fast)
        for bot in classes.values():
            at, gap = next(iter(bot.audio.values())).gap_at(started[bot.name] + 1, now)
            assert gap <= 0.5, (bot.name, gap, "s, starting", at - started[bot.name], "s after the first picture")

        # the pages were told: low layer, with the reason and the tracks it applies to
        for bot in (slow, drop):
            first = _changes(bot)[0]
            assert first["layer"] == "low" and first["reason"] in ("bandwidth", "loss"), first
            assert first["tracks"] == [CAMERA]
        for bot in classes.values():
            print(bot.name, [(e["layer"], e["reason"], e["estimate_bps"], e["loss"]) for e in _changes(bot)])
    finally:
        if hub is not None:
            hub.terminate()
            await hub.wait()
        for bot in classes.values():
            print(bot.name, bot.link, await bot.counters())
        await asyncio.gather(*(bot.close() for bot in classes.values()))
