"""One SFU host and a ladder of subscribers for `sanke bench media`: the rows of its table, per worker count.

The first `PROBES` subscribers are counting bots (loadtest.bots, mode "count": complete frames received,
spread so that some sit on each SFU worker); every further one is a sink (loadtest.sink: a real WebRTC
subscriber whose media the kernel drops), so the ladder can climb until the SFU, not the bots, runs out of
CPU. After each resize the ladder waits (up to 15 s) until the SFU sends at the clip's rate again: a worker
that has just taken a hundred joins falls behind and then catches up faster than real time. A step is held
when the slowest probe received ≥ 29 fps and the SFU's own counters show it sent every sink ≥ 29 frames a
second (loadtest.sfu_counts), in a steady window (no more than 31 on average: not catching up after a stall;
media_report.steady); a step that is not is measured once more before the ladder stops
(a slow window on a shared machine is not the capacity). After the first step that is not held, `refine`
more steps bisect between it and the last held one (sinks leave or join), so the capacity is known to
within a quarter of the ladder's last gap. With `worker_cores`, each SFU worker is held to that share of a core
(loadtest.cpu_cap), so the bots' share of the machine does not decide the capacity.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import time

import aiohttp

from loadtest.bench_bots import BOT_PROCS, HttpSignal, bot_process, cpu_split, recv, stop_all, wait_http
from loadtest.bench_signaling import free_port
from loadtest.bots import Bot, wait_for
from loadtest.clip import Clip
from loadtest.cpu_cap import CpuCap
from loadtest.media_cpu import sample, split
from loadtest.media_report import FPS, HELD_FPS, STEADY_FPS, Row, Stall, _format, steady
from media import consent

PROBES = 8  # counting bots among the subscribers; the rest are sinks
LATE_UP_TO = 80  # late joiners are timed at steps up to this many subscribers (the product's room sizes)
GRAIN = 10  # a refining step's subscriber count is a multiple of this
# A step measured once more is measured over this many windows: a throttled worker's keyframe burst leaves it
# ~0.2 s behind for a moment, and at a window's edge that moves ±1 fps between two 6 s windows.
AGAIN = 2.0
SETTLE_S = 1.5  # after a resize, before the SFU's sending rate is checked
SETTLE_MAX_S = 15.0  # the longest wait for a worker to catch up after joins
JOINS_STALL_S = 4.0  # a worker still below the rate this long after the joins is not catching up


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


async def _fps(bots, t0: float, t1: float) -> list[float]:
    fps: list[float] = []
    for _, conn in bots:
        conn.send(("fps", (t0, t1)))
    for _, conn in bots:
        fps.extend(await recv(conn))
    return fps


async def _stall_window(signal: HttpSignal, bots, window: float) -> tuple[float, float]:
    t0 = time.monotonic()
    stall = asyncio.ensure_future(signal.stall())
    await asyncio.sleep(window)
    seconds = await stall
    return min(await _fps(bots, t0, time.monotonic()), default=0.0), seconds


def _sent_fps(before: list[dict], after: list[dict]) -> tuple[dict[str, float], dict[str, int]]:
    """Frames a second the SFU sent each subscriber between two readings, over the window of the SFU process's
    own clock (a throttled worker answers late: the time the request took is not time it was sending), and
    the SFU process each one is on."""
    fps: dict[str, float] = {}
    where: dict[str, int] = {}
    for index, (a, b) in enumerate(zip(before, after, strict=False)):
        wall = b["at"] - a["at"]
        for name, (_, frames) in b["consumers"].items():
            if name in a["consumers"] and wall > 0:
                fps[name] = (frames - a["consumers"][name][1]) / wall
                where[name] = index
    return fps, where


def _received_fps(before: list[dict], after: list[dict]) -> float:
    """Frames a second the SFU received of the publisher's video (the busiest producer) between two readings:
    where it is short, frames were lost or late before the SFU forwarded anything."""
    best = 0.0
    for a, b in zip(before, after, strict=False):
        wall = b["at"] - a["at"]
        for track, (_, frames) in b["producers"].items():
            if track in a["producers"] and wall > 0:
                best = max(best, (frames - a["producers"][track][1]) / wall)
    return best


class Ladder:
    """The SFU host, the publisher and the bot processes of one worker count (see the module docstring)."""

    def __init__(self, mode: str, workers: int, clip: Clip, window: float, log, bot_nice: int = 0,
                 worker_cores: float | None = None) -> None:
        self.mode, self.workers, self.clip, self.window, self.log = mode, workers, clip, window, log
        self.bot_nice = bot_nice
        self.worker_cores = worker_cores  # each SFU worker held to this share of a core (None: not held)
        self.caps: list[CpuCap] = []
        self.plan = {"publisher:0": "high"}
        self.names: list[str] = []  # the subscribers, in the order they joined
        self.late_ms: list[float] = []
        self.rows: list[Row] = []
        self.probes = PROBES if mode == "forward" else 1 << 30  # the transcoder has no counts of what it sent

    async def run(self, ns: list[int], late_joins: int, profile: str | None, stop_below: float | None,
                  stall_at: int | None, stalls: list[Stall] | None, refine: int = 0) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "loadtest.sfu_host", "--port", str(port), "--mode", self.mode,
               "--workers", str(self.workers)]  # fmt: skip
        if profile:
            cmd += ["--profile", profile]
        proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.DEVNULL)
        ctx = mp.get_context("spawn")
        self.bots: list = []
        async with aiohttp.ClientSession() as http:
            self.signal = signal = HttpSignal(self.base, http)
            publisher = Bot("publisher", signal, clip=self.clip)
            try:
                await wait_http(self.base, http)
                self.pids = await signal.pids()
                if self.worker_cores is not None:
                    for i, pid in enumerate(self.pids[1:]):
                        self.caps.append(CpuCap(f"sanke-bench-{os.getpid()}-w{i}", self.worker_cores))
                        self.caps[-1].add(pid)
                await publisher.publish()
                if publisher.pub is not None:
                    consent.install(publisher.pub)  # RFC 7675's 30 s, as a browser: the API stall starves the bots
                for _ in range(BOT_PROCS):
                    parent, child = ctx.Pipe()
                    p = ctx.Process(target=bot_process, args=(child, self.base, self.bot_nice), daemon=True)
                    p.start()
                    self.bots.append((p, parent))
                held, failed = 0, None
                for n in ns:
                    row = await self.step(n, late_joins, bool(profile) and n == ns[-1])
                    if stop_below is not None and not steady(row) and n >= (stall_at or 0):
                        row = await self.step(n, 0, False, AGAIN)  # once more: one slow window on a shared machine
                    if stall_at == n and stalls is not None:
                        low, seconds = await _stall_window(signal, self.bots, self.window)
                        stalls.append(Stall(n, low, seconds))
                        self.log(f"  {self.mode} workers={self.workers} N={n}: while the API hashed 20 passwords "
                                 f"and parsed an upload ({seconds:.1f} s): min fps {low:.1f}")
                    if stop_below is None or steady(row):
                        held = n
                    elif n >= (stall_at or 0):
                        failed = n
                        break
                for _ in range(refine if failed is not None else 0):
                    mid = (held + failed) // 2 // GRAIN * GRAIN  # type: ignore[operator]
                    if mid <= held:
                        break
                    if mid < len(self.names):  # down from a step not held: recover at the last held N, then
                        # come up to `mid` as the ladder climbs (right after an overload, a window measures the
                        # recovery: 35 fps, then 21, at the same N)
                        await self._resize(held)
                        await self._settle(held)
                    row = await self.step(mid, 0, False)
                    if not steady(row):
                        row = await self.step(mid, 0, False, AGAIN)  # as on the ladder: one slow window is not it
                    held, failed = (mid, failed) if steady(row) else (held, mid)
            finally:
                await stop_all(self.bots, publisher, proc)
                for cap in self.caps:
                    cap.close()

    async def _resize(self, n: int) -> None:
        """Add subscribers (probes first, then sinks) or let the newest sinks leave, to `n` in all."""
        if n < len(self.names):
            gone, self.names = self.names[n:], self.names[:n]
            for _, conn in self.bots:
                conn.send(("leave", gone))
            for _, conn in self.bots:
                await recv(conn)
            return
        new = [f"sub{i}" if i < self.probes else f"sink{i}" for i in range(len(self.names), n)]
        self.names.extend(new)
        probes = [x for x in new if x.startswith("sub")]
        sinks = [x for x in new if x.startswith("sink")]
        missing: list[str] = []
        for cmd, names in (("add", probes), ("sinks", sinks)):
            if not names:
                continue
            for w, (_, conn) in enumerate(self.bots):
                conn.send((cmd, (names[w::BOT_PROCS], self.plan)))
            for _, conn in self.bots:
                missing.extend((await recv(conn))[1])
        if missing:
            self.log(f"  {self.mode} W={self.workers} N={n}: {len(missing)} not receiving: {', '.join(missing[:8])}")

    async def _settle(self, n: int) -> None:
        """Wait until the SFU sends its subscribers at the clip's rate: a worker that has just taken many joins
        (ICE, DTLS handshakes) falls behind and then catches up faster than real time, and a window measured
        then says nothing of whether it holds `n` (media_report.steady rejects it). A worker that cannot hold
        `n` stays below the rate: the wait ends JOINS_STALL_S after the joins and the window shows it."""
        await asyncio.sleep(SETTLE_S)
        started = time.monotonic()
        before = await self.signal.counts()
        rate = float(FPS)
        while time.monotonic() - started < SETTLE_MAX_S:
            await asyncio.sleep(1.0)
            after = await self.signal.counts()
            sent, _ = _sent_fps(before, after)
            rate = statistics.fmean(sent.values()) if sent else FPS
            # At the rate; or below it and not catching up: past its capacity, and waiting longer would only
            # pile up a backlog for the steps after this one.
            if HELD_FPS <= rate <= STEADY_FPS or (rate < HELD_FPS and time.monotonic() - started > JOINS_STALL_S):
                break
            before = after
        waited = time.monotonic() - started
        if waited > 1.5:
            self.log(f"  {self.mode} W={self.workers} N={n}: measured {waited:.0f} s after the joins, the SFU "
                     f"sending at {rate:.1f} fps")

    async def step(self, n: int, late_joins: int, profiling: bool, longer: float = 1.0) -> Row:
        """Resize to `n`, measure one window: CPU per process, packets forwarded, probes' and sinks' fps."""
        signal = self.signal
        await self._resize(n)
        await self._settle(n)
        if profiling:
            await signal.profile(True)
        labels = {"host": self.pids[:1], **{f"worker{i}": [p] for i, p in enumerate(self.pids[1:])},
                  "bots": [p.pid for p, _ in self.bots], "publisher": [os.getpid()]}  # fmt: skip
        fwd0, counts0 = await signal.forwarded(), await signal.counts()
        split0, cpu0 = cpu_split(self.pids), sample(labels)
        await asyncio.sleep(self.window * longer)
        fwd1, counts1 = await signal.forwarded(), await signal.counts()
        split1, cpu1 = cpu_split(self.pids), sample(labels)
        t0, t1 = cpu0.at, cpu1.at
        if profiling:
            await signal.profile(False)
        (f0, rtx0), (f1, rtx1) = fwd0, fwd1
        sfu0, sfu1 = sum(split0), sum(split1)
        kernel = (split1[1] - split0[1]) / (sfu1 - sfu0) if sfu1 > sfu0 else 0.0
        fps = await _fps(self.bots, t0, t1)
        wall = t1 - t0
        sent, where = _sent_fps(counts0, counts1)
        sink_fps = [sent.get(name, 0.0) for name in self.names if name.startswith("sink")]
        joins: list[float] = []
        for i in range(late_joins if self.mode == "forward" and n <= LATE_UP_TO else 0):
            await asyncio.sleep(0.6)  # past the PLI throttle window of the previous joiner
            ms = await _late_join(signal, self.plan, len(self.late_ms) + i)
            if ms is not None:
                joins.append(ms)
        self.late_ms.extend(joins)
        cpu = (sfu1 - sfu0) / wall
        pps = (f1 - f0) / wall
        probe = min(fps, default=0.0)
        row = Row(
            self.mode, n, cpu * 100, pps, cpu * 1e6 / pps if pps else float("nan"),
            min([probe, *sink_fps]), max(joins) if joins else None, kernel * 100, (rtx1 - rtx0) / wall,
            statistics.fmean(fps) if fps else 0.0, self.workers, probe,
            min(sink_fps) if sink_fps else None, statistics.fmean(sink_fps) if sink_fps else None,
            split(cpu0, cpu1), self.worker_cores,
        )
        self.rows.append(row)
        self.log(_format(row))
        received = _received_fps(counts0, counts1)
        if received < HELD_FPS:  # the subscribers cannot get frames the SFU never had
            self.log(f"  the SFU received the publisher's video at {received:.1f} fps in this window")
        paced = sorted(name for c in counts1 for name in c.get("paced", {}))
        if paced:  # a starved probe's own REMB reads as a slow line to the SFU's bandwidth logic
            self.log(f"  paced by the SFU's bandwidth logic at the window's end: {', '.join(paced[:8])}")
        if self.workers > 1 and n >= PROBES:
            per = [[name for name, w in where.items() if w == i] for i in range(self.workers)]
            probes = [sum(1 for name in names if name.startswith("sub")) for names in per]
            self.log(f"  subscribers per SFU worker: {[len(names) for names in per]} (probes {probes})")
        return row
