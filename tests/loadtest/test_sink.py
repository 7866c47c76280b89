"""The benchmark's sink subscribers (loadtest.sink): the kernel drops their media and nothing else.

A sink must look like any subscriber to the SFU (connected, sent the full stream, reporting REMB) while its
own process receives no RTP at all; without its filter the same sink receives the stream (the control, so
the first test cannot pass by receiving nothing for another reason).
"""

from __future__ import annotations

import socket
import time

import pytest

from loadtest.bots import Bot, DirectSignal, wait_for
from loadtest.clip import Clip, load
from loadtest.sfu_counts import SfuCounts
from loadtest.sink import Sink, attach_filter, rtp_drop_program
from media.service import MediaService

ROOM = "r1"


def test_the_filter_drops_rtp_and_rtcp_and_passes_stun_and_dtls() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(0.5)
        attach_filter(receiver, rtp_drop_program())
        firsts = [0x00, 0x01, 0x16, 0x17, 0x80, 0x90, 0xA0, 0xBF, 0xC0]  # STUN, DTLS, RTP/RTCP…, other
        for first in firsts:
            sender.sendto(bytes([first]) + bytes(40), receiver.getsockname())
        got = []
        deadline = time.monotonic() + 2
        while len(got) < 5 and time.monotonic() < deadline:
            try:
                got.append(receiver.recv(100)[0])
            except TimeoutError:
                break
        assert got == [0x00, 0x01, 0x16, 0x17, 0xC0]
    finally:
        receiver.close()
        sender.close()


@pytest.fixture(scope="module")
def high_clip() -> Clip:
    return load(320, 240, 30, 90, 300_000)


@pytest.fixture
async def service():  # type: ignore[no-untyped-def]
    svc = MediaService()
    yield svc
    await svc.close()


@pytest.mark.parametrize("drop", [True, False], ids=["sink", "control-without-filter"])
async def test_a_sink_is_sent_the_stream_and_receives_none_of_it(service: MediaService, high_clip, drop) -> None:
    signal = DirectSignal(service, ROOM)
    pub = signal.add(Bot("pub", signal, clip=high_clip))
    sink = Sink("sink", signal, drop=drop)
    signal.bots[sink.name] = sink  # type: ignore[assignment]
    counts = SfuCounts(service, ROOM, {}, None)
    try:
        await pub.publish()
        assert await wait_for(lambda: len(signal.published) == 1, 10)
        await service.set_subscriptions(ROOM, "sink", {signal.published[0].track_id: "high"})
        assert await wait_for(lambda: sink.connected, 15)
        assert (sink.filtered >= 1) if drop else sink.filtered == 0
        assert await wait_for(lambda: counts.counts()["consumers"].get("sink", [0, 0])[1] >= 30, 15)
        assert await sink.send_remb()
        router = service.routers[ROOM]
        assert await wait_for(lambda: router.subscribers["sink"].feedback.rembs >= 1, 5)
        packets, frames = counts.counts()["consumers"]["sink"]
        assert packets >= frames >= 30  # the SFU sent it the stream (a second or more of 30 fps)
        if drop:
            assert sink.rtp_seen == 0
        else:
            assert await wait_for(lambda: sink.rtp_seen >= 30, 5)
    finally:
        await sink.close()
        await pub.close()
