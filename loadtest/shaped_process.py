"""A shaped subscriber (`loadtest.shaped.ShapedBot` behind its own `ShaperProcess`) in a process of its own.

A classroom is another machine: what it receives must not wait for the test's event loop (which also
serves signaling), for the SFU, or for the other classrooms. In one process, one bot busy with a burst
of packets delays the others' arrivals, and their delay-based estimators report that as a slower line
(REMB falls, the SFU steps them down): the test then measures its own loop, not the SFU.

The child (`python -m loadtest.shaped_process`) joins, receives, and writes what it saw as JSON lines on
stdout every `REPORT_S`: new video frame times and picture sizes, new audio frame times, new
`quality.changed` events. Times are `time.monotonic()`, one clock for every process on the machine, so
the parent's `ShapedBotProcess` rebuilds the same `VideoCheck`/`AudioCheck` a `ShapedBot` has and a test
reads it as it would read the bot. The parent changes the line (`set_link`) and reads the shaper's
counters through the child's stdin; closing stdin ends the child.

The classroom and its line are other machines: on a shared, loaded CI box `as_remote` runs them (and the
hub publisher) at a higher scheduling priority where that is allowed, so the load falls on the SFU under
test and not on what only stands in for the network and the far end (a line does not stall for 0.5 s
because a neighbour compiles; a receiver's own stall reads as a gap in its audio and a slower line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, replace
from typing import Any

from loadtest.bots import AudioCheck, VideoCheck, wait_for
from loadtest.shaper import Link, ShaperCounters, end_child

REPORT_S = 0.1  # how often the child reports what is new (the times in it are taken when it happened)
REMOTE_NICE = -10  # another machine's processes: ahead of this machine's load (needs CAP_SYS_NICE, else as is)


def as_remote(pid: int) -> bool:
    """Run process `pid` (and the children it starts from now on) ahead of this machine's other work, as a
    machine of its own would; False where raising a priority is not allowed (nothing changes then)."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, REMOTE_NICE)
    except OSError:
        return False
    return True


class ShapedBotProcess:
    """The parent's view of a shaped subscriber running in its own process (see the module docstring)."""

    def __init__(self, name: str, url: str, token: str, link: Link) -> None:
        self.name = name
        self.link = link
        self._args = ["--url", url, "--token", token, "--name", name, "--link", json.dumps(asdict(link))]
        self.video: dict[str, VideoCheck] = {}
        self.audio: dict[str, AudioCheck] = {}
        self.events: list[dict] = []  # quality.changed, as its signaling received them
        self.reported_at = 0.0  # the child's clock when it wrote its newest report: all before it is here
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._ready = asyncio.get_running_loop().create_future()
        self._counters: asyncio.Future[ShaperCounters] | None = None

    async def start(self, timeout: float = 60.0) -> None:
        """Start the child and wait until it has joined (a cold start on a busy machine takes seconds)."""
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loadtest.shaped_process", *self._args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        as_remote(self._proc.pid)  # before it starts its shaper, which inherits it
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(asyncio.shield(self._ready), timeout)

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            try:
                report = json.loads(line)
            except ValueError:  # not ours (a library printing): the reports are whole lines
                continue
            self._apply(report)
        if not self._ready.done():
            self._ready.set_exception(RuntimeError(f"shaped bot {self.name} exited before joining"))

    def _apply(self, report: dict[str, Any]) -> None:
        self.reported_at = max(self.reported_at, report.get("at", 0.0))
        if report.get("ready") and not self._ready.done():
            self._ready.set_result(None)
        for track_id, seen in report.get("video", {}).items():
            check = self.video.setdefault(track_id, VideoCheck())
            check.times.extend(seen["times"])
            check.frames += len(seen["times"])
            if check.first_at is None and check.times:
                check.first_at = check.times[0]
            for at, width, height in seen["sizes"]:
                check.size_changes.append((at, (width, height)))
                check.last_size = (width, height)
                check.sizes.add((width, height))
        for track_id, times in report.get("audio", {}).items():
            audio = self.audio.setdefault(track_id, AudioCheck())
            audio.times.extend(times)
            audio.frames += len(times)
        self.events.extend(report.get("events", []))
        if "counters" in report and self._counters is not None and not self._counters.done():
            self._counters.set_result(ShaperCounters(**report["counters"]))

    async def caught_up(self, now: float, timeout: float = 5.0) -> bool:
        """Wait until the child has reported everything it saw up to `now` (a check up to `now` must not
        read the last report's lag as a freeze)."""
        return await wait_for(lambda: self.reported_at >= now, timeout, REPORT_S / 2)

    def _send(self, command: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(command).encode() + b"\n")

    def set_link(self, **changes: float) -> None:
        """Change the classroom's line now (the child passes it to its shaper at once)."""
        self.link = replace(self.link, **changes)
        self._send({"link": changes})

    async def counters(self) -> ShaperCounters | None:
        if self._proc is None or self._proc.returncode is not None:
            return None
        self._counters = asyncio.get_running_loop().create_future()
        self._send({"counters": True})
        try:
            return await asyncio.wait_for(self._counters, 10)
        except TimeoutError:
            return None

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        await end_child(proc, 10)
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader


