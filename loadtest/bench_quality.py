"""`sanke bench quality`: subscribers behind bandwidth shapers, with bandwidth-driven quality and without.

One publisher sends a 1 Mbps camera, its 150 kbps low twin and a tone to an in-process SFU. Each
subscriber's connection runs through its own `loadtest.shaper` process: 400 kbps, 600 kbps, 1 Mbps,
3 Mbps, and one at 3 Mbps that drops to 600 kbps a third of the way in. The same shapes run twice: with
the SFU's adaptation (media/quality.py) and without it (the baseline: what every subscriber got before,
the high layer whatever its line). Per subscriber: the layer it ends on, seconds from its first picture
(or from the drop) to the low layer, frames per second and the longest freeze over the second half,
and the longest gap in its audio. The last line carries the figures the issue asks for.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass

from loadtest.bots import Bot, DirectSignal, wait_for
from loadtest.clip import grainy
from loadtest.shaped import ShapedBot
from loadtest.shaper import Link, ShaperProcess
from media.service import MediaService

ROOM = "bench-quality"
HIGH, LOW = (320, 240), (160, 128)
CAMERA, AUDIO = "pub:0", "pub:2"
SHAPES: list[tuple[str, int, int | None]] = [  # name, rate, rate after the drop
    ("400k", 400_000, None), ("600k", 600_000, None), ("1M", 1_000_000, None), ("3M", 3_000_000, None),
    ("3M→600k", 3_000_000, 600_000),
]


@dataclass(slots=True)
class Row:
    name: str
    adaptive: bool
    layer: str
    to_low_s: float | None
    fps: float
    freeze_s: float
    audio_gap_s: float
    changes: int


def _layer(bot: Bot) -> str:
    check = bot.video.get(CAMERA)
    size = check.last_size if check else None
    return "high" if size == HIGH else "low" if size == LOW else "none"


async def run(seconds: float, adaptive: bool) -> list[Row]:
    high, low = grainy(320, 240, 30, 90, 1_000_000), grainy(160, 128, 30, 90, 150_000)
    service = MediaService()
    signal = DirectSignal(service, ROOM)
    publisher = signal.add(Bot("pub", signal, clip=high, low_clip=low, tone_hz=440))
    shapers: dict[str, ShaperProcess] = {}
    subs: dict[str, ShapedBot] = {}
    try:
        await publisher.publish()
        if not await wait_for(lambda: len(signal.published) == 3, 10):
            raise RuntimeError("the publisher's three tracks were not published")
        service.routers[ROOM].quality.enabled = adaptive
        for i, (name, rate, _) in enumerate(SHAPES):
            shaper = shapers[name] = ShaperProcess(Link(rate_bps=rate))
            await shaper.start("127.0.0.1")
            subs[name] = signal.add(ShapedBot(f"s{i}", signal, shaper))
            await service.set_subscriptions(ROOM, f"s{i}", {CAMERA: "high", AUDIO: "high"})
        await wait_for(lambda: all(CAMERA in b.video and b.video[CAMERA].frames for b in subs.values()), 20)
        started = time.monotonic()
        dropped_at: dict[str, float] = {}
        await asyncio.sleep(seconds / 3)
        for name, _, after in SHAPES:
            if after is not None:
                shapers[name].set_link(rate_bps=after)
                dropped_at[name] = time.monotonic()
        await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
        end = time.monotonic()
        rows = []
        for name, bot in subs.items():
            check = bot.video.get(CAMERA)
            audio = bot.audio.get(AUDIO)
            since = dropped_at.get(name, check.first_at if check and check.first_at else started)
            to_low = next((at - since for at, size in (check.size_changes if check else []) if size == LOW and at >= since), None)
            half = end - seconds / 2
            rows.append(Row(
                name, adaptive, _layer(bot), to_low,
                check.fps(half, end) if check else 0.0, check.longest_freeze(half, end) if check else seconds,
                audio.longest_gap(started, end) if audio else seconds,
                sum(1 for _, pid, _c in signal.quality if pid == bot.name),
            ))
        return rows
    finally:
        for bot in [publisher, *subs.values()]:
            with contextlib.suppress(Exception):
                await bot.close()
        for shaper in shapers.values():
            await shaper.close()
        await service.close()


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sanke bench quality", description=__doc__)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SANKE_QUALITY_SECONDS", 24)),
                        help="length of each run (the drop comes at a third)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    load = os.getloadavg()[0]
    rows = asyncio.run(run(args.seconds, adaptive=True)) + asyncio.run(run(args.seconds, adaptive=False))
    print(f"machine load {load:.1f} (1 min) at start, {os.getloadavg()[0]:.1f} at end; {os.cpu_count()} cores")
    print(f"{'link':<9} {'mode':<9} {'layer':<5} {'to low s':>8} {'fps':>5} {'freeze s':>8} {'audio gap s':>11} {'changes':>7}")
    for r in rows:
        print(f"{r.name:<9} {'adaptive' if r.adaptive else 'baseline':<9} {r.layer:<5} {_fmt(r.to_low_s):>8} "
              f"{r.fps:>5.1f} {r.freeze_s:>8.2f} {r.audio_gap_s:>11.2f} {r.changes:>7}")
    a = {r.name: r for r in rows if r.adaptive}
    b = {r.name: r for r in rows if not r.adaptive}
    print(
        f"quality-bench: settle_600k_s={_fmt(a['600k'].to_low_s)} fps_600k={a['600k'].fps:.1f} "
        f"freeze_600k_s={a['600k'].freeze_s:.2f} baseline_fps_600k={b['600k'].fps:.1f} "
        f"drop_follow_s={_fmt(a['3M→600k'].to_low_s)} high_3m={a['3M'].layer} "
        f"audio_gap_max_s={max(r.audio_gap_s for r in a.values()):.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
