"""What a subscriber connection's RTCP tells bandwidth-driven quality (media/feedback.py): the loss of its line,
not the loss its own pacer caused nor the publisher's line's, and each REMB once however many of its streams the REMB names."""

from __future__ import annotations

import asyncio
import struct
from types import SimpleNamespace
from typing import Any

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtpPacket,
    pack_remb_fci,
)

from media.bandwidth import QualityAdapter
from media.consumer import Consumer
from media.feedback import LoopWatch, SubscriberFeedback, subscriber_rtcp_handler
from media.pacer import Pacer
from media.producer import Producer, ProducerInfo

_HEADER = struct.Struct("!BBHII")
VIDEO = 2


class Owner:
    keyframe_ts = -1

    def on_paced_drop(self, seq: int) -> None:
        pass


def so_far(highest: int, size: int) -> tuple[int, int]:
    """What the SFU had sent a stream by the time its receiver's report covered `highest` (bytes, packets)."""
    return highest * size, highest


def _frame(pacer: Pacer, owner: Owner, first: int, packets: int) -> None:
    for i in range(packets):
        header = _HEADER.pack(0x80, (0x80 if i == packets - 1 else 0) | 96, (first + i) & 0xFFFF, first, VIDEO)
        pacer.video(header, b"", bytes(988), owner)


async def test_what_the_pacer_dropped_is_not_the_lines_loss():
    """A 600 kbps line paced at its rate gets 1 Mbps of video: the pacer drops what does not fit, the receiver
    counts those sequence numbers as lost, and its reports say so. With no audio report in the step, that was
    read as the line's loss: two such steps moved a low layer to a pause."""
    pacer, sent = Pacer(queue_s=0.1), []

    def line(header: bytes, ext: bytes, payload: bytes) -> int:
        sent.append(header)
        return len(header) + len(ext) + len(payload)

    pacer.start(line)
    pacer.set_rate(600_000)
    feedback = SubscriberFeedback(pacer)
    owner = Owner()
    base = 65_500  # the sequence numbers wrap between the reports
    feedback.on_report("video", VIDEO, base, 0, 0.0, so_far(base, 1000), 0.0)
    seq = base + 1
    for _ in range(10):  # ten 25-packet frames at once: far more than 0.1 s of queue at 600 kbps
        _frame(pacer, owner, seq, 25)
        seq += 25
    await asyncio.sleep(0.3)
    assert pacer.counters.dropped > 50
    highest = seq - 1
    expected = highest - base
    lost = expected - len(sent)  # the receiver: every sequence number it did not get, none lost on the line
    feedback.on_report("video", VIDEO, highest, lost, lost / expected, so_far(highest, 1000), 1.0)
    assert feedback.take(1.0).loss == 0.0
    # loss on the line itself, between the next two reports, is the line's
    _frame(pacer, owner, seq, 4)
    await asyncio.sleep(0.1)
    feedback.on_report("video", VIDEO, highest + 4, lost + 1, 0.25, so_far(highest + 4, 1000), 2.0)
    assert feedback.take(2.0).loss == 0.25
    pacer.close()


async def test_a_layer_switchs_flushed_packets_are_not_the_lines_loss():
    pacer = Pacer(queue_s=1.0)
    pacer.start(lambda h, e, p: len(h) + len(e) + len(p))
    pacer.set_rate(100_000)
    feedback, owner = SubscriberFeedback(pacer), Owner()
    feedback.on_report("video", VIDEO, 99, 0, 0.0, so_far(99, 1000), 0.0)
    _frame(pacer, owner, 100, 10)
    flushed = pacer.flush(owner)
    assert flushed >= 5
    feedback.on_report("video", VIDEO, 110, flushed, flushed / 11, so_far(110, 1000), 1.0)
    assert feedback.take(1.0).loss == 0.0
    pacer.close()


def _consumer(ssrc: int) -> Any:
    return SimpleNamespace(
        ssrc=ssrc, kind="video", closed=False, began=None, counters=SimpleNamespace(bytes=0, packets=0),
        on_nack=lambda lost: None, line_lost=lambda lost: lost, on_keyframe_request=lambda: None,
        on_receiver_report=lambda lost, f: None,
    )


async def test_a_remb_naming_every_stream_counts_once():
    """aiortc hands a REMB to the sender of each SSRC it names; a browser's names all of the connection's video."""
    feedback = SubscriberFeedback()
    handlers = [subscriber_rtcp_handler(_consumer(ssrc), feedback) for ssrc in (10, 20, 30)]
    remb = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(800_000, [10, 20, 30]))
    for handle in handlers:
        assert await handle(remb)
    assert feedback.rembs == 1
    assert feedback.take(0.0).estimate_bps is not None
    again = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(700_000, [10, 20, 30]))
    for handle in handlers:
        await handle(again)
    assert feedback.rembs == 2