class _Cursor:
    """What of a bot's checks and events has been reported already."""

    def __init__(self) -> None:
        self.video: dict[str, tuple[int, int]] = {}  # track id → (times, size changes) reported
        self.audio: dict[str, int] = {}
        self.events = 0

    def report(self, bot: Any, events: list[dict]) -> dict[str, Any]:
        """What is new since the last report, and `at`: when it was taken (everything before is in it)."""
        at = time.monotonic()
        out: dict[str, Any] = {}
        video: dict[str, Any] = {}
        for track_id, check in list(bot.video.items()):
            times, sizes = self.video.get(track_id, (0, 0))
            new_times, new_sizes = check.times[times:], check.size_changes[sizes:]
            if new_times or new_sizes:
                video[track_id] = {"times": new_times, "sizes": [[at, w, h] for at, (w, h) in new_sizes]}
                self.video[track_id] = (times + len(new_times), sizes + len(new_sizes))
        audio: dict[str, list[float]] = {}
        for track_id, a in list(bot.audio.items()):
            done = self.audio.get(track_id, 0)
            if len(a.times) > done:
                audio[track_id] = a.times[done:]
                self.audio[track_id] = len(a.times)
        quality = [e for e in events[self.events:] if e.get("type") == "quality.changed"]
        self.events = len(events)
        out["at"] = at
        if video:
            out["video"] = video
        if audio:
            out["audio"] = audio
        if quality:
            out["events"] = quality
        return out


async def _run(args: argparse.Namespace) -> None:
    from loadtest.shaped import ShapedBot
    from loadtest.shaper import ShaperProcess
    from loadtest.signals import WsSignal

    loop = asyncio.get_running_loop()
    shaper = ShaperProcess(Link(**json.loads(args.link)))
    await shaper.start("127.0.0.1")
    signal = WsSignal(args.url, args.token)
    bot = ShapedBot(args.name, signal, shaper)
    out = sys.stdout

    def emit(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    cursor = _Cursor()

    async def report() -> None:
        while True:
            await asyncio.sleep(REPORT_S)
            emit(cursor.report(bot, signal.events))

    reporting: asyncio.Task | None = None
    try:
        await signal.connect(bot)
        emit({"ready": True, "at": time.monotonic()})
        reporting = asyncio.create_task(report())
        while line := await reader.readline():
            command = json.loads(line)
            if "link" in command:
                shaper.set_link(**command["link"])
            if command.get("counters"):
                emit({"counters": asdict(await shaper.counters())})
    finally:
        if reporting is not None:
            reporting.cancel()
        emit(cursor.report(bot, signal.events))
        await bot.close()
        await signal.close()
        await shaper.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.shaped_process", description=__doc__)
    parser.add_argument("--url", required=True, help="server base URL")
    parser.add_argument("--token", required=True, help="the classroom's join token")
    parser.add_argument("--name", default="shaped", help="the bot's name")
    parser.add_argument("--link", required=True, help="the shaped line, a loadtest.shaper.Link as JSON")
    asyncio.run(_run(parser.parse_args(argv)))  # ends when stdin closes
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
