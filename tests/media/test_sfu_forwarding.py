"""The forwarding core, driven in-process: real aiortc peers on both sides of a MediaService."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import aiortc.rtcrtpreceiver as aiortc_receiver
import aiortc.rtcrtpsender as aiortc_sender
import pytest
from aiortc.rtp import is_rtcp

from loadtest.bots import Bot, DirectSignal, wait_for
from media import aiortc_seams as seams
from media.rtp import vp8_keyframe_start
from media.service import MediaService

ROOM = "r1"


@pytest.fixture
async def room():
    service = MediaService()
    signal = DirectSignal(service, ROOM)
    bots: list[Bot] = []

    def add(bot: Bot) -> Bot:
        bots.append(signal.add(bot))
        return bot

    yield service, signal, add
    for bot in bots:
        await bot.close()
    await service.close()


def _frames(bot: Bot, track_id: str) -> int:
    check = bot.video.get(track_id)
    return check.frames if check else 0


async def test_no_decoder_or_encoder_runs_for_forwarding(room, high_clip, monkeypatch):
    """Count codecs by who created them: the SFU's receivers and senders must create none."""
    service, signal, add = room
    owner = threading.local()
    decoders: list[int] = []  # id() of the track queue the decoder thread feeds
    encoders: list[object] = []  # the sender that asked for an encoder
    real_worker, real_get_decoder, real_get_encoder = (
        aiortc_receiver.decoder_worker, aiortc_receiver.get_decoder, aiortc_sender.get_encoder,
    )

    def worker(loop, input_q, output_q, decode_error):
        owner.queue = id(output_q)
        real_worker(loop, input_q, output_q, decode_error)

    def get_decoder(codec):
        decoders.append(getattr(owner, "queue", 0))
        return real_get_decoder(codec)

    def get_encoder(codec):
        encoders.append(sys._getframe(1).f_locals.get("self"))
        return real_get_encoder(codec)

    monkeypatch.setattr(aiortc_receiver, "decoder_worker", worker)
    monkeypatch.setattr(aiortc_receiver, "get_decoder", get_decoder)
    monkeypatch.setattr(aiortc_sender, "get_encoder", get_encoder)

    pub = add(Bot("pub", signal, clip=high_clip, tone_hz=440))
    await pub.publish()
    assert await wait_for(lambda: len(signal.published) == 2, 5)
    subs = [add(Bot(f"sub{i}", signal)) for i in range(2)]
    plan = {t.track_id: "high" for t in signal.published}
    for sub in subs:
        await service.set_subscriptions(ROOM, sub.name, plan)
    assert await wait_for(lambda: all(_frames(s, "pub:0") >= 20 for s in subs), 10)

    router = service.routers[ROOM]
    sfu_receivers = [t.receiver for t in router.publishers["pub"].pc.getTransceivers()]
    sfu_queues = {id(r._track._queue) for r in sfu_receivers}
    sfu_senders = {id(t.sender) for s in router.subscribers.values() for t in s.pc.getTransceivers()}
    assert all(not seams.decoder_running(r) for r in sfu_receivers)
    assert [q for q in decoders if q in sfu_queues] == []
    assert [e for e in encoders if id(e) in sfu_senders] == []
    # the instruments work: the subscribing bots did decode, the publishing bot did create encoders
    assert len([q for q in decoders if q not in sfu_queues]) >= 4
    assert encoders


async def test_new_subscriber_starts_on_a_keyframe_and_pli_is_throttled(room, high_clip):
    service, signal, add = room
    pub = add(Bot("pub", signal, clip=high_clip))
    await pub.publish()
    assert await wait_for(lambda: signal.published, 5)
    await asyncio.sleep(1.2)  # the clip's own first keyframe is long gone
    sub = add(Bot("sub", signal, subscribe_mode="count"))
    await service.set_subscriptions(ROOM, "sub", {"pub:0": "high"})
    assert await wait_for(lambda: _frames(sub, "pub:0") >= 10, 5)
    first = sub.video["pub:0"].first_payload
    assert first is not None and vp8_keyframe_start(first)  # no delta frame before the keyframe

    track = pub.video_tracks["high"]
    consumer = service.routers[ROOM].consumer("sub", "pub:0")
    await asyncio.sleep(0.6)
    before = len(track.keyframe_requests)
    started = time.monotonic()
    for _ in range(40):  # a subscriber spamming PLIs: a count, not a time (a loaded loop sent 24 in 1.6 s)
        assert await sub.send_pli("pub:0")
        await asyncio.sleep(0.04)
    elapsed = time.monotonic() - started
    await asyncio.sleep(0.1)
    requests = track.keyframe_requests[before:]
    assert consumer.counters.keyframe_requests >= 30
    assert 2 <= len(requests) <= int(elapsed / 0.5) + 2, (requests, elapsed)  # ≤ 1 per 500 ms window
    gaps = [b - a for a, b in zip(track.keyframe_requests, track.keyframe_requests[1:], strict=False)]
    assert min(gaps) >= 0.45, gaps