def test_a_late_tick_marks_a_stall_and_the_readings_about_it():
    loop = LoopWatch()
    for t in (0.0, 0.25, 0.5):
        loop.tick(t)
    assert not loop.starved(0.6) and not loop.starved(0.6, since=0.0)
    assert loop.starved(1.4)  # no tick for 0.9 s: the loop is starved now (this is its backlog)
    loop.tick(1.6)  # 1.1 s late
    assert loop.starved(1.7) and loop.starved(2.9, since=2.0)  # readings covering the stall or its aftermath
    for t in (2.0, 2.5, 3.0, 3.5):
        loop.tick(t)
    assert not loop.starved(3.5, since=3.2)
    assert loop.starved(3.5, since=0.2)  # a window reaching back over the stall


def _remb_run(feedback: SubscriberFeedback, consumer: Any, loop: LoopWatch | None) -> bool:
    """A 3 Mbps line under 1.1 Mbps of video, then a second of silence from the SFU and its backlog at once:
    the receiver's window (its last second) held little, so it reports overuse far below what was sent. Whether
    the connection's pacer was set (an onset)."""
    t = 0.0
    while t < 5.0:
        if loop is not None and t < 4.0:
            loop.tick(t)
        consumer.counters.bytes = int(t * 1_100_000 / 8)
        feedback.on_remb(935_000, [consumer.ssrc], t)
        t += 0.25
    for i in range(20):  # the worker's loop comes back at 5.0 s: REMBs in overuse, each 0.85 × a short window
        t = 5.0 + i * 0.01
        consumer.counters.bytes = int(t * 1_100_000 / 8)
        feedback.on_remb(200_000 - i * 5_000, [consumer.ssrc], t)
    return feedback.onset


async def test_no_onset_from_the_rembs_about_a_stall_of_the_sfus_own_loop():
    """An onset paces the line at 0.6 × the REMB at once: from a stall's REMBs a 3 Mbps classroom was paced to
    ~100 kbps, its pacer dropped the video the line carried, and it was taken for a slow line."""
    outcomes = []
    for starved in (False, True):
        pacer = Pacer()
        pacer.start(lambda h, e, p: len(h) + len(e) + len(p))
        feedback, consumer = SubscriberFeedback(pacer), _consumer(VIDEO)
        consumer.began = (0.0, 0)
        feedback.watch(consumer)
        loop = LoopWatch()
        feedback.loop = loop
        outcomes.append((_remb_run(feedback, consumer, loop if starved else None), pacer.rate))
        pacer.close()
    assert outcomes[0][0] and outcomes[0][1] is not None  # the same REMBs from a line that did fill: an onset
    assert outcomes[1] == (False, None)


async def test_a_line_paced_above_what_its_receiver_gets_is_still_watched_for_an_onset():
    """A 600 kbps line's first report said 4.4 % lost: the line was paced, but at 2 × the high layer's need (1.7
    Mbps, the estimate taken for a wrong one), and its REMBs falling to half of what was sent were not looked at."""
    pacer = Pacer()
    pacer.start(lambda h, e, p: len(h) + len(e) + len(p))
    pacer.set_rate(1_700_000)
    feedback, consumer = SubscriberFeedback(pacer), _consumer(VIDEO)
    consumer.began = (0.0, 0)
    feedback.watch(consumer)
    assert _remb_run(feedback, consumer, None)
    assert pacer.rate is not None and pacer.rate < 200_000
    pacer.close()


async def test_receiver_reports_over_a_stall_are_no_loss_and_no_delivered_rate():
    pacer = Pacer()
    feedback = SubscriberFeedback(pacer)
    loop = LoopWatch()
    feedback.loop = loop
    for t in (0.0, 0.25, 0.5):
        loop.tick(t)
    feedback.on_report("audio", 1, 100, 0, 0.0, so_far(100, 100), 0.5)
    feedback.take(0.5)
    loop.tick(1.7)  # the loop stalled 1.2 s: the publisher's packets overflowed its socket, the receiver saw holes
    feedback.on_report("audio", 1, 160, 12, 0.2, so_far(160, 100), 1.7)
    report = feedback.take(1.8)
    assert report.loss is None and report.received_bps is None
    for t in (2.0, 2.25, 2.5, 2.75, 3.0, 3.25, 3.5, 3.75, 4.0):
        loop.tick(t)
    feedback.on_report("audio", 1, 210, 12, 0.0, so_far(210, 100), 3.5)  # after the stall's aftermath: the line's again
    feedback.on_report("audio", 1, 260, 17, 0.1, so_far(260, 100), 4.0)
    assert feedback.take(4.0).loss == 0.1
    pacer.close()


