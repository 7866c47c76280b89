"""The aiortc internals `media/aiortc_seams.py` relies on: if aiortc changes underneath, these fail."""

from __future__ import annotations

import asyncio
import inspect

import aiortc.rtcrtpreceiver as aiortc_receiver
from aiortc import (
    RTCCertificate,
    RTCDtlsTransport,
    RTCIceGatherer,
    RTCIceTransport,
    RTCRtpReceiver,
    RTCRtpSender,
)

from loadtest.bots import Bot, DirectSignal, wait_for
from media import aiortc_seams as seams
from media.service import MediaService


def _dtls() -> RTCDtlsTransport:
    return RTCDtlsTransport(RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()])


async def test_private_names_the_seams_use_exist():
    dtls = _dtls()
    receiver = RTCRtpReceiver("video", dtls)
    sender = RTCRtpSender("video", dtls)
    for name in ("__jitter_buffer", "__decoder_thread", "__rtcp_ssrc"):
        assert hasattr(receiver, f"_RTCRtpReceiver{name}"), name
    assert callable(receiver._RTCRtpReceiver__stop_decoder)
    for name in ("__ntp_timestamp", "__rtp_timestamp", "__packet_count", "__octet_count"):
        assert hasattr(sender, f"_RTCRtpSender{name}"), name
    for name in ("_ssrc", "_rtx_ssrc", "_stream_id", "_handle_rtcp_packet", "_send_keyframe", "_retransmit"):
        assert hasattr(sender, name), name
    assert callable(receiver._send_rtcp_pli) and callable(receiver._send_rtcp)
    assert receiver._RTCRtpReceiver__remote_bitrate_estimator is not None  # a video receiver's own REMB
    seams.stop_own_remb(receiver)
    assert receiver._RTCRtpReceiver__remote_bitrate_estimator is None
    assert "self.__remote_bitrate_estimator is not None" in inspect.getsource(
        aiortc_receiver.RTCRtpReceiver._handle_rtp_packet
    )
    assert hasattr(dtls, "_tx_srtp") and hasattr(dtls.transport, "_connection")
    assert hasattr(dtls.transport._connection, "_nominated")
    # the receive path still hands each packet to the jitter buffer and frames to the decoder queue
    source = inspect.getsource(aiortc_receiver.RTCRtpReceiver._handle_rtp_packet)
    assert "self.__jitter_buffer.add(packet)" in source
    assert "self.__decoder_thread" in source and "self.__decoder_queue.put" in source
    sender_source = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert "self._send_keyframe()" in sender_source and "await self._retransmit(seq)" in sender_source
    await dtls.stop()


async def test_tap_replaces_the_jitter_buffer_and_stops_the_decoder():
    dtls = _dtls()
    receiver = RTCRtpReceiver("video", dtls)
    seen = []
    buffer = seams.install_receive_tap(receiver, "video", seen.append)
    assert receiver._RTCRtpReceiver__jitter_buffer is buffer
    assert buffer.add(_packet()) == (False, None) and len(seen) == 1
    # receive() would start a decoder thread; the wrapped one joins it straight away
    receiver._RTCRtpReceiver__decoder_thread = None
    receiver._track = aiortc_receiver.RemoteStreamTrack(kind="video")
    thread_started = []
    real_start = aiortc_receiver.threading.Thread.start

    def start(self):
        thread_started.append(self.name)
        real_start(self)

    aiortc_receiver.threading.Thread.start = start
    try:
        dtls._state = dtls._state.__class__.CONNECTED  # receive() only registers with the transport
        from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters

        params = RTCRtpReceiveParameters(
            codecs=[RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)]
        )
        await receiver.receive(params)
    finally:
        aiortc_receiver.threading.Thread.start = real_start
    assert thread_started == ["video-decoder"]
    assert not seams.decoder_running(receiver)
    await receiver.stop()


def _packet():
    from aiortc.rtp import RtpPacket

    p = RtpPacket(payload_type=97, sequence_number=1, timestamp=1, ssrc=5, payload=b"\x10\x00\x9d")
    p._data = b"\x00\x9d"
    return p