async def test_switch_high_to_low_decodes_without_a_broken_frame(room, high_clip, low_clip):
    service, signal, add = room
    pub = add(Bot("pub", signal, clip=high_clip, low_clip=low_clip))
    await pub.publish()
    assert await wait_for(lambda: len(signal.published) == 2, 5)
    sub = add(Bot("sub", signal))
    await service.set_subscriptions(ROOM, "sub", {"pub:0": "high"})
    assert await wait_for(lambda: _frames(sub, "pub:0") >= 15, 8)
    check = sub.video["pub:0"]
    assert check.sizes == {(320, 240)}
    await service.set_subscriptions(ROOM, "sub", {"pub:0": "low"})
    assert await wait_for(lambda: check.last_size == (160, 128), 5)
    switched_at = len(check.numbers)
    assert await wait_for(lambda: len(check.numbers) >= switched_at + 20, 5)
    await service.set_subscriptions(ROOM, "sub", {"pub:0": "high"})
    assert await wait_for(lambda: check.last_size == (320, 240), 5)
    assert check.broken == 0 and check.backwards == 0
    steps = [(b - a) % len(high_clip) for a, b in zip(check.numbers, check.numbers[1:], strict=False)]
    # no stall waiting for a keyframe at the switch (a switch may repeat the previous instant or two)
    assert max(s for s in steps if s < len(high_clip) - 2) <= 10, check.numbers
    consumer = service.routers[ROOM].consumer("sub", "pub:0")
    assert consumer.counters.switches == 2


async def test_nack_and_rtx_on_both_legs(room, high_clip, low_clip):
    """Drop packets publisher → SFU and SFU → subscriber; retransmissions repair both. The publisher
    sends two videos (high and low) on one transport, as aiortc only routes RTX by SSRC then."""
    service, signal, add = room
    pub = add(Bot("pub", signal, clip=high_clip, low_clip=low_clip))
    await pub.publish()
    assert await wait_for(lambda: signal.published, 5)
    nacked_at_publisher: list[int] = []
    sender = pub.pub.getTransceivers()[0].sender
    seams.on_retransmit(sender, nacked_at_publisher.append)
    dtls = sender.transport
    real_send = dtls._send_rtp
    sent = [0]

    async def lossy_publisher(data: bytes) -> None:
        if not is_rtcp(data) and data[1] & 0x7F == vp8_pt:  # media, not RTCP nor RTX
            sent[0] += 1
            if sent[0] % 25 == 0:
                return
        await real_send(data)

    vp8_pt = next(c.payloadType for c in pub.pub.getTransceivers()[0]._codecs if c.name == "VP8")
    dtls._send_rtp = lossy_publisher
    sub = add(Bot("sub", signal))
    await service.set_subscriptions(ROOM, "sub", {"pub:0": "high"})
    assert await wait_for(lambda: service.routers[ROOM].consumer("sub", "pub:0").writer is not None, 5)
    consumer = service.routers[ROOM].consumer("sub", "pub:0")
    consumer_send = consumer._send
    count = [0]

    def lossy_subscriber(header: bytes, ext: bytes, payload: bytes, owner: object) -> int:
        count[0] += 1
        if count[0] % 30 == 0 and header[1] & 0x7F == consumer.payload_type:  # lose media, never RTX
            return len(header) + len(ext) + len(payload)
        return consumer_send(header, ext, payload, owner)

    consumer._send = lossy_subscriber
    assert await wait_for(lambda: _frames(sub, "pub:0") >= 60, 10)
    check = sub.video["pub:0"]
    assert nacked_at_publisher, "the SFU did not NACK the publisher"
    assert consumer.counters.nacks > 0 and consumer.counters.retransmitted > 0
    assert check.broken == 0 and check.backwards == 0
    assert check.fps(check.times[10], check.times[-1]) > 20


async def test_audio_levels_report_who_speaks(room, high_clip):
    service, signal, add = room
    speaker = add(Bot("speaker", signal, tone_hz=500, speaking=True))
    silent = add(Bot("silent", signal, tone_hz=600, speaking=False))
    await speaker.publish()
    await silent.publish()
    listener = add(Bot("listener", signal))
    plan = {f"{b}:0": "high" for b in ("speaker", "silent")}
    await service.set_subscriptions(ROOM, "listener", plan)
    assert await wait_for(lambda: any("speaker" in levels for levels in signal.levels), 5)
    await asyncio.sleep(1.0)
    recent = signal.levels[-3:]
    assert all("speaker" in lv and "silent" not in lv for lv in recent)
    assert all(0 < lv["speaker"] <= 1 for lv in recent)
    reports = len(signal.levels)
    await asyncio.sleep(1.0)
    assert len(signal.levels) - reports <= 5  # a few times a second at most
    assert listener.audio["speaker:0"].pitch_hz > 0


