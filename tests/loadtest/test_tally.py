"""The benches' cheap bots (loadtest.tally): frames counted from RTP only when complete, without the jitter
buffer's stall after a loss, and a pre-encoded tone that a subscriber hears."""

from __future__ import annotations

from dataclasses import dataclass

from loadtest.bots import Bot, DirectSignal, wait_for
from loadtest.clip import load
from loadtest.tally import FrameTally
from media.service import MediaService


@dataclass
class Rtp:
    sequence_number: int
    marker: bool


def frames(seqs: list[int], markers: set[int]) -> list[int]:
    """Feed packets in this order; the marker seq of each frame counted, in the order counted."""
    counted: list[int] = []
    last: list[int] = []
    tally = FrameTally(lambda: counted.append(last[-1]))
    for seq in seqs:
        last.append(seq)
        tally(Rtp(seq & 0xFFFF, seq in markers))
    return counted


def test_frames_count_at_their_last_packet_across_the_sequence_wrap() -> None:
    seqs = list(range(65530, 65542))  # frames of three packets, across 65535 → 0
    assert frames(seqs, {65532, 65535, 65538, 65541}) == [65532, 65535, 65538, 65541]


def test_a_lost_packet_costs_its_frame_only_and_a_retransmission_restores_it() -> None:
    markers = {2, 5, 8, 11}
    assert frames([0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11], markers) == [2, 8, 11]  # 4 never came: frame 3–5 lost
    assert frames([0, 1, 2, 3, 5, 6, 7, 8, 4, 9, 10, 11], markers) == [2, 8, 4, 11]  # 4 repaired after frame 6–8


async def test_a_tally_bot_counts_the_frames_and_hears_the_tone_of_another() -> None:
    service = MediaService()
    signal = DirectSignal(service, "r1")
    pub = signal.add(Bot("pub", signal, clip=load(320, 240, 30, 90, 300_000), tone_hz=440, subscribe_mode="tally"))
    sub = signal.add(Bot("sub", signal, subscribe_mode="tally"))
    try:
        await pub.publish()
        assert await wait_for(lambda: len(signal.published) == 2, 10)
        await service.set_subscriptions("r1", "sub", {t.track_id: "high" for t in signal.published})
        assert await wait_for(lambda: any(c.frames >= 30 for c in sub.video.values()), 15)
        assert await wait_for(lambda: any(a.frames >= 25 for a in sub.audio.values()), 5)
        sent = service.routers["r1"].subscribers["sub"]
        video = next(s.consumer for s in sent.slots.values() if s.consumer.kind == "video")
        counted = next(iter(sub.video.values())).frames
        assert counted <= video.counters.frames  # never more than the SFU sent
    finally:
        await sub.close()
        await pub.close()
        await service.close()