def test_delivered_and_offered_rates_are_over_the_same_reports():
    """What the receiver got between two reports is counted at the size of the packets sent meanwhile (after a
    switch to the low layer, not the high layer's), next to what the SFU put on the line over that time."""
    feedback = SubscriberFeedback()
    feedback.on_report("video", VIDEO, 100, 0, 0.0, (100_000, 100), 0.0)  # the high layer: 1000-byte packets
    feedback.on_report("video", VIDEO, 200, 10, 0.1, (125_000, 200), 1.0)  # the low layer: 250-byte packets
    report = feedback.take(1.0)
    assert report.received_bps == 90 * 250 * 8 and report.offered_bps == 100 * 250 * 8


class _Room:
    """A QualityAdapter's view of one room: a 1 Mbps camera with a 150 kbps twin and audio, one subscriber."""

    def __init__(self) -> None:
        self.bytes = {"cam": 0, "cam~low": 0, "mic": 0}
        self.producers = {k: SimpleNamespace(counters=SimpleNamespace(bytes=0), info=SimpleNamespace(track_id=k))
                          for k in self.bytes}
        self.pacer = Pacer()
        self.pacer.start(lambda h, e, p: len(h) + len(e) + len(p))
        self.feedback = SubscriberFeedback(self.pacer)
        self.video, self.audio = _consumer(VIDEO), _consumer(1)
        self.audio.kind = "audio"
        for c, track in ((self.video, "cam"), (self.audio, "mic")):
            c.track_id = c.producer_id = track
            c.target_id, c.rtx, c.writer = None, None, None
            c.switch = lambda producer_id, quality, c=c: setattr(c, "target_id", producer_id)
            c.hold = c.release = lambda: None
        self.transport = SimpleNamespace(
            closed=False, feedback=self.feedback, pacer=self.pacer,
            slots={t: SimpleNamespace(consumer=c, active=True) for t, c in (("cam", self.video), ("mic", self.audio))},
        )

    def resolve(self, track_id: str, quality: str) -> Any:
        return self.producers["cam~low" if track_id == "cam" and quality == "low" else track_id]

    def run(self, adapter: QualityAdapter, until: float, video_bps: float, t: float = 0.0) -> float:
        """Step every 0.5 s (the ticker's ticks between) while the publisher sends its 1.2 Mbps and the SFU sends
        this subscriber `video_bps` of video; its receiver reports once a second: all the SFU sent got, and from
        the second report on 5 % lost (the holes the SFU forwarded: lost before it, in a starved worker's socket)."""
        while t < until:
            t += 0.25
            for track, bps in (("cam", 1_000_000), ("cam~low", 150_000), ("mic", 50_000)):
                self.producers[track].counters.bytes += int(bps / 8 * 0.25)
            self.video.counters.bytes += int(video_bps / 8 * 0.25)
            self.video.counters.packets += int(video_bps / 8 * 0.25 / 1000)
            if t % 1.0 == 0:
                c = self.video.counters
                holes = int(c.packets * 0.05) if t > 1.0 else 0
                self.feedback.on_report("video", VIDEO, c.packets + holes, holes, 0.05 if holes else 0.0,
                                        (c.bytes, c.packets), t)
                self.feedback.on_remb(500_000, [VIDEO], t)
            if t % 0.5 == 0:
                changes = adapter.step(t, self.producers, {"p": self.transport}, {"p": {"cam": "high", "mic": "high"}})
                assert not changes, (t, changes)
            else:
                adapter.urgent({"p": self.transport}, t)
        return t


async def test_a_line_given_less_than_its_layer_is_not_taken_for_a_slow_one():
    """A 3 Mbps classroom while the SFU sent it only ~600 kbps of its 1 Mbps camera: its reports say 5 % lost
    (the publisher's) and 570 kbps got, its REMB 500 k. The line delivered about all it was given: high stays."""
    room = _Room()
    adapter = QualityAdapter(room.resolve)
    room.run(adapter, 6.0, 600_000)
    assert adapter.limit("p", "high") == "high" and room.pacer.rate is None
    room.pacer.close()


class _Fanout:
    """A router's part for one producer: its consumers."""

    def __init__(self, consumers: list[Consumer]) -> None:
        self.consumers = consumers

    def fanout(self, producer_id: str) -> list[Consumer]:
        return self.consumers  # type: ignore[return-value]

    def on_forward_failed(self, producer_id: str, forwarder: Any) -> None:
        raise AssertionError("forwarding failed")

    def on_producer_closed(self, producer: Producer) -> None:
        pass


class _Listener:
    def on_consumer_changed(self, consumer: Consumer) -> None:
        pass

    def on_consumer_closed(self, consumer: Consumer) -> None:
        pass

    def request_keyframe(self, producer_id: str) -> None:
        pass


