"""`sanke bench broadcast`: what a broadcast costs the node over HLS, against WebRTC subscribers in the same run.

The node runs in a child process (`loadtest.broadcast_host`) and its CPU is read from /proc. A teacher bot
sends a pre-encoded 640×480 30 fps H.264 clip (an IDR every second) and Opus. Three windows follow:

1. idle: the teacher alone; the packager's own clocks give `packaging CPU per stream`;
2. WebRTC: `--subscribers` viewers (default 50) join by WebSocket, aiortc bots in two processes count frames;
3. HLS: `--viewers` (default 1,000) aiohttp clients in two processes follow the live playlist for
   `--seconds` (default 60), as hls.js does: the playlist every second, each new segment once.

CPU per viewer is the node's CPU above idle divided by the viewers. The figure is the ratio HLS/WebRTC.
`latency_s` is the median time from a segment's first frame reaching the node (its PROGRAM-DATE-TIME) to a
viewer holding the whole segment; a player adds its hold-back to it (hls.js here: 2 s behind the edge).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing as mp
import random
import resource
import statistics
import tempfile
import time
from datetime import datetime

import aiohttp
import psutil

from loadtest.bench_signaling import cpu_seconds as _cpu_seconds
from loadtest.bench_signaling import free_port as _free_port
from loadtest.bots import Bot, WsSignal, wait_for
from loadtest.broadcast_bots import H264Teacher
from loadtest.broadcast_host import H264ClipTrack, h264_clip, serve
from loadtest.clip import load

WORKERS = 2
RAMP_S = 5.0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# -- HLS viewer processes ---------------------------------------------------------------------------


def _viewers(conn, base: str, urls: list[str], seconds: float) -> None:
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    conn.send("ready")  # imports done (slow on a loaded machine): the run starts on the parent's word
    conn.recv()
    conn.send(asyncio.run(_follow_all(base, urls, seconds)))


async def _follow_all(base: str, urls: list[str], seconds: float) -> dict:
    out: dict = {"seg_ms": [], "playlist_ms": [], "latency_s": [], "errors": 0, "segments": 0, "error_kinds": {},
                 "done_at": []}
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(_follow(http, url, deadline, out) for url in urls))
    return out


async def _get(http: aiohttp.ClientSession, url: str, out: dict) -> tuple[bytes | None, float]:
    t0 = time.perf_counter()
    try:
        async with http.get(url) as r:
            body = await r.read()
            if r.status != 200:
                raise aiohttp.ClientResponseError(r.request_info, (), status=r.status)
    except Exception as exc:  # every failure is counted, by kind
        out["errors"] += 1
        kind = f"{type(exc).__name__}:{getattr(exc, 'status', '')}"
        out["error_kinds"][kind] = out["error_kinds"].get(kind, 0) + 1
        return None, 0.0
    out["done_at"].append(time.monotonic())  # CLOCK_MONOTONIC: the same clock in every process
    return body, (time.perf_counter() - t0) * 1000


async def _follow(http: aiohttp.ClientSession, url: str, deadline: float, out: dict) -> None:
    """One viewer: the playlist each second, the init segment once, every new segment once."""
    await asyncio.sleep(random.random() * RAMP_S)
    prefix = url.split("live.m3u8")[0]
    seen: set[str] = set()
    have_init = False
    first = True
    while time.monotonic() < deadline:
        started = time.monotonic()
        text, ms = await _get(http, url, out)
        if text is not None:
            out["playlist_ms"].append(ms)
            entries, init = _parse(text.decode())
            if init and not have_init:
                have_init = (await _get(http, prefix + init, out))[0] is not None
            if first:  # a player starts near the live edge: the last two segments
                for uri, _ in entries[:-2]:
                    seen.add(uri)
                first = False
            for uri, pdt in entries:
                if uri in seen:
                    continue
                seen.add(uri)
                body, ms = await _get(http, prefix + uri, out)
                if body is not None:
                    out["seg_ms"].append(ms)
                    out["segments"] += 1
                    if pdt:
                        out["latency_s"].append(time.time() - pdt)
        await asyncio.sleep(max(0.05, 1.0 - (time.monotonic() - started)))


def _parse(text: str) -> tuple[list[tuple[str, float]], str]:
    entries, init, pdt = [], "", 0.0
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:URI="):
            init = line.split('"')[1]
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = datetime.fromisoformat(line.split(":", 1)[1].replace("Z", "+00:00")).timestamp()
        elif line and not line.startswith("#"):
            entries.append((line, pdt))
            pdt = 0.0
    return entries, init


# -- WebRTC subscriber processes --------------------------------------------------------------------


def _subscribers(conn, base: str, tokens: list[str]) -> None:
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    asyncio.run(_subscribe_all(conn, base, tokens))


async def _subscribe_all(conn, base: str, tokens: list[str]) -> None:
    loop = asyncio.get_running_loop()
    pairs = []
    async with aiohttp.ClientSession() as http:
        for i, token in enumerate(tokens):
            signal = WsSignal(base, token, http)
            bot = Bot(f"sub-{i}", signal, subscribe_mode="count")
            await signal.connect(bot)
            pairs.append((bot, signal))
        ok = await wait_for(lambda: all(any(c.frames for c in b.video.values()) for b, _ in pairs), 30)
        conn.send(ok)
        await loop.run_in_executor(None, conn.recv)  # "stop"
        for bot, signal in pairs:
            with contextlib.suppress(Exception):
                await signal.close()
                await bot.close()
    conn.send(True)


# -- the run ----------------------------------------------------------------------------------------


async def _recv(conn):
    return await asyncio.get_running_loop().run_in_executor(None, conn.recv)


def _node_cpu(pid: int) -> float:
    """CPU seconds of the node and its SFU worker processes (its children)."""
    total = _cpu_seconds(pid)
    for child in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            total += times.user + times.system
    return total


async def _cpu_window(pid: int, seconds: float) -> float:
    """The node's CPU (with its workers') over `seconds`, as a share of one core."""
    c0, t0 = _node_cpu(pid), time.monotonic()
    await asyncio.sleep(seconds)
    return (_node_cpu(pid) - c0) / (time.monotonic() - t0)


async def run(args: argparse.Namespace) -> int:
    ctx = mp.get_context("spawn")
    port = args.port or _free_port()
    base = f"http://127.0.0.1:{port}"
    data = tempfile.mkdtemp(prefix="hls-bench-")
    node_conn, child_conn = ctx.Pipe()
    node = ctx.Process(
        target=serve, args=(child_conn, data, port, args.viewers, args.subscribers, args.media_workers), daemon=True
    )
    node.start()
    setup = await _recv(node_conn)
    print(f"node pid {node.pid} on {base}, room {setup['room']}; building the clip…", flush=True)
    signal = WsSignal(base, setup["teacher"])
    teacher: H264Teacher | Bot
    if args.vp8:  # a browser that sends VP8: the node transcodes it once for HLS
        clip = await asyncio.to_thread(load, args.width, args.height, args.fps, 4 * args.fps, args.bitrate)
        teacher = Bot("teacher", signal, clip=clip, tone_hz=440, subscribe_mode="count")
    else:
        units = await asyncio.to_thread(h264_clip, args.width, args.height, args.fps, args.bitrate, 4)
        teacher = H264Teacher("teacher", signal, track=H264ClipTrack(units, args.fps))
    procs: list = []
    try:
        await signal.connect(teacher)  # type: ignore[arg-type]
        await teacher.publish()

        async def hls() -> dict:
            node_conn.send("hls")
            return await _recv(node_conn) or {}

        assert await _wait_segments(hls, 3, 30), "no HLS segments from the teacher's H.264"
        window = max(5.0, min(15.0, args.seconds / 3))
        before = await hls()
        idle = await _cpu_window(node.pid, window)
        after = await hls()
        packaging = ((after["build_s"] - before["build_s"]) + (after["sink_s"] - before["sink_s"])
                     + (after["transcode_s"] - before["transcode_s"])) / window

        # WebRTC baseline
        conns = []
        for part in (setup["subscribers"][i::WORKERS] for i in range(WORKERS)):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_subscribers, args=(child, base, part), daemon=True)
            proc.start()
            procs.append(proc)
            conns.append(parent)
        subscribed = all([await _recv(c) for c in conns])
        webrtc = await _cpu_window(node.pid, window)
        for c in conns:
            c.send("stop")
        for c in conns:
            await _recv(c)
        await asyncio.sleep(2)

        # HLS viewers
        conns = []
        for part in (setup["playlists"][i::WORKERS] for i in range(WORKERS)):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_viewers, args=(child, base, part, args.seconds), daemon=True)
            proc.start()
            procs.append(proc)
            conns.append(parent)
        for c in conns:
            await _recv(c)
        for c in conns:
            c.send("go")
        await asyncio.sleep(RAMP_S + 1)
        w0 = time.monotonic()
        hls_cpu = await _cpu_window(node.pid, max(5.0, args.seconds - RAMP_S - 3))
        w1 = time.monotonic()
        results = [await _recv(c) for c in conns]
        served = sum(1 for r in results for t in r["done_at"] if w0 <= t <= w1)
        results[0]["req_per_s"] = served / (w1 - w0)
        final = await hls()
    finally:
        with contextlib.suppress(Exception):
            await teacher.close()
            await signal.close()
        node_conn.send("stop")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_recv(node_conn), 15)
        for proc in [node, *procs]:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
    return _report(args, idle, packaging, webrtc, subscribed, hls_cpu, results, final)


async def _wait_segments(hls, n: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await hls()).get("segments", 0) >= n:
            return True
        await asyncio.sleep(0.5)
    return False


def _report(args, idle, packaging, webrtc, subscribed, hls_cpu, results, final) -> int:
    seg_ms = [x for r in results for x in r["seg_ms"]]
    pl_ms = [x for r in results for x in r["playlist_ms"]]
    lat = [x for r in results for x in r["latency_s"]]
    errors = sum(r["errors"] for r in results)
    kinds: dict[str, int] = {}
    for r in results:
        for k, v in r["error_kinds"].items():
            kinds[k] = kinds.get(k, 0) + v
    per_sub = max(webrtc - idle, 1e-6) / max(1, args.subscribers)
    per_viewer = max(hls_cpu - idle, 0.0) / max(1, args.viewers)
    ratio = per_viewer / per_sub
    # On a loaded machine the node may not get the CPU to serve everyone in time: CPU per request served,
    # times the 2 requests a second a viewer makes, does not depend on that.
    req_per_s = results[0].get("req_per_s", 0.0)
    cpu_per_req_ms = max(hls_cpu - idle, 0.0) / req_per_s * 1000 if req_per_s else float("nan")
    per_viewer_norm = cpu_per_req_ms / 1000 * 2
    latency = statistics.median(lat) if lat else float("nan")
    print()
    print(f"stream: {args.width}x{args.height} {args.fps} fps {'VP8 (transcoded)' if args.vp8 else 'H.264'} ~{args.bitrate // 1000} kbps + Opus; "
          f"codecs {final.get('codecs')}; last durations {[round(d, 2) for d in final.get('durations', [])]}; "
          f"newest segment ended {final.get('lag_s') or 0:.2f} s ago; video frames in {final.get('frames')}")
    print(f"SFU worker processes: {args.media_workers}")
    print(f"| node CPU (share of a core) | idle (teacher + packager) | {args.subscribers} WebRTC subscribers | "
          f"{args.viewers} HLS viewers |")
    print("|---|---|---|---|")
    print(f"| total | {idle:.3f} | {webrtc:.3f} | {hls_cpu:.3f} |")
    print(f"| per viewer above idle | | {per_sub * 100:.3f} % | {per_viewer * 100:.4f} % |")
    print(f"HLS requests served in the window: {req_per_s:.0f}/s (a viewer asks 2/s: "
          f"{args.viewers * 2}/s wanted); node CPU {cpu_per_req_ms:.3f} ms per request → "
          f"{per_viewer_norm * 100:.4f} % of a core per viewer, ratio {per_viewer_norm / per_sub:.4f} vs WebRTC")
    what = "VP8→H.264 transcode + builder + sinks" if args.vp8 else "builder thread + sinks, no transcode"
    print(f"packaging CPU per stream: {packaging * 100:.3f} % of a core ({what}; target <= 2 % without transcode)")
    print(f"WebRTC subscribers all receiving: {subscribed}")
    print(f"HLS: {sum(r['segments'] for r in results)} segments fetched, {len(pl_ms)} playlists; "
          f"segment p50 {_pct(seg_ms, 0.5):.1f} ms p99 {_pct(seg_ms, 0.99):.1f} ms; "
          f"playlist p50 {_pct(pl_ms, 0.5):.1f} ms p99 {_pct(pl_ms, 0.99):.1f} ms; errors {errors} {kinds or ''}")
    print(f"latency (segment's first frame at the node → viewer holds the segment): p50 {latency:.2f} s "
          f"p90 {_pct(lat, 0.9):.2f} s")
    print(f"broadcast-bench: viewers={args.viewers} errors={errors} seg_p99_ms={_pct(seg_ms, 0.99):.1f} "
          f"cpu_per_viewer_ratio={ratio:.4f} latency_s={latency:.2f}")
    return 0 if errors == 0 and subscribed else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sanke bench broadcast", description=__doc__.split("\n")[0])
    p.add_argument("--viewers", type=int, default=1000)
    p.add_argument("--subscribers", type=int, default=50, help="WebRTC baseline")
    p.add_argument("--seconds", type=float, default=60.0, help="how long the HLS viewers follow the stream")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--bitrate", type=int, default=800_000)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--vp8", action="store_true", help="the teacher sends VP8: measure the one transcode per stream")
    p.add_argument("--media-workers", type=int, default=0,
                   help="SFU worker processes (0: the SFU in the node's process); CPU is the node's and theirs")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 8192:  # a socket per viewer on each side
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(8192, hard), hard))
    return asyncio.run(run(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
