"""`sanke bench signaling`: N participants join one broadcast room at once.

The server is a real `sanke serve` in its own process (its RSS read from /proc); the joiners are
WebSocket clients in this process, all started together. A bystander viewer already in the room pings
four times a second throughout, so its round trip shows what the burst does to everyone else. The run at 100
is the baseline, measured in the same run. Prints a table; the last line is the figure at the largest size.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from core.db import Database
from core.settings import Settings
from core.tokens import TokenSigner
from rooms.roles import Role, RoomKind, grants_for
from rooms.store import RoomSpec, create_room

JOIN_TIMEOUT = 20.0
PING_INTERVAL = 0.25  # within the ping rate limit (signaling.ratelimit)
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class Round:
    joins: int
    failed: int
    join_p50_ms: float
    join_p99_ms: float
    ping_p99_ms: float
    rss_mib: float
    seconds: float
    server_cpu_s: float  # the server's (and its media workers') CPU time during the burst, whatever the load
    client_cpu_s: float  # this process's (the joiners'), to see which side limits the burst


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree_cpu_seconds(pid: int) -> float:
    """The CPU time of the process and its live children (the server's media workers work for it too)."""
    total = 0.0
    pending = [pid]
    while pending:
        p = pending.pop()
        with contextlib.suppress(OSError):
            total += cpu_seconds(p)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    pending.extend(int(c) for c in f.read().split())
    return total


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


async def seed(settings: Settings, sizes: list[int]) -> list[str]:
    db = Database(settings.db_url)
    try:
        await db.migrate()
        async with db.session() as s:
            rooms = [await create_room(s, RoomSpec(kind=RoomKind.BROADCAST, title=f"名校网络课堂 {n}", record=False))
                     for n in sizes]
            await s.commit()
            return [r.id for r in rooms]
    finally:
        await db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, port: int, redis_url: str | None = None) -> subprocess.Popen:
    log = open(data_dir / "server.log", "wb")  # a pipe nobody reads would block the server's logging
    bus = ["--redis-url", redis_url] if redis_url else []
    return subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--data-dir", str(data_dir), "--port", str(port), *bus],
        stdout=log, stderr=log, cwd=Path(__file__).resolve().parent.parent,
        start_new_session=True,  # its own process group: a kill takes its worker processes along
    )


