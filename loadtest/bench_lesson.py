"""The 1+20 lesson shape for `sanke bench media`: a hub teacher publishes camera (640×480, ~1 Mbps),
microphone and courseware (a second video, source "screen"); 20 classrooms each publish return video
(320×240) and audio, and receive the teacher's three tracks; the teacher receives the 20 classroom videos.
Per SFU worker count: SFU CPU (host + workers), packets forwarded per second, and the slowest classroom's
and the teacher's frame rates.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import sys
import time
from dataclasses import dataclass

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
    recv,
    stop_all,
    wait_http,
)
from loadtest.bench_signaling import free_port
from loadtest.bots import Bot, wait_for
from loadtest.clip import load
from media import consent

CLASSROOM = (320, 240, 300_000)
SCREEN = (640, 360, 300_000)


@dataclass(slots=True)
class LessonRow:
    workers: int
    classrooms: int
    cpu_pct: float
    pps: float
    classroom_min_fps: float
    teacher_min_fps: float


HEADER = f"{'lesson':<10}{'W':>2}{'1+N':>5}{'SFU CPU %':>11}{'pkt/s fwd':>11}{'classroom min fps':>19}{'teacher min fps':>17}"


def format_row(r: LessonRow) -> str:
    return (f"{'1+N':<10}{r.workers:>2}{r.classrooms:>5}{r.cpu_pct:>11.1f}{r.pps:>11.0f}{r.classroom_min_fps:>19.1f}"
            f"{r.teacher_min_fps:>17.1f}")  # fmt: skip


def _where(before: list[dict], after: list[dict], wall: float, workers: int) -> str:
    """What the SFU's own counters say of the window: the frame rate the teacher's camera arrived at, the
    lowest it sent a classroom (one video each in these counters), and who it paced: a low classroom figure
    with the camera below 30 is the publisher's machine, with the SFU sending 30 it is the classroom's."""
    def rate(kind: str, key: str) -> float:
        return min(((b[kind][key][1] - a[kind].get(key, [0, 0])[1]) / wall for a, b in zip(before, after, strict=False)
                    if key in b[kind]), default=0.0)  # fmt: skip

    classrooms = {k for c in after for k in c["consumers"] if k != "teacher"}
    paced = sorted(k for c in after for k in c.get("paced", {}))
    sent = min((rate("consumers", k) for k in classrooms), default=0.0)
    return (f"  lesson W={workers}: SFU received the teacher's camera at {rate('producers', 'teacher:0'):.1f} fps, "
            f"sent classrooms >= {sent:.1f} fps; paced: {', '.join(paced) or 'none'}")


async def run_lesson(workers: int, classrooms: int, window: float, log) -> LessonRow:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "loadtest.sfu_host", "--port", str(port), "--workers", str(workers)]
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.DEVNULL)
    ctx = mp.get_context("spawn")
    bots = []
    camera = load(WIDTH, HEIGHT, FPS, CLIP_FRAMES, BITRATE)
    screen = load(SCREEN[0], SCREEN[1], FPS, CLIP_FRAMES, SCREEN[2])
    load(CLASSROOM[0], CLASSROOM[1], FPS, CLIP_FRAMES, CLASSROOM[2])  # built once here, read by the bot processes
    async with aiohttp.ClientSession() as http:
        signal = HttpSignal(base, http)
        teacher = Bot("teacher", signal, clip=camera, screen_clip=screen, tone_hz=440, subscribe_mode="tally")
        try:
            await wait_http(base, http)
            pids = await signal.pids()
            await teacher.publish()  # mids: 0 camera, 1 courseware, 2 microphone
            if teacher.pub is not None:
                consent.install(teacher.pub)  # RFC 7675's 30 s, as a browser (aioice's closed starved bots)
            for _ in range(BOT_PROCS):
                parent, child = ctx.Pipe()
                p = ctx.Process(target=bot_process, args=(child, base), daemon=True)
                p.start()
                bots.append((p, parent))
            names = [f"class{i}" for i in range(classrooms)]
            plan = {"teacher:0": "high", "teacher:1": "high", "teacher:2": "high"}
            for w, (_, conn) in enumerate(bots):
                conn.send(("lesson", (names[w::BOT_PROCS], plan, CLASSROOM)))
            replies = [await recv(conn) for _, conn in bots]
            missing = [name for _, names_ in replies for name in names_]
            if missing:
                log(f"  lesson W={workers}: no video at {', '.join(missing)}")
            await signal.subscribe(teacher, {f"{name}:0": "high" for name in names})
            if teacher.sub is not None:
                consent.install(teacher.sub)  # as the classrooms' (RFC 7675's 30 s)
            await wait_for(lambda: len(teacher.video) >= classrooms, 20)
            await asyncio.sleep(2)
            counts0 = await signal.counts()
            fwd0, cpu0, t0 = (await signal.forwarded())[0], sum(cpu_split(pids)), time.monotonic()
            await asyncio.sleep(window)
            fwd1, cpu1, t1 = (await signal.forwarded())[0], sum(cpu_split(pids)), time.monotonic()
            log(_where(counts0, await signal.counts(), t1 - t0, workers))
            fps: list[float] = []
            for _, conn in bots:
                conn.send(("fps", (t0, t1)))
            for _, conn in bots:
                fps.extend(await recv(conn))
            teacher_fps = min((c.fps(t0, t1) for c in teacher.video.values()), default=0.0)
            if len(teacher.video) < classrooms:
                teacher_fps = 0.0
            wall = t1 - t0
            row = LessonRow(workers, classrooms, (cpu1 - cpu0) / wall * 100, (fwd1 - fwd0) / wall,
                            min(fps, default=0.0), teacher_fps)  # fmt: skip
            log(format_row(row))
            return row
        finally:
            await stop_all(bots, teacher, proc)
