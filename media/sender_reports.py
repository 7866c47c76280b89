"""RTCP sender reports for the SFU's forwarded streams, sent synchronously from the room's ticker.

A receiver needs a sender report per stream about once a second (RFC 3550: lip sync between audio and video,
and the LSR its receiver reports echo for round-trip time). aiortc's sender sends its own from a task per
sender that sleeps 0.5–1.5 s, builds report objects and awaits the DTLS transport: with a hundred
subscribers that was, after the quality step, the largest periodic cost per forwarded packet. Here the
same compound packet (SR and SDES CNAME) is packed with `struct`, protected and sent with the connection's
`RtpWriter`, at the same randomised interval (`quiet_sender_rtcp` stops aiortc's loop). The three functions
that reach into aiortc's sender say what they rely on, as media.aiortc_seams' do.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import time
from collections.abc import Iterable
from typing import Any, Protocol

from aiortc import RTCRtpSender
from aiortc.rtp import RtcpByePacket

from media.aiortc_seams import RtpWriter


class Stream(Protocol):
    """A subscriber connection's slot (media.subscriber_transport): its transceiver, consumer and whether it is on."""

    @property
    def transceiver(self) -> Any: ...
    @property
    def consumer(self) -> Any: ...
    @property
    def active(self) -> bool: ...

_SR = struct.Struct("!BBHIQIII")  # V=2 RC=0, PT=200, length 6, SSRC, NTP, RTP timestamp, packets, octets


def sdes(ssrc: int, cname: str) -> bytes:
    """The SDES packet with one chunk: SSRC, CNAME item, then a null item ending it, padded to 32 bits."""
    text = cname.encode("utf8")[:255]
    chunk = struct.pack("!IBB", ssrc, 1, len(text)) + text
    chunk += b"\x00" * (4 - len(chunk) % 4)  # at least one null octet ends the item list
    return struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk


def sender_report(ssrc: int, ntp: int, rtp_timestamp: int, packets: int, octets: int) -> bytes:
    return _SR.pack(0x80, 200, 6, ssrc, ntp, rtp_timestamp, packets & 0xFFFFFFFF, octets & 0xFFFFFFFF)


def quiet_sender_rtcp(sender: RTCRtpSender) -> None:
    """The SFU sends the sender's RTCP sender reports itself (media.sender_reports, from the room's ticker): the
    sender's own RTCP loop (a task and a timer per sender, objects and an await chain per report) only waits
    to be stopped, then says BYE as aiortc's does. Call before the sender starts.
    Relies on: `send()` running `self._run_rtcp()` as its RTCP task, `stop()` waiting for the name-mangled
    `__rtcp_started` and `__rtcp_exited` events, `_send_rtcp(packets)`."""

    async def run_rtcp() -> None:
        sender._RTCRtpSender__rtcp_started.set()  # type: ignore[attr-defined]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.get_running_loop().create_future()
        await sender._send_rtcp([RtcpByePacket(sources=[sender._ssrc])])
        sender._RTCRtpSender__rtcp_exited.set()  # type: ignore[attr-defined]

    sender._run_rtcp = run_rtcp  # type: ignore[method-assign]


def sender_cname(sender: RTCRtpSender) -> str | None:
    """The CNAME the sender's SDES carries. Relies on: the name-mangled `__cname`."""
    return sender._RTCRtpSender__cname  # type: ignore[attr-defined]


def note_sender_report(sender: RTCRtpSender, ntp: int, at: float) -> None:
    """A sender report left at `at` (time.time()): the sender matches receiver reports' LSR/DLSR against it for
    its round-trip time (getStats). Relies on: the name-mangled `__lsr`, `__lsr_time`."""
    sender._RTCRtpSender__lsr = (ntp >> 16) & 0xFFFFFFFF  # type: ignore[attr-defined]
    sender._RTCRtpSender__lsr_time = at  # type: ignore[attr-defined]


class SenderReports:
    """One subscriber connection's: `due(now)` sends the reports whose time has come."""

    __slots__ = ("_next", "_sdes")

    def __init__(self) -> None:
        self._next: dict[int, float] = {}  # SSRC → when its next report is due
        self._sdes: dict[int, bytes] = {}

    def send_due(self, now: float, writer: RtpWriter | None, streams: Iterable[Stream]) -> int:
        """Send the reports due of the started, active `streams`; how many left."""
        if writer is None or not writer.ready:
            return 0
        sent = 0
        for stream in streams:
            consumer = stream.consumer
            report = consumer.sender_report() if stream.active and consumer.writer is not None else None
            if report is None:  # not started, or nothing forwarded yet
                continue
            sender, ssrc = stream.transceiver.sender, consumer.ssrc
            due = self._next.get(ssrc)
            if due is None:
                self._next[ssrc] = now + random.random()  # the first within a second, spread out
                continue
            if now < due:
                continue
            self._next[ssrc] = now + 0.5 + random.random()  # RFC 3550's [0.5, 1.5] × the interval, as aiortc
            tail = self._sdes.get(ssrc)
            if tail is None:
                tail = self._sdes[ssrc] = sdes(ssrc, sender_cname(sender) or "sanke")
            writer.write_rtcp(sender_report(ssrc, *report) + tail)
            note_sender_report(sender, report[0], time.time())
            sent += 1
        return sent
