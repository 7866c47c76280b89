"""`sanke bench media`: what forwarding costs the SFU, against aiortc's transcoding relay in the same run.

The SFU runs in its own process (`loadtest.sfu_host`); its CPU time is read from its /proc entry, so the
bots' work is not counted. One bot publishes a pre-encoded 640×480 30 fps VP8 clip; subscriber bots in
two worker processes count complete frames (decoding forty streams would starve a 2-core machine), and
late joiners decode, read the frame number from the pixels and time connected → first decoded frame.
On a small machine the bots share the cores with the SFU; on one of its own, `--bot-nice 10` gives the
SFU's workers the cores first so a second worker's gain is not eaten by the bots. Then the 1+N lesson shape
(`loadtest.bench_lesson`) per worker count.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import time

import aiohttp

from loadtest.bench_bots import (
    BITRATE,
    BOT_PROCS,
    CLIP_FRAMES,
    FPS,
    HEIGHT,
    WIDTH,
    HttpSignal,
    bot_process,
    cpu_split,
    quiet_asyncio,
    recv,
    stop_all,
    wait_http,
)
from loadtest.bench_signaling import free_port
from loadtest.bots import Bot, wait_for
from loadtest.clip import load
from loadtest.media_report import (
    HEADER,
    HELD_FPS,
    Row,
    Stall,
    _format,
    capacity_table,
    summarise,
)


async def _late_join(signal: HttpSignal, plan: dict[str, str], index: int) -> float | None:
    bot = Bot(f"late{index}", signal, subscribe_mode="decode")
    try:
        await signal.subscribe(bot, plan)
        ok = await wait_for(lambda: any(c.numbers for c in bot.video.values()), 5, step=0.005)
        check = next(iter(bot.video.values()), None)
        if not ok or check is None or bot.sub_connected_at is None or check.first_at is None:
            return None
        return (check.first_at - bot.sub_connected_at) * 1000
    finally:
        await signal.leave(bot)
        await bot.close()


async def _stall_window(signal: HttpSignal, bots, window: float) -> tuple[float, float]:
    t0 = time.monotonic()
    stall = asyncio.ensure_future(signal.stall())
    await asyncio.sleep(window)
    seconds = await stall
    t1 = time.monotonic()
    fps: list[float] = []
    for _, conn in bots:
        conn.send(("fps", (t0, t1)))
    for _, conn in bots:
        fps.extend(await recv(conn))
    return min(fps, default=0.0), seconds


async def run_mode(
    mode: str, ns: list[int], window: float, late_joins: int, profile: str | None, log, workers: int = 0,
    stop_below: float | None = None, stall_at: int | None = None, stalls: list[Stall] | None = None,
    bot_nice: int = 0,
) -> tuple[list[Row], list[float]]:
    """One SFU host; subscribers added in steps `ns`. With `stop_below`, the steps end once the slowest
    subscriber falls below that fps (the capacity was found); at `stall_at` subscribers one more window
    runs while the host's API does its CPU work (`stalls`)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "loadtest.sfu_host", "--port", str(port), "--mode", mode, "--workers", str(workers)]
    if profile:
        cmd += ["--profile", profile]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.DEVNULL)
    ctx = mp.get_context("spawn")
    bots = []  # the subscriber bot processes
    rows: list[Row] = []
    late_ms: list[float] = []
    clip = load(WIDTH, HEIGHT, FPS, CLIP_FRAMES, BITRATE)
    async with aiohttp.ClientSession() as http:
        signal = HttpSignal(base, http)
        publisher = Bot("publisher", signal, clip=clip)
        try:
            await wait_http(base, http)
            pids = await signal.pids()
            await publisher.publish()
            plan = {"publisher:0": "high"}
            for _ in range(BOT_PROCS):
                parent, child = ctx.Pipe()
                p = ctx.Process(target=bot_process, args=(child, base, bot_nice), daemon=True)
                p.start()
                bots.append((p, parent))
            count = 0
            for n in ns:
                names = [f"sub{i}" for i in range(count, n)]
                for w, (_, conn) in enumerate(bots):
                    conn.send(("add", (names[w::BOT_PROCS], plan)))
                replies = [await recv(conn) for _, conn in bots]
                count = n
                missing = [name for ok, names in replies for name in names]
                if missing:
                    log(f"  {mode} N={n}: no video at {', '.join(missing)}")
                await asyncio.sleep(1.5)
                profiling = bool(profile) and n == ns[-1]
                if profiling:
                    await signal.profile(True)
                fwd0, split0, t0 = await signal.forwarded(), cpu_split(pids), time.monotonic()
                await asyncio.sleep(window)
                fwd1, split1, t1 = await signal.forwarded(), cpu_split(pids), time.monotonic()
                if profiling:
                    await signal.profile(False)
                (fwd0, rtx0), (fwd1, rtx1) = fwd0, fwd1
                cpu0, cpu1 = sum(split0), sum(split1)
                sys_share = (split1[1] - split0[1]) / (cpu1 - cpu0) if cpu1 > cpu0 else 0.0
                fps: list[float] = []
                for _, conn in bots:
                    conn.send(("fps", (t0, t1)))
                for _, conn in bots:
                    fps.extend(await recv(conn))
                joins: list[float] = []
                for i in range(late_joins if mode == "forward" else 0):
                    await asyncio.sleep(0.6)  # past the PLI throttle window of the previous joiner
                    ms = await _late_join(signal, plan, len(late_ms) + i)
                    if ms is not None:
                        joins.append(ms)
                late_ms.extend(joins)
                wall = t1 - t0
                cpu = (cpu1 - cpu0) / wall
                pps = (fwd1 - fwd0) / wall
                row = Row(
                    mode, n, cpu * 100, pps, cpu * 1e6 / pps if pps else float("nan"), min(fps, default=0.0),
                    max(joins) if joins else None, sys_share * 100, (rtx1 - rtx0) / wall,
                    statistics.fmean(fps) if fps else 0.0, workers,
                )
                rows.append(row)
                log(_format(row))
                if stall_at == n and stalls is not None:
                    low, seconds = await _stall_window(signal, bots, window)
                    stalls.append(Stall(n, low, seconds))
                    log(f"  {mode} workers={workers} N={n}: while the API hashed 20 passwords and parsed an upload "
                        f"({seconds:.1f} s): min fps {low:.1f}")
                if stop_below is not None and row.min_fps < stop_below and n >= (stall_at or 0):
                    break
        finally:
            await stop_all(bots, publisher, proc)
    return rows, late_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sanke bench media", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="N = 1, 10 only, shorter windows")
    parser.add_argument("--ns", help="comma-separated subscriber counts for forwarding (steps end below 29 fps)")
    parser.add_argument("--baseline-ns", help="comma-separated subscriber counts for the transcoding baseline")
    parser.add_argument("--workers", help="comma-separated SFU worker counts, one column each (0: in-process); "
                        "default 1,2")
    parser.add_argument("--stall-n", type=int, default=10, help="subscribers while the API is made busy")
    parser.add_argument("--lesson", type=int, help="classrooms in the 1+N lesson shape, per worker count "
                        "(default 20, --quick 6; 0 skips it)")
    parser.add_argument("--bot-nice", type=int, default=0, help="niceness of the subscriber bot processes: on a "
                        "small machine of its own the SFU then has the cores first, so its workers' scaling shows; "
                        "on a machine shared with other work niced bots starve (they stopped answering ICE "
                        "consent for 40 s at load 25), so the default is 0")
    parser.add_argument("--window", type=float, help="seconds measured per N")
    parser.add_argument("--late-joins", type=int, help="late joiners per N (forwarding)")
    parser.add_argument("--profile", help="cProfile the SFU process (forwarding) into this file and print its top")
    args = parser.parse_args(argv)
    ns = [int(x) for x in (args.ns or ("1,10" if args.quick else "1,5,10,20,30,40,60,80")).split(",")]
    base_spec = args.baseline_ns if args.baseline_ns is not None else ("1,10" if args.quick else "1,5,10")
    base_ns = [int(x) for x in base_spec.split(",") if x]
    counts = [int(x) for x in (args.workers or "1,2").split(",")]
    window = args.window or (3.0 if args.quick else 8.0)
    late = args.late_joins if args.late_joins is not None else (3 if args.quick else 2)

    def log(line: str) -> None:
        print(line, flush=True)

    quiet_asyncio()
    started = time.monotonic()
    log(f"SFU benchmark: one 640x480 {FPS} fps VP8 publisher, subscribers {ns} (until one falls below "
        f"{HELD_FPS:.0f} fps), SFU worker counts {counts}, baseline {base_ns}")
    log(f"(machine: {os.cpu_count()} cores, shared with other work; SFU CPU read from its processes: host and "
        f"workers; W = SFU worker processes, 0 = in the host)")
    log(HEADER)
    runs: dict[int, list[Row]] = {}
    lates: dict[int, list[float]] = {}
    stalls: list[Stall] = []
    by_workers: dict[int, Stall] = {}
    for w in counts:
        stall_at = args.stall_n if args.stall_n in ns else None
        rows, late_ms = asyncio.run(run_mode(
            "forward", ns, window, late, args.profile if w == counts[0] else None, log, workers=w,
            stop_below=HELD_FPS, stall_at=stall_at, stalls=stalls, bot_nice=args.bot_nice,
        ))
        runs[w], lates[w] = rows, late_ms
        if stalls:
            by_workers[w] = stalls.pop()
    classrooms = args.lesson if args.lesson is not None else (6 if args.quick else 20)
    lessons = []
    if classrooms:
        from loadtest.bench_lesson import HEADER as LESSON_HEADER
        from loadtest.bench_lesson import run_lesson

        log(LESSON_HEADER)
        for w in counts:
            lessons.append(asyncio.run(run_lesson(w, classrooms, window, log)))
    base: list[Row] = []
    if base_ns:
        log(HEADER)
        base, _ = asyncio.run(run_mode("transcode", base_ns, window, 0, None, log))
    if args.profile:
        import pstats

        log("")
        log(f"profile of the SFU process during the N={ns[-1]} window (CPU time, top by own time; "
            "profiling slows the process, compare entries with each other):")
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(18)
    all_late = [ms for v in lates.values() for ms in v]
    log("")
    for line in capacity_table(runs, lates, by_workers):
        log(line)
    log(f"({time.monotonic() - started:.0f} s; late joins measured: {len(all_late)}, "
        f"median {statistics.median(all_late) if all_late else float('nan'):.0f} ms)")
    fwd = runs[counts[0]]
    if base:
        log("ratio_vs_transcode compares CPU per subscriber scaled to 30 fps delivered (mean fps: "
            + ", ".join(f"{r.mode} W={r.workers} N={r.n} {r.mean_fps:.1f}" for r in fwd + base if r.n in (1, 10))
            + ")")
    default = os.cpu_count() or 1
    stall = by_workers.get(default) or (by_workers[counts[-1]] if counts[-1] in by_workers else None)
    line = summarise(fwd, base, all_late, runs, stall)
    if lessons:
        worst = min(min(r.classroom_min_fps, r.teacher_min_fps) for r in lessons)
        line += f" lesson_1_{classrooms}_min_fps={worst:.1f}"
    log(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
