"""The bandwidth shaper (loadtest/shaper.py) and the SDP swap that puts it in a subscriber's path."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

from aiortc import RTCPeerConnection

from loadtest.shaped import _swap_candidates, vp8_keyframe_size
from loadtest.shaper import WIRE_OVERHEAD, Link, ShaperProcess, UdpShaper
from media import aiortc_seams as seams

RMEM_MAX = int(Path("/proc/sys/net/core/rmem_max").read_text())


class _Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []

    def datagram_received(self, data: bytes, addr) -> None:  # noqa: ANN001
        self.arrivals.append((time.monotonic(), data))


async def _endpoint() -> tuple[asyncio.DatagramTransport, _Sink]:
    transport, sink = await asyncio.get_running_loop().create_datagram_endpoint(_Sink, local_addr=("127.0.0.1", 0))
    return transport, sink  # type: ignore[return-value]


async def test_token_bucket_paces_to_the_rate_drops_the_tail_and_passes_the_uplink():
    shaper = UdpShaper(Link(rate_bps=400_000, delay_s=0.0, queue_s=0.2, burst_s=0.0))
    await shaper.start("127.0.0.1")
    sfu, sfu_sink = await _endpoint()
    bot, bot_sink = await _endpoint()
    try:
        shaper.learn(sfu=sfu.get_extra_info("sockname"), bot=bot.get_extra_info("sockname"))
        payload = bytes(1000 - WIRE_OVERHEAD)  # 1000 bytes on the wire: 20 ms each at 400 kbps
        for i in range(40):  # 0.8 s worth at once: 0.2 s of queue holds ~11 of them
            sfu.sendto(bytes([i]) + payload[1:], shaper.sfu_side)
        bot.sendto(b"rtcp", shaper.bot_side)
        await asyncio.sleep(0.6)
        got = [data[0] for _, data in bot_sink.arrivals]
        assert 9 <= len(got) <= 13 and got == sorted(got), got  # in order, the tail dropped
        assert shaper.counters.dropped_queue == 40 - len(got)
        span = bot_sink.arrivals[-1][0] - bot_sink.arrivals[0][0]
        assert span >= (len(got) - 1) * 0.02 * 0.8, span  # paced at the rate, not passed in a burst
        assert [d for _, d in sfu_sink.arrivals] == [b"rtcp"]  # the uplink is not shaped
    finally:
        shaper.close()
        sfu.close()
        bot.close()


async def test_shaper_process_changes_its_link_while_running():
    shaper = ShaperProcess(Link(rate_bps=3_000_000, delay_s=0.0))
    await shaper.start("127.0.0.1")
    sfu, _ = await _endpoint()
    bot, bot_sink = await _endpoint()
    try:
        shaper.learn(sfu=sfu.get_extra_info("sockname"), bot=bot.get_extra_info("sockname"))
        shaper.set_link(rate_bps=100_000, queue_s=0.1)
        await asyncio.sleep(0.3)
        for _ in range(30):
            sfu.sendto(bytes(1200), shaper.sfu_side)
        await asyncio.sleep(0.5)
        counters = await shaper.counters()
        assert counters.dropped_queue >= 20 and counters.down_packets == len(bot_sink.arrivals) <= 10
    finally:
        await shaper.close()
        sfu.close()
        bot.close()


async def test_candidate_swap_leaves_only_the_relay():
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="sendonly")
    pc.addTransceiver("audio", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    try:
        sdp, first = _swap_candidates(pc.localDescription.sdp, ("127.0.0.1", 4242))
        candidates = [line for line in sdp.splitlines() if line.startswith("a=candidate:")]
        assert candidates == ["a=candidate:shaper 1 udp 2130706431 127.0.0.1 4242 typ host"] * 2
        assert first is not None and first[1] > 0
        # the kernel buffer of every ICE socket was raised (Linux reports twice the value, capped by rmem_max)
        assert seams.grow_receive_buffers(pc) >= 1
        connection = pc.getTransceivers()[0].sender.transport.transport._connection
        sock = connection._protocols[0].transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= min(2 * seams.RECEIVE_BUFFER, 2 * RMEM_MAX)
    finally:
        await pc.close()


def test_layer_is_read_from_the_keyframe_header():
    import av
    from aiortc.codecs.vpx import Vp8Encoder

    from loadtest.clip import VIDEO_TIME_BASE, grainy

    clip = grainy(160, 128, 30, 6, 150_000)
    packet = av.Packet(clip.frames[0].data)
    packet.pts, packet.time_base = 0, VIDEO_TIME_BASE
    payloads, _ = Vp8Encoder().pack(packet)
    assert vp8_keyframe_size(payloads[0]) == (160, 128)
    assert vp8_keyframe_size(payloads[1]) is None  # not the start of the frame
