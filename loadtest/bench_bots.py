"""The media benches' bots and their host: subscriber bot processes driven over a pipe, the SFU host's HTTP
signaling, and the teardown both `sanke bench media` and its 1+N lesson shape use."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

import aiohttp

from loadtest.bots import Bot, wait_for
from loadtest.clip import load
from loadtest.sink import ProbeRemb, Sink, Subscribing, remb_loop
from media import aiortc_seams as seams
from media import consent  # RFC 7675's 30 s, as browsers: aioice's six 0.5 s misses closed starved bots

WIDTH, HEIGHT, FPS, BITRATE = 640, 480, 30, 1_300_000  # the demo clip predicts well: this comes out at 0.6 Mbps
PUBLISHER_BPS = 760_000  # `sanke bench media`'s publisher: a grainy clip (loadtest.clip) that runs at ~1 Mbps
CLIP_FRAMES = 150
BOT_PROCS = 2  # processes of subscriber bots
SINK_CONCURRENCY = 4  # sinks a bot process connects at once (the SFU's offers come one after another anyway)
TICK = os.sysconf("SC_CLK_TCK")


class HttpSignal:
    def __init__(self, base: str, http: aiohttp.ClientSession) -> None:
        self.base = base
        self.http = http

    async def _post(self, path: str, body: dict) -> dict:
        async with self.http.post(self.base + path, json=body) as r:
            r.raise_for_status()
            return await r.json()

    async def publish(self, bot: Bot, sdp: str, tracks: list[dict]) -> str:
        return (await self._post("/publish", {"pid": bot.name, "sdp": sdp, "tracks": tracks}))["sdp"]

    async def subscribe(self, bot: Subscribing, plan: dict[str, str]) -> None:
        """The SFU's offer goes to `bot` with its id, for the answer to echo."""
        offer = await self._post("/subscribe", {"pid": bot.name, "plan": plan})
        await bot.on_subscriber_offer(offer["sdp"], offer.get("offer_id"))

    async def subscriber_answer(self, bot: Subscribing, sdp: str, offer_id: int | None = None) -> None:
        await self._post("/answer", {"pid": bot.name, "sdp": sdp, "offer_id": offer_id})

    async def leave(self, bot: Subscribing) -> None:
        await self._post("/leave", {"pid": bot.name})

    async def profile(self, on: bool) -> None:
        await self._post("/profile", {"on": on})

    async def forwarded(self) -> tuple[int, int]:
        """(packets forwarded, packets retransmitted) so far."""
        async with self.http.get(self.base + "/stats") as r:
            body = await r.json()
            return body["forwarded"], body["retransmitted"]

    async def answers(self) -> dict[str, int]:
        """The subscribers' answers the SFU host took, with the offer's id echoed or without, and refused."""
        async with self.http.get(self.base + "/stats") as r:
            return dict((await r.json())["answers"])

    async def pids(self) -> list[int]:
        """The SFU's processes: the host and its worker processes."""
        async with self.http.get(self.base + "/stats") as r:
            return list((await r.json())["pids"])

    async def stall(self) -> float:
        return float((await self._post("/stall", {}))["seconds"])

    async def counts(self) -> list[dict]:
        """What each SFU process counted (loadtest.sfu_counts): per subscriber and per producer, and its CPU."""
        async with self.http.get(self.base + "/counts") as r:
            return list(await r.json())


# -- subscriber worker processes ------------------------------------------------------------------


def quiet_asyncio() -> None:
    """aiortc/aioice leave 'Task exception was never retrieved' for sends on sockets closed at teardown."""
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def bot_process(conn, base: str, nice: int = 0) -> None:
    """A bot process; `nice` > 0 lets the SFU's processes have the cores first (the bots share them)."""
    if nice:
        os.nice(nice)
    quiet_asyncio()
    asyncio.run(_bot_loop(conn, base))


async def _add_sinks(signal: HttpSignal, names: list[str], plan: dict[str, str], sinks: list[Sink]) -> list[str]:
    """Connect sinks, a few at a time; the names of those not connected within 30 s."""
    gate = asyncio.Semaphore(SINK_CONCURRENCY)
    new = [Sink(name, signal) for name in names]

    async def one(sink: Sink) -> None:
        async with gate:
            with contextlib.suppress(aiohttp.ClientError):  # no offer in time (a starved SFU): not connected
                await signal.subscribe(sink, plan)

    await asyncio.gather(*(one(sink) for sink in new))
    sinks.extend(new)
    await wait_for(lambda: all(s.connected for s in new), 30, step=0.1)
    return [s.name for s in new if not s.connected]


