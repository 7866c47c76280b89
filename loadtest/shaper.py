"""A bandwidth shaper for one subscriber: a small UDP relay between an aiortc bot and the SFU.

The relay holds two sockets: `sfu_side`, which the SFU is told is the subscriber's only ICE candidate,
and `bot_side`, which the bot is told is the SFU's only candidate. Whatever reaches one goes out of the
other, so every packet of the subscriber connection (ICE checks, DTLS, SRTP, RTCP) crosses it, and
neither side ever learns an address that would bypass it (no TURN, no network namespace, no root).
`loadtest.shaped` swaps the candidates in the SDP and has the subscribing bot that uses it.

Downlink (SFU → bot) goes through a token bucket (`rate_bps`, `burst_s` of credit) with a drop-tail
queue of at most `queue_s`, then a fixed `delay_s`, and random `loss`: what a rural school's 1 Mbps
line does to a stream that does not fit. The uplink (RTCP, ICE) only gets the delay. Sizes count the
IP and UDP headers (28 bytes), as a line does. `set_link` changes the link while it runs.
`ShaperProcess` runs it in its own process (this module imports no media library, so it starts fast).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
from dataclasses import asdict, dataclass, replace
from typing import Any

WIRE_OVERHEAD = 28  # IPv4 + UDP headers


@dataclass(slots=True, frozen=True)
class Link:
    rate_bps: float
    delay_s: float = 0.02
    loss: float = 0.0
    queue_s: float = 0.5  # drop-tail: a packet that would wait longer than this is dropped (a DSL modem's buffer)
    burst_s: float = 0.02  # token bucket depth, in seconds of the rate


@dataclass(slots=True)
class ShaperCounters:
    down_packets: int = 0
    down_bytes: int = 0
    dropped_queue: int = 0
    dropped_loss: int = 0
    up_packets: int = 0


class _Side(asyncio.DatagramProtocol):
    def __init__(self, on_packet) -> None:  # noqa: ANN001 - a bound method of UdpShaper
        self.on_packet = on_packet
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:  # noqa: ANN001 - asyncio's BaseTransport
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # noqa: ANN001 - (host, port)
        self.on_packet(data, addr)


class UdpShaper:
    """The relay (see the module docstring). `start(host)`, then point both peers at it, `close()`."""

    def __init__(self, link: Link, seed: int = 1) -> None:
        self.link = link
        self.counters = ShaperCounters()
        self.sfu_addr: tuple[str, int] | None = None  # where the SFU's subscriber connection listens
        self.bot_addr: tuple[str, int] | None = None  # where the bot listens
        self._sfu_side: _Side | None = None
        self._bot_side: _Side | None = None
        self._free_at = 0.0  # when the shaped link has sent everything queued so far
        self._rng = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, host: str) -> None:
        loop = self._loop = asyncio.get_running_loop()
        _, self._sfu_side = await loop.create_datagram_endpoint(lambda: _Side(self._from_sfu), local_addr=(host, 0))
        _, self._bot_side = await loop.create_datagram_endpoint(lambda: _Side(self._from_bot), local_addr=(host, 0))
        for side in (self._sfu_side, self._bot_side):  # only the token bucket may drop, not a full socket
            sock = side.transport.get_extra_info("socket") if side.transport else None
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)

    @property
    def sfu_side(self) -> tuple[str, int]:
        assert self._sfu_side is not None and self._sfu_side.transport is not None
        return self._sfu_side.transport.get_extra_info("sockname")[:2]

    @property
    def bot_side(self) -> tuple[str, int]:
        assert self._bot_side is not None and self._bot_side.transport is not None
        return self._bot_side.transport.get_extra_info("sockname")[:2]

    def set_link(self, **changes: float) -> None:
        self.link = replace(self.link, **changes)

    def learn(self, sfu: tuple[str, int] | None = None, bot: tuple[str, int] | None = None) -> None:
        """Where the two peers listen (from their SDP); the first answer of each side is kept."""
        if sfu is not None and self.sfu_addr is None:
            self.sfu_addr = sfu
        if bot is not None and self.bot_addr is None:
            self.bot_addr = bot

    def forget(self) -> None:
        """A new connection replaces the old one (the SFU's replacement offer): learn both peers anew."""
        self.sfu_addr = self.bot_addr = None

    def _from_sfu(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self._loop is not None and self._bot_side is not None
        if self.bot_addr is None:
            return
        link, now = self.link, self._loop.time()
        size = len(data) + WIRE_OVERHEAD
        start = max(self._free_at, now - link.burst_s)
        if start - now > link.queue_s:
            self.counters.dropped_queue += 1
            return
        self._free_at = start + size * 8 / link.rate_bps
        if link.loss and self._rng.random() < link.loss:
            self.counters.dropped_loss += 1  # lost on the line after taking its share of it
            return
        self.counters.down_packets += 1
        self.counters.down_bytes += size
        self._loop.call_at(self._free_at + link.delay_s, self._send, self._bot_side, data, self.bot_addr)

    def _from_bot(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self._loop is not None and self._sfu_side is not None
        self.bot_addr = addr
        if self.sfu_addr is None:
            return
        self.counters.up_packets += 1
        self._loop.call_later(self.link.delay_s, self._send, self._sfu_side, data, self.sfu_addr)

    @staticmethod
    def _send(side: _Side, data: bytes, addr: tuple[str, int]) -> None:
        if side.transport is not None and not side.transport.is_closing():
            side.transport.sendto(data, addr)

    def close(self) -> None:
        for side in (self._sfu_side, self._bot_side):
            if side is not None and side.transport is not None:
                side.transport.close()


class ShaperProcess:
    """A `UdpShaper` in its own process (`python -m loadtest.shaper`), so that a busy test loop cannot
    stall the link itself: it is controlled by JSON lines on stdin and answers on stdout."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self._proc: asyncio.subprocess.Process | None = None
        self.sfu_side: tuple[str, int] = ("", 0)
        self.bot_side: tuple[str, int] = ("", 0)
        self._learnt: set[str] = set()

    async def start(self, host: str) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loadtest.shaper", "--host", host, "--link", json.dumps(asdict(self.link)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        hello = json.loads(await self._read())
        self.sfu_side, self.bot_side = tuple(hello["sfu_side"]), tuple(hello["bot_side"])  # type: ignore[assignment]

    async def _read(self) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        return await asyncio.wait_for(self._proc.stdout.readline(), 30)  # a cold start on a busy machine

    def _send(self, command: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(command).encode() + b"\n")

    def learn(self, sfu: tuple[str, int] | None = None, bot: tuple[str, int] | None = None) -> None:
        for key, addr in (("sfu", sfu), ("bot", bot)):
            if addr is not None and key not in self._learnt:
                self._learnt.add(key)
                self._send({key: list(addr)})

    def forget(self) -> None:
        self._learnt.clear()
        self._send({"forget": True})

    def set_link(self, **changes: float) -> None:
        self.link = replace(self.link, **changes)
        self._send({"link": asdict(self.link)})

    async def counters(self) -> ShaperCounters:
        self._send({"counters": True})
        return ShaperCounters(**json.loads(await self._read()))

    async def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            await end_child(proc, 5)


async def _serve(host: str, link: Link) -> None:
    shaper = UdpShaper(link)
    await shaper.start(host)
    print(json.dumps({"sfu_side": shaper.sfu_side, "bot_side": shaper.bot_side}), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            command = json.loads(line)
            if command.get("forget"):
                shaper.forget()
            if "sfu" in command:
                shaper.learn(sfu=tuple(command["sfu"]))
            if "bot" in command:
                shaper.learn(bot=tuple(command["bot"]))
            if "link" in command:
                shaper.link = Link(**command["link"])
            if "counters" in command:
                print(json.dumps(asdict(shaper.counters)), flush=True)
    finally:
        shaper.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.shaper", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address both relay sockets bind")
    parser.add_argument("--link", required=True, help="the Link as JSON")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, Link(**json.loads(args.link))))  # ends when stdin closes
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


async def end_child(proc: asyncio.subprocess.Process, grace: float) -> None:
    """A child that reads commands on stdin ends when it closes; one that does not within `grace` is killed."""
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        proc.kill()
        await proc.wait()
