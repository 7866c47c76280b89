"""`sanke bench media`: how many subscribers one SFU worker process, then two, hold at 30 fps, what each
forwarded packet costs, and forwarding against aiortc's transcoding relay in the same run.

The SFU runs in its own process (`loadtest.sfu_host`, with `--workers` SFU worker processes); its CPU time
is read from /proc, so the bots' work is not counted. One bot publishes a pre-encoded 640×480 30 fps VP8
clip of about 1 Mbps. The subscriber ladder (`loadtest.media_ladder`) starts with counting bots in two
processes (complete frames received) and goes on with sinks (`loadtest.sink`: real WebRTC subscribers whose
media the kernel drops, checked by the SFU's own counters), so it climbs until the SFU's cores, not the
bots', are what runs out. Late joiners decode, read the frame number from the pixels and time connected →
first decoded frame. A table gives the CPU split per process (SFU host, each worker, bots, the publisher,
other work on the machine) at each worker count's capacity. Then the same ladders again with each SFU worker
held to the same share of a core (`--worker-cores`, loadtest.cpu_cap), in rounds in ABBA order (1, 2, then 2,
1 workers): on a machine whose cores the bots share, that is how a second worker's added capacity is measured
(`workers_scaling`, over the rounds; the uncapped ratio is `machine_scaling`). Then the 1+N lesson shape
(`loadtest.bench_lesson`) per worker count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from loadtest.bench_bots import CLIP_FRAMES, FPS, HEIGHT, PUBLISHER_BPS, WIDTH, quiet_asyncio
from loadtest.clip import grainy
from loadtest.cpu_cap import root as cgroup_root
from loadtest.media_cpu import split_header, split_line
from loadtest.media_ladder import Ladder
from loadtest.media_report import HEADER, HELD_FPS, Row, Stall, capacity_table, held, summarise

LADDER = "1,10,20,40,80,120,180,260,360,480,640,840,1120,1480,1960"
SPLIT = ["host", "worker0", "worker1", "bots", "publisher", "others", "softirq", "machine"]


def _ladder(mode: str, workers: int, clip, ns: list[int], window: float, log, **kw) -> Ladder:
    ladder = Ladder(mode, workers, clip, window, log, kw.pop("bot_nice", 0), kw.pop("worker_cores", None))
    asyncio.run(ladder.run(ns, **kw))
    return ladder


def _splits(runs: dict[int, list[Row]], log) -> None:
    """CPU per process (% of one core) at each worker count's capacity and at the first step past it."""
    log(f"CPU split, % of one core ({os.cpu_count()} cores; others: the machine's busy time outside the bench; "
        "softirq: packet delivery, already inside the process it interrupted)")
    log(split_header(SPLIT))
    for w, rows in runs.items():
        n, top = held(rows)
        past = min((r for r in rows if r.n > n), key=lambda r: r.n, default=None)
        for row in (top, past):
            if row is not None and row.split is not None:
                log(split_line(w, row.n, row.split, SPLIT) + ("" if row is top else "   (not held)"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sanke bench media", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="N = 1, 10, 40 only, shorter windows")
    parser.add_argument("--ns", help=f"comma-separated subscriber counts for forwarding (default {LADDER}; the "
                        "steps end below 29 fps)")
    parser.add_argument("--refine", type=int, help="steps bisecting between the last held N and the first not "
                        "held (default 2, --quick 0)")
    parser.add_argument("--baseline-ns", help="comma-separated subscriber counts for the transcoding baseline")
    parser.add_argument("--workers", help="comma-separated SFU worker counts, one column each (0: in-process); "
                        "default 1,2")
    parser.add_argument("--stall-n", type=int, default=10, help="subscribers while the API is made busy")
    parser.add_argument("--lesson", type=int, help="classrooms in the 1+N lesson shape, per worker count "
                        "(default 20, --quick 6; 0 skips it)")
    parser.add_argument("--bot-nice", type=int, default=0, help="niceness of the subscriber bot processes (the "
                        "probes: a starved probe reads as a slow SFU; on a shared machine niced bots stopped "
                        "answering ICE consent for 40 s at load 25), default 0")
    parser.add_argument("--worker-cores", type=float, default=0.5, help="the capped ladders hold each SFU worker "
                        "to this share of a core (default 0.5; 0 skips them; needs root and the cgroup cpu "
                        "controller)")
    parser.add_argument("--capped-rounds", type=int, default=2, help="rounds of capped ladders, in ABBA order "
                        "(1, 2, 2, 1 workers): one capacity moves by 10-20 %% between runs on a shared machine, "
                        "and `workers_scaling` sums the rounds (default 2)")
    parser.add_argument("--window", type=float, help="seconds measured per N")
    parser.add_argument("--late-joins", type=int, help="late joiners per N up to 80 (forwarding)")
    parser.add_argument("--profile", help="cProfile the SFU host (forwarding) into this file and print its top "
                        "(with --workers 0 the forwarding runs there; py-spy reads a worker)")
    args = parser.parse_args(argv)
    ns = [int(x) for x in (args.ns or ("1,10,40" if args.quick else LADDER)).split(",")]
    base_spec = args.baseline_ns if args.baseline_ns is not None else ("1,10" if args.quick else "1,5,10")
    base_ns = [int(x) for x in base_spec.split(",") if x]
    counts = [int(x) for x in (args.workers or "1,2").split(",")]
    window = args.window or (3.0 if args.quick else 6.0)
    late = args.late_joins if args.late_joins is not None else (3 if args.quick else 2)
    refine = args.refine if args.refine is not None else (0 if args.quick else 2)

    def log(line: str) -> None:
        print(line, flush=True)

    quiet_asyncio()
    started = time.monotonic()
    clip = grainy(WIDTH, HEIGHT, FPS, CLIP_FRAMES, PUBLISHER_BPS)
    mbps = sum(len(f.data) for f in clip.frames) * 8 * FPS / len(clip.frames) / 1e6
    log(f"SFU benchmark: one 640x480 {FPS} fps VP8 publisher ({mbps:.2f} Mbps), subscribers {ns} (until one "
        f"falls below {HELD_FPS:.0f} fps, then {refine} bisecting steps), SFU worker counts {counts}, "
        f"baseline {base_ns}")
    log(f"(machine: {os.cpu_count()} cores, shared with other work, load average {os.getloadavg()[0]:.1f}; SFU "
        "CPU read from its processes: host and workers; W = SFU worker processes, 0 = in the host; min fps: "
        "the slowest subscriber, probes: counting bots' complete frames, sinks: frames the SFU sent each sink)")
    log(HEADER)
    runs: dict[int, list[Row]] = {}
    lates: dict[int, list[float]] = {}
    stalls: list[Stall] = []
    by_workers: dict[int, Stall] = {}
    for w in counts:
        stall_at = args.stall_n if args.stall_n in ns else None
        ladder = _ladder("forward", w, clip, ns, window, log, late_joins=late,
                         profile=args.profile if w == counts[0] else None, stop_below=HELD_FPS, stall_at=stall_at,
                         stalls=stalls, refine=refine, bot_nice=args.bot_nice)  # fmt: skip
        runs[w], lates[w] = ladder.rows, ladder.late_ms
        if stalls:
            by_workers[w] = stalls.pop()
    capped: list[dict[int, list[Row]]] = []
    if args.worker_cores and cgroup_root() is None:
        log("(no writable cgroup with CPU bandwidth control here: the capped ladders are skipped)")
    elif args.worker_cores:
        log(f"each SFU worker held to {args.worker_cores:g} of a core (the rest of the machine is the bots'):")
        capped = [{} for _ in range(args.capped_rounds)]
        for r, rows in enumerate(capped):
            for w in counts if r % 2 == 0 else counts[::-1]:
                rows[w] = _ladder("forward", w, clip, ns, window, log, late_joins=0, profile=None,
                                  stop_below=HELD_FPS, stall_at=None, stalls=None, refine=refine + 1,
                                  bot_nice=args.bot_nice, worker_cores=args.worker_cores).rows  # fmt: skip
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
        base = _ladder("transcode", 0, clip, base_ns, window, log, late_joins=0, profile=None, stop_below=None,
                       stall_at=None, stalls=None).rows  # fmt: skip
    if args.profile:
        import pstats

        log("")
        log(f"profile of the SFU host during the N={ns[-1]} window (CPU time, top by own time; "
            "profiling slows the process, compare entries with each other):")
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(18)
    all_late = [ms for v in lates.values() for ms in v]
    log("")
    _splits(runs, log)
    for line in capacity_table(runs, lates, by_workers):
        log(line)
    for r, by_w in enumerate(capped):
        rows = dict(sorted(by_w.items()))  # a round run 2, 1 is printed 1, 2 as the others
        log(f"each SFU worker held to {args.worker_cores:g} of a core, round {r + 1} of {len(capped)}:")
        _splits(rows, log)
        for line in capacity_table(rows, {}, {}):
            log(line)
    for name, ladders in (("", runs), *((f"capped round {r + 1}: ", rows) for r, rows in enumerate(capped))):
        topped = [w for w, rows in ladders.items() if rows and held(rows)[0] == max(r.n for r in rows)]
        if topped:  # a faster machine than the ladder was made for: the ratio is then only a lower bound
            log(f"({name}workers {topped} still held the ladder's largest N: their capacity is more; --ns goes higher)")
    log(f"({time.monotonic() - started:.0f} s, load average now {os.getloadavg()[0]:.1f}; late joins measured: "
        f"{len(all_late)}, median {statistics.median(all_late) if all_late else float('nan'):.0f} ms)")
    fwd = runs[counts[0]]
    if base:
        log("ratio_vs_transcode compares CPU per subscriber scaled to 30 fps delivered (mean fps: "
            + ", ".join(f"{r.mode} W={r.workers} N={r.n} {r.mean_fps:.1f}" for r in fwd + base if r.n in (1, 10))
            + ")")
    default = os.cpu_count() or 1
    stall = by_workers.get(default) or (by_workers[counts[-1]] if counts[-1] in by_workers else None)
    line = summarise(fwd, base, all_late, runs, stall, capped)
    if lessons:
        worst = min(min(r.classroom_min_fps, r.teacher_min_fps) for r in lessons)
        line += f" lesson_1_{classrooms}_min_fps={worst:.1f}"
    log(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