async def test_live_connections_use_the_synchronous_send_path_and_real_sender_reports(low_clip):
    service = MediaService()
    signal = DirectSignal(service, "seams")
    pub = signal.add(Bot("pub", signal, clip=low_clip))
    sub = signal.add(Bot("sub", signal, subscribe_mode="count"))
    try:
        await pub.publish()
        assert await wait_for(lambda: signal.published, 5)
        await service.set_subscriptions("seams", "sub", {"pub:0": "high"})
        assert await wait_for(lambda: "pub:0" in sub.video and sub.video["pub:0"].frames >= 10, 5)
        router = service.routers["seams"]
        transport = router.subscribers["sub"]
        writer = transport._writer
        assert writer is not None and writer._sendto is not None and writer._async_send is None
        slot = transport.slots["pub:0"]
        # the announced msid carries the publisher and the track id
        assert "a=msid:pub pub:0" in transport.pc.localDescription.sdp
        receiver = next(t.receiver for t in sub.sub.getTransceivers() if t.kind == "video")

        async def reported() -> list:  # the subscriber's view of our sender reports (RTCP SR, media.sender_reports)
            return [s for s in (await receiver.getStats()).values() if s.type == "remote-outbound-rtp"]

        for _ in range(50):  # one is due within 1.5 s
            if await reported():
                break
            await asyncio.sleep(0.1)
        (sr,) = await reported()
        assert 0 < sr.packetsSent <= slot.consumer.counters.packets  # what the consumer had sent when it reported
        assert not slot.transceiver.sender._RTCRtpSender__rtcp_exited.is_set()  # aiortc's loop only waits
        assert seams.receiver_rtcp_ssrc(router.publishers["pub"].pc.getTransceivers()[0].receiver)
    finally:
        await pub.close()
        await sub.close()
        await service.close()


def test_in_place_srtp_sender_round_trips_through_libsrtp():
    """srtp_packet_sender uses pylibsrtp's work buffer directly: what it sends must unprotect intact."""
    import os
    import socket

    from pylibsrtp import Policy, Session

    key = os.urandom(30)
    tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80))
    rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80))
    for name in ("_srtp", "_cdata", "_buffer"):
        assert hasattr(tx, name), name
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(2)
    try:
        send = seams.srtp_packet_sender(tx, sender.sendto, receiver.getsockname())
        from media.rtp import rtp_header

        for seq in (10, 11):
            header = rtp_header(1, 97, seq, 1000 * seq, 0xABCDEF01, True)
            ext = bytes((0xBE, 0xDE, 0x00, 0x01, 0x20, 0x7F, 0, 0))
            payload = os.urandom(900)
            wire = send(header, ext, payload)
            data = receiver.recv(2048)
            assert len(data) == wire
            assert rx.unprotect(data) == header + ext + payload
    finally:
        receiver.close()
        sender.close()


def test_installed_aiortc_is_one_the_seams_were_checked_against():
    assert not seams.unchecked_versions(), "\n".join(seams.unchecked_versions())


def test_another_aiortc_fails_with_a_message_saying_what_to_do(monkeypatch):
    monkeypatch.setattr(seams, "version", lambda package: "1.17.2" if package == "aiortc" else "0.13.0")
    (message,) = seams.unchecked_versions()
    assert message.startswith("aiortc 1.17.2 is installed, but media/aiortc_seams.py was checked against aiortc 1.16.x")
    assert "tests/media/test_sfu_seams.py" in message and "pyproject.toml" in message


def test_pyproject_allows_only_the_checked_releases():
    import pathlib
    import tomllib

    deps = tomllib.loads((pathlib.Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "aiortc>=1.16,<1.17" in deps and "aioice>=0.13,<0.14" in deps
    assert seams.CHECKED == {"aiortc": ("1.16",), "aioice": ("0.13",)}


async def test_a_cancelled_second_close_does_not_break_the_first():
    """A room's recovery task, cancelled as the room closes, was a second caller of aiortc's close(): the
    first one then failed half-way ("Task exception was never retrieved" in every worker's log)."""
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    pc.addTransceiver("video")
    pc.addTransceiver("audio")
    await pc.setLocalDescription(await pc.createOffer())
    first = asyncio.ensure_future(seams.close(pc))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(seams.close(pc))
    await asyncio.sleep(0)
    second.cancel()
    await asyncio.wait_for(first, 5)  # raised InvalidStateError without the shield
    assert pc.connectionState == "closed"
    assert all(t.receiver.transport.transport.state == "closed" for t in pc.getTransceivers())  # ICE stopped