async def start_profiler(pid: int, out: Path) -> asyncio.subprocess.Process:
    """py-spy (a dev tool, not a dependency) sampling the server: started before the burst and stopped
    after it, so the profile holds the joins and neither the start-up nor the teardown."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy: pip install py-spy")
    proc = await asyncio.create_subprocess_exec(
        spy, "record", "-p", str(pid), "-r", "200", "-f", "raw", "-o", str(out), "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await asyncio.sleep(1.0)  # attached
    return proc


async def stop_profiler(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    await proc.wait()


async def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see server.log")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(url + "/api/health") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


class Joiner:
    def __init__(self, http: aiohttp.ClientSession, ws_url: str, token: str) -> None:
        self.http, self.ws_url, self.token = http, ws_url, token
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.latency: float | None = None
        self.failure = ""

    async def join(self) -> None:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(JOIN_TIMEOUT):
                self.ws = await self.http.ws_connect(self.ws_url, heartbeat=None)
                await self.ws.send_str(json.dumps({"type": "join", "token": self.token, "id": 1}))
                while True:
                    msg = await self.ws.receive()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        self.failure = f"closed {self.ws.close_code}"
                        return
                    data = json.loads(msg.data)
                    if data.get("type") == "joined":
                        self.latency = time.perf_counter() - started
                        return
                    if data.get("type") == "error":
                        self.failure = data.get("code", "error")
                        return
        except TimeoutError:
            self.failure = "timeout"
        except aiohttp.ClientError as e:
            self.failure = type(e).__name__

    async def drain(self) -> None:
        """Read whatever the room sends, as a real client would."""
        if self.ws is not None:
            with contextlib.suppress(Exception):
                async for _ in self.ws:
                    pass

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()


async def pinger(joiner: Joiner, rtts: list[float], stop: asyncio.Event) -> None:
    ws = joiner.ws
    assert ws is not None
    n = 0
    while not stop.is_set():
        n += 1
        sent = time.perf_counter()
        await ws.send_str(json.dumps({"type": "ping", "id": n}))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while True:
                    msg = await ws.receive()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        return
                    data = json.loads(msg.data)
                    if data.get("id") == n:
                        if data.get("type") == "pong":
                            rtts.append(time.perf_counter() - sent)
                        break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PING_INTERVAL)


async def one_round(url: str, pid: int, signer: TokenSigner, room_id: str, n: int,
                    profile: Path | None = None) -> Round:
    ws_url = url.replace("http://", "ws://") + "/ws"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        grants = grants_for(Role.VIEWER, RoomKind.BROADCAST, room_id)
        teacher = Joiner(http, ws_url, signer.issue_join(
            "user:1", "名师", "hub_teacher", grants_for(Role.HUB_TEACHER, RoomKind.BROADCAST, room_id)))
        bystander = Joiner(http, ws_url, signer.issue_join("bystander", "旁观", "viewer", grants))
        for j in (teacher, bystander):
            await j.join()
            if j.latency is None:
                raise RuntimeError(f"bystander could not join: {j.failure}")
        teacher_reader = asyncio.create_task(teacher.drain())
        joiners = [Joiner(http, ws_url, signer.issue_join(f"viewer:{i}", f"观众 {i}", "viewer", grants))
                   for i in range(n)]
        rtts: list[float] = []
        stop = asyncio.Event()
        ping_task = asyncio.create_task(pinger(bystander, rtts, stop))
        spy = await start_profiler(pid, profile) if profile is not None else None
        await asyncio.sleep(0.3)
        started, server_cpu, client_cpu = time.perf_counter(), tree_cpu_seconds(pid), time.process_time()
        await asyncio.gather(*(j.join() for j in joiners))
        seconds = time.perf_counter() - started
        server_cpu, client_cpu = tree_cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
        if spy is not None:
            await stop_profiler(spy)
        readers = [asyncio.create_task(j.drain()) for j in joiners]
        await asyncio.sleep(0.5)
        stop.set()
        await ping_task
        rss = rss_mib(pid)
        for j in [*joiners, bystander, teacher]:
            await j.close()
        for t in [*readers, teacher_reader]:
            t.cancel()
        await asyncio.gather(*readers, teacher_reader, return_exceptions=True)
    latencies = [j.latency * 1000 for j in joiners if j.latency is not None]
    failures = [j.failure for j in joiners if j.latency is None]
    if failures:
        print(f"  failures at {n}: {sorted(set(failures))[:5]}", file=sys.stderr)
    return Round(n, len(failures), pct(latencies, 0.5), pct(latencies, 0.99),
                 pct([r * 1000 for r in rtts], 0.99), rss, seconds, server_cpu, client_cpu)


async def run(sizes: list[int], data_dir: Path | None = None, profile: Path | None = None,
              redis_url: str | None = None) -> list[Round]:
    with tempfile.TemporaryDirectory(prefix="sanke-bench-sig-") as tmp:
        settings = Settings(data_dir=Path(data_dir or tmp))
        signer = TokenSigner(settings.secret_keys())
        rooms = await seed(settings, sizes)
        port = free_port()
        proc = start_server(settings.data_dir, port, redis_url)
        url = f"http://127.0.0.1:{port}"
        try:
            await wait_healthy(url, proc)
            out = []
            for i, (n, room_id) in enumerate(zip(sizes, rooms, strict=True)):
                print(f"  {n} joins …", file=sys.stderr, flush=True)
                last = i == len(sizes) - 1
                out.append(await one_round(url, proc.pid, signer, room_id, n, profile if last else None))
                await asyncio.sleep(1.0)
            return out
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def table(rounds: list[Round]) -> str:
    base = rounds[0]
    lines = [f"{'joins':>6} {'failed':>6} {'join p50 ms':>11} {'join p99 ms':>11} {'ping p99 ms':>11} "
             f"{'server RSS MiB':>14} {'burst s':>7} {'server CPU s':>12} {'client CPU s':>12} {'p99 vs base':>11}"]
    for r in rounds:
        lines.append(f"{r.joins:>6} {r.failed:>6} {r.join_p50_ms:>11.0f} {r.join_p99_ms:>11.0f} "
                     f"{r.ping_p99_ms:>11.0f} {r.rss_mib:>14.0f} {r.seconds:>7.2f} {r.server_cpu_s:>12.2f} "
                     f"{r.client_cpu_s:>12.2f} "
                     f"{r.join_p99_ms / base.join_p99_ms:>10.1f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sanke bench signaling", description=__doc__)
    parser.add_argument("--sizes", default="100,200,500,1000", help="joins per round; the first is the baseline")
    parser.add_argument("--redis-url", help="run the server on this Redis bus (default: its in-process bus)")
    parser.add_argument("--profile", type=Path,
                        help="sample the server with py-spy during the last burst; raw stacks written here")
    parser.add_argument("--json", action="store_true", help="print the rounds as one JSON list, nothing else")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rounds = asyncio.run(run(sizes, profile=args.profile, redis_url=args.redis_url))
    if args.json:
        print(json.dumps([asdict(r) for r in rounds]))
        return 0
    print(table(rounds))
    last = rounds[-1]
    print(f"signaling-bench: joins={last.joins} failed={last.failed} join_p99_ms={last.join_p99_ms:.0f} "
          f"ping_p99_ms={last.ping_p99_ms:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