async def _bot_loop(conn, base: str) -> None:
    loop = asyncio.get_running_loop()
    bots: list[Bot] = []
    sinks: list[Sink] = []
    reporting: list = []  # what sends the fixed REMBs: the sinks and the probes
    rembs = loop.create_task(remb_loop(reporting))
    async with aiohttp.ClientSession() as http:
        signal = HttpSignal(base, http)
        while True:
            cmd, arg = await loop.run_in_executor(None, conn.recv)
            if cmd == "sinks":  # media dropped in the kernel (loadtest.sink): what they cost is the SFU's
                names, plan = arg
                missing = await _add_sinks(signal, names, plan, sinks)
                reporting.extend([s for s in sinks if s not in reporting])
                conn.send((not missing, missing))
            elif cmd == "leave":
                gone = [s for s in sinks if s.name in set(arg)]
                for sink in gone:
                    sinks.remove(sink)
                    reporting.remove(sink)
                    with contextlib.suppress(aiohttp.ClientError):
                        await signal.leave(sink)
                    await sink.close()
                conn.send(len(gone))
            elif cmd == "add":
                names, plan = arg
                new = [Bot(name, signal, subscribe_mode="tally") for name in names]
                for bot in new:
                    with contextlib.suppress(aiohttp.ClientError):  # no offer in time (a starved SFU): no video
                        await signal.subscribe(bot, plan)
                    if bot.sub is not None:  # a keyframe (100 KB) to four probes must not overflow the socket
                        seams.grow_receive_buffers(bot.sub)  # while this process waits for a core
                        consent.install(bot.sub)
                    reporting.append(ProbeRemb(bot))  # a fixed REMB, as the sinks: loadtest.sink.ProbeRemb
                bots.extend(new)
                ok = await wait_for(lambda new=new: all(any(c.frames for c in b.video.values()) for b in new), 20)
                conn.send((ok, [b.name for b in new if not any(c.frames for c in b.video.values())]))
            elif cmd == "lesson":  # classrooms: publish return video and audio, receive the teacher's tracks
                names, plan, size = arg
                clip = load(size[0], size[1], FPS, CLIP_FRAMES, size[2])
                new = [Bot(name, signal, clip=clip, tone_hz=300 + 10 * i, subscribe_mode="tally")
                       for i, name in enumerate(names)]  # fmt: skip
                for bot in new:
                    await bot.publish()
                    await signal.subscribe(bot, plan)
                    for pc in (bot.pub, bot.sub):
                        if pc is not None:
                            consent.install(pc)
                    reporting.append(ProbeRemb(bot))
                bots.extend(new)
                ok = await wait_for(lambda new=new: all(len(b.video) >= 2 and all(c.frames for c in b.video.values())
                                                        for b in new), 30)  # fmt: skip
                conn.send((ok, [b.name for b in new if not all(c.frames for c in b.video.values())]))
            elif cmd == "fps":
                since, until = arg
                conn.send([min((c.fps(since, until) for c in b.video.values()), default=0.0) for b in bots])
            elif cmd == "stop":
                rembs.cancel()
                for bot in bots:
                    await bot.close()
                for sink in sinks:
                    await sink.close()
                conn.send(True)
                return


async def recv(conn):
    """Wait for a worker's reply without blocking the loop: the publisher bot runs on it."""
    return await asyncio.get_running_loop().run_in_executor(None, conn.recv)


def cpu_split(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU seconds of the SFU's processes, from /proc/<pid>/stat."""
    user = system = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]) / TICK, system + int(fields[12]) / TICK
    return user, system


async def stop_all(bots: list, publisher: Any, proc: asyncio.subprocess.Process) -> None:
    """Stop the bot processes, close the publisher, then the SFU host (killed if it does not exit in 10 s)."""
    for _, conn in bots:
        with contextlib.suppress(Exception):
            conn.send(("stop", None))
            await recv(conn)
    for p, _ in bots:
        p.join(5)
        if p.is_alive():
            p.kill()
    await publisher.close()
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()



async def wait_http(base: str, http: aiohttp.ClientSession, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(base + "/stats") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError("SFU host did not start")