async def test_attach_sink_gets_encoded_frames_from_a_keyframe(room, high_clip):
    service, signal, add = room
    pub = add(Bot("pub", signal, clip=high_clip))
    await pub.publish()
    assert await wait_for(lambda: signal.published, 5)
    await asyncio.sleep(0.8)
    frames = []
    requests = len(pub.video_tracks["high"].keyframe_requests)
    subscription = service.attach_sink(ROOM, "pub:0", frames.append)
    assert await wait_for(lambda: len(frames) >= 20, 5)
    subscription.close()
    count = len(frames)
    await asyncio.sleep(0.3)
    assert len(frames) == count
    assert len(pub.video_tracks["high"].keyframe_requests) > requests  # attaching asked for a keyframe
    assert frames[0].keyframe and frames[0].codec == "VP8" and frames[0].kind == "video"
    assert frames[0].data[0] & 1 == 0  # a VP8 key frame's first bit
    stamps = [f.timestamp for f in frames]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    assert all(f.clock_rate == 90000 and f.track_id == "pub:0" for f in frames)


async def test_stats_and_prometheus_text(room, high_clip):
    service, signal, add = room
    pub = add(Bot("pub", signal, clip=high_clip))
    await pub.publish()
    sub = add(Bot("sub", signal, subscribe_mode="count"))
    assert await wait_for(lambda: signal.published, 5)
    await service.set_subscriptions(ROOM, "sub", {"pub:0": "high"})
    assert await wait_for(lambda: _frames(sub, "pub:0") >= 30, 5)
    # The first subscriber may have asked before the publisher's first packet, which is a keyframe anyway (no
    # PLI needed); a second one while the stream flows needs a PLI.
    late = add(Bot("late", signal, subscribe_mode="count"))
    await service.set_subscriptions(ROOM, "late", {"pub:0": "high"})
    assert await wait_for(lambda: _frames(late, "pub:0") >= 1, 5)

    def latest() -> dict:
        return {s["track_id"]: s for s in signal.stats[-1]}["pub:0"] if signal.stats else {}

    assert await wait_for(lambda: latest().get("plis_sent", 0) >= 1 and latest().get("subscribers") == 2, 4)
    video = latest()
    assert video["subscribers"] == 2 and video["packets"] > 0 and video["packets_forwarded"] > 0
    assert video["keyframe_requests"] >= 1 and video["plis_sent"] >= 1
    assert video["bitrate_bps"] > 50_000 and video["transit_avg_us"] > 0
    text = service.render_metrics()
    assert '# TYPE sanke_media_track_packets_forwarded_total counter' in text
    line = next(x for x in text.splitlines() if x.startswith("sanke_media_track_packets_forwarded_total{"))
    assert 'track="pub:0"' in line and float(line.rsplit(" ", 1)[1]) > 0


async def test_unsubscribe_and_resubscribe_resumes_on_the_same_transceiver(room, low_clip):
    service, signal, add = room
    pub = add(Bot("pub", signal, clip=low_clip, tone_hz=300))
    await pub.publish()
    assert await wait_for(lambda: len(signal.published) == 2, 5)
    sub = add(Bot("sub", signal))
    full = {"pub:0": "high", "pub:1": "high"}
    for _ in range(3):
        await service.set_subscriptions(ROOM, "sub", full)
        target = _frames(sub, "pub:0") + 10
        assert await wait_for(lambda target=target: _frames(sub, "pub:0") >= target, 8)
        await service.set_subscriptions(ROOM, "sub", {"pub:1": "high"})
        await asyncio.sleep(0.2)
    transport = service.routers[ROOM].subscribers["sub"]
    assert len(transport.pc.getTransceivers()) == 2  # no new m-line per resubscription
    assert not transport.slots["pub:0"].active
    check = sub.video["pub:0"]
    assert check.broken == 0 and check.backwards == 0


async def test_a_subscriber_vanishing_does_not_stop_the_others(room, low_clip):
    """A subscriber whose connection dies without a leave must not break forwarding to the rest."""
    service, signal, add = room
    pub = add(Bot("pub", signal, clip=low_clip))
    await pub.publish()
    assert await wait_for(lambda: signal.published, 5)
    stays = add(Bot("stays", signal, subscribe_mode="count"))
    goes = add(Bot("goes", signal, subscribe_mode="count"))
    for bot in (stays, goes):
        await service.set_subscriptions(ROOM, bot.name, {"pub:0": "high"})
    assert await wait_for(lambda: _frames(stays, "pub:0") >= 5 and _frames(goes, "pub:0") >= 5, 8)
    router = service.routers[ROOM]
    gone_consumer = router.consumer("goes", "pub:0")
    await goes.close()  # no leave: the server has not been told yet
    await router.subscribers["goes"].pc.close()  # and its side of the connection is torn down
    target = _frames(stays, "pub:0") + 30
    assert await wait_for(lambda: _frames(stays, "pub:0") >= target, 5)
    assert gone_consumer.paused
    await service.leave(ROOM, "goes")
    assert "goes" not in router.subscribers