def _forwarding(info: ProducerInfo, pt: int, rtx_pt: int | None) -> tuple[Producer, Consumer, Pacer, list[int]]:
    """A producer forwarding to one started consumer (SSRC 1234) on a line that delivers everything: the list
    holds the sequence numbers the subscriber got."""
    consumer = Consumer(info.track_id, info.kind, info.track_id, info.clock_rate, _Listener())
    producer = Producer(info, lambda ssrc: True, _Fanout([consumer]))
    pacer, delivered = Pacer(), []

    def line(header: bytes, ext: bytes, payload: bytes, owner: Any = None) -> int:
        delivered.append(int.from_bytes(header[2:4]))
        return len(header) + len(ext) + len(payload)

    pacer.start(line)
    consumer.start(SimpleNamespace(closed=False), pacer, 1234, 5678, pt, rtx_pt, (0, 0))  # type: ignore[arg-type]
    return producer, consumer, pacer, delivered


def _audio(seq: int) -> RtpPacket:
    return RtpPacket(payload_type=111, sequence_number=seq & 0xFFFF, timestamp=seq * 960, ssrc=7, payload=bytes(80))


async def test_packets_the_publishers_line_lost_are_not_the_subscribers_loss():
    """An overloaded worker's own receive buffer dropped the publisher's packets: every subscriber's report
    counted them lost, bandwidth-driven quality read that as each subscriber's line and paused the video of all
    the counting subscribers. The loss before the SFU is the publisher's, not any subscriber's line's."""
    producer, consumer, pacer, delivered = _forwarding(
        ProducerInfo("t-audio", "teacher", "audio", "camera", "high", "opus", 48000), 111, None
    )
    feedback = SubscriberFeedback(pacer)
    feedback.watch(consumer)
    base = 65_530  # the publisher's numbers wrap
    producer.on_packet(_audio(base))
    first = delivered[0]
    feedback.on_report("audio", 1234, first, 0, 0.0, so_far(1, 100), 0.0)
    for seq in range(base + 1, base + 100):
        if not base + 40 <= seq < base + 50:  # ten lost on the publisher's line…
            producer.on_packet(_audio(seq))
    producer.on_packet(_audio(base + 45))  # …one of them only late (a retransmission)
    assert len(delivered) == 91
    highest = first + 99
    feedback.on_report("audio", 1234, highest, 9, 9 / 99, so_far(91, 100), 1.0)  # the receiver: 9 holes
    assert feedback.take(1.0).loss == 0.0
    # the subscriber's own line loses 3 of the next 20: that is its loss
    for seq in range(base + 100, base + 120):
        producer.on_packet(_audio(seq))
    feedback.on_report("audio", 1234, highest + 20, 12, 3 / 20, so_far(111, 100), 2.0)
    assert feedback.take(2.0).loss == 3 / 20
    pacer.close()


async def test_holes_before_the_sfu_that_subscribers_nack_are_not_their_lines_loss():
    """Before the line has shown its capacity, the share of video NACKed counts as its loss (NACKs come before a
    report). A worker past its capacity dropped the publisher's packets; every counting subscriber NACKed the
    same holes, and again after its next report, read 84 % then 100 % "loss", and had its video paused while it
    received all the SFU sent. Holes before the SFU are not the line's; a hole the line made still is."""
    producer, consumer, pacer, delivered = _forwarding(
        ProducerInfo("t-cam", "teacher", "video", "camera", "high", "VP8", 90000), 96, 97
    )
    feedback = SubscriberFeedback(pacer)
    handle = subscriber_rtcp_handler(consumer, feedback)
    def publish(seq: int) -> None:
        producer.on_packet(RtpPacket(payload_type=96, sequence_number=seq, timestamp=seq * 3000, ssrc=9,
                                     payload=b"\x10\x00" + bytes(998)))  # each a VP8 keyframe's start

    publish(0)
    first = delivered[0]
    feedback.on_report("video", 1234, first, 0, 0.0, so_far(1, 1000), 0.0)
    for seq in range(1, 100):
        if not 40 <= seq < 50:  # ten lost before the SFU
            publish(seq)
    assert len(delivered) == 90
    holes = [(first + i) & 0xFFFF for i in range(40, 50)]
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=1234, lost=holes)
    await handle(nack)
    assert not feedback.urgent and feedback.take_nacked() == 0
    feedback.on_report("video", 1234, first + 99, 10, 10 / 99, so_far(90, 1000), 1.0)  # a report covers them…
    assert feedback.take(1.0).loss == 0.0
    await handle(nack)  # …and the receiver NACKs them again: still not its line's
    assert not feedback.urgent and feedback.take_nacked() == 0
    line_hole = (first + 60) & 0xFFFF  # the SFU sent it; the subscriber's line lost it
    await handle(RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=1234, lost=[*holes[:3], line_hole]))
    assert feedback.urgent and feedback.take_nacked() == 1
    pacer.close()
