"""The per-subscriber pacer and the padding probe (media/pacer.py, media/probe.py), on a real event loop with a
sender that records what leaves and when: what a line behind the SFU would see."""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

import pytest

from loadtest.bots import wait_for
from media.pacer import Pacer
from media.probe import PaddingProbe, ProbeSettings

_HEADER = struct.Struct("!BBHII")


class Line:
    """Records (time, kind, sequence number, bytes) of every packet the pacer sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, int, int, int]] = []

    def __call__(self, header: bytes, ext: bytes, payload: bytes) -> int:
        _, m_pt, seq, _, ssrc = _HEADER.unpack_from(header)
        n = len(header) + len(ext) + len(payload)
        self.sent.append((time.monotonic(), ssrc, seq, n))
        return n

    def of(self, ssrc: int) -> list[tuple[float, int, int, int]]:
        return [p for p in self.sent if p[1] == ssrc]


class Owner:
    def __init__(self, keyframe_ts: int = -1) -> None:
        self.dropped: list[int] = []
        self.keyframe_ts = keyframe_ts

    def on_paced_drop(self, seq: int) -> None:
        self.dropped.append(seq)


AUDIO, VIDEO, RTX = 1, 2, 3


def packet(ssrc: int, seq: int, size: int = 1000, marker: bool = False, ts: int = 0) -> tuple[bytes, bytes, bytes]:
    return _HEADER.pack(0x80, (0x80 if marker else 0) | 96, seq, ts, ssrc), b"", bytes(size - 12)


async def test_unpaced_everything_leaves_at_once_in_order():
    line, pacer = Line(), Pacer()
    pacer.start(line)
    for seq in range(50):
        pacer.video(*packet(VIDEO, seq), Owner())
    pacer.audio(*packet(AUDIO, 0, 100))
    assert [s for _, _, s, _ in line.of(VIDEO)] == list(range(50)) and len(line.of(AUDIO)) == 1


async def drained(pacer: Pacer) -> None:
    assert await wait_for(lambda: not pacer.backlog, 10)


async def test_a_keyframe_burst_is_spread_at_the_rate_and_audio_never_waits_behind_it():
    line, pacer, owner = Line(), Pacer(queue_s=1.0), Owner()
    pacer.start(line)
    pacer.set_rate(400_000)  # 50 kB/s: a 30 kB keyframe takes 0.6 s
    t0 = time.monotonic()
    for seq in range(30):
        pacer.video(*packet(VIDEO, seq, marker=seq == 29), owner)
    assert len(line.of(VIDEO)) <= 2  # not one burst: it waits for its turn
    for i in range(10):  # audio while the keyframe is still leaving goes out within the call, ahead of it
        before = len(line.sent)
        pacer.audio(*packet(AUDIO, i, 100))
        assert line.sent[before:] == line.of(AUDIO)[-1:] and line.of(AUDIO)[-1][2] == i
        await asyncio.sleep(0.02)
    await drained(pacer)
    video = line.of(VIDEO)
    assert [s for _, _, s, _ in video] == list(range(30)) and not owner.dropped  # nothing lost, in order
    assert video[-1][0] - t0 >= 0.6 * 0.8, video[-1][0] - t0  # spread at the rate


async def test_more_than_the_queue_holds_drops_the_oldest_video_by_whole_frames():
    line, pacer, owner = Line(), Pacer(queue_s=0.2), Owner(keyframe_ts=3000 * 4)
    pacer.start(line)
    pacer.set_rate(400_000)  # 0.2 s holds 10 kB: ten 1000-byte packets
    seq = 0
    for frame in range(10):  # ten frames of 4 packets at once: 40 kB; the fifth is a keyframe
        for i in range(4):
            pacer.video(*packet(VIDEO, seq, marker=i == 3, ts=3000 * frame), owner)
            seq += 1
    assert pacer.backlog <= 10_000 + 2 * 4 * 1000
    await drained(pacer)
    sent = [s for _, _, s, _ in line.of(VIDEO)]
    assert sent == sorted(sent) and len(sent) + len(owner.dropped) == 40
    assert sent[-1] == 39  # the newest frames are the ones kept…
    assert {16, 17, 18, 19} <= set(sent)  # …and the keyframe, however old
    sent = [s for s in sent if not 16 <= s <= 19]
    assert all(s % 4 == 0 for s in sent if s - 1 not in sent and s > sent[0])  # every run starts on a frame
    assert all(s % 4 == 3 for s in owner.dropped if s + 1 not in owner.dropped)  # every drop ends on one
    assert pacer.counters.dropped == len(owner.dropped)


@pytest.mark.solo  # times a drain against the rate
async def test_a_loop_running_late_still_drains_at_the_rate():
    """A loaded worker's timers fire tens of ms late: the line was busy meanwhile, and the pacer must send what
    it carried (capped at one 20 ms burst per wake-up, it drained at half the rate and dropped video)."""
    line, pacer, owner = Line(), Pacer(queue_s=5.0), Owner()
    pacer.start(line)
    pacer.set_rate(800_000)  # 100 kB/s: the 100 kB below take 1 s
    busy = True

    async def lagging_loop() -> None:  # other work holds the loop 30 ms at a time
        while busy:
            time.sleep(0.03)  # noqa: ASYNC251 - the point: a loop held by other work
            await asyncio.sleep(0)

    t0 = time.monotonic()
    for seq in range(100):
        pacer.video(*packet(VIDEO, seq, marker=True, ts=seq), owner)
    lag = asyncio.ensure_future(lagging_loop())
    try:
        await drained(pacer)
    finally:
        busy = False
        await lag
    took = line.of(VIDEO)[-1][0] - t0
    assert len(line.of(VIDEO)) == 100 and not owner.dropped
    assert took < 1.25, f"100 kB at 100 kB/s took {took:.2f} s behind a late loop"


async def test_a_layer_switch_flushes_what_its_consumer_has_waiting():
    line, pacer, old, other = Line(), Pacer(queue_s=5.0), Owner(), Owner()
    pacer.start(line)
    pacer.set_rate(100_000)
    for seq in range(10):
        pacer.video(*packet(VIDEO, seq), old)
        pacer.video(*packet(VIDEO + 10, seq), other)
    assert pacer.flush(old) >= 9
    await drained(pacer)
    assert len(line.of(VIDEO)) <= 1 and len(line.of(VIDEO + 10)) == 10  # the other consumer's packets still leave


async def test_removing_the_rate_sends_what_waits():
    line, pacer = Line(), Pacer(queue_s=5.0)
    pacer.start(line)
    pacer.set_rate(100_000)
    for seq in range(10):
        pacer.video(*packet(VIDEO, seq), Owner())
    pacer.set_rate(None)
    assert len(line.of(VIDEO)) == 10


class Padder:
    def __init__(self) -> None:
        self.seq = 0

    def padding_packet(self) -> tuple[bytes, bytes, bytes]:
        self.seq += 1
        return _HEADER.pack(0xA0, 97, self.seq, 0, RTX), b"", bytes(254) + b"\xff"


@pytest.mark.solo  # reads the ramp from real-time ticks: failed 2 of 8 at load 13
async def test_a_padding_probe_ramps_the_line_to_its_target_and_ends_by_itself():
    line, pacer = Line(), Pacer()
    pacer.start(line)
    settings = ProbeSettings(ramp_s=0.4, hold_s=0.4)
    probe = PaddingProbe(time.monotonic(), 200_000, 1_000_000, settings)
    probe.start(pacer, Padder())
    await asyncio.sleep(0.9)
    assert probe.outcome == "ok" and not pacer.padding
    padding = line.of(RTX)
    t0 = padding[0][0]
    ramp = sum(n for t, _, _, n in padding if t - t0 < 0.4) * 8 / 0.4
    hold = sum(n for t, _, _, n in padding if 0.45 <= t - t0 < 0.8) * 8 / 0.35
    assert ramp <= 800_000 and ramp < hold, (ramp, hold)  # a ramp (about 600 kbps on average) …
    assert 500_000 <= hold <= 1_250_000, hold  # … to about the target, never a burst above it (a late tick
    # on a loaded machine sends less, not more)
    assert padding[-1][0] - t0 <= 0.85


async def test_a_padding_probe_stops_at_the_first_sign_of_a_full_line():
    for signal in ("remb", "nack", "loss"):
        line, pacer = Line(), Pacer()
        pacer.start(line)
        probe = PaddingProbe(time.monotonic(), 200_000, 1_000_000)
        probe.start(pacer, Padder())
        await asyncio.sleep(0.2)
        probe.on_remb(600_000, 580_000)  # rising, or falling by less than 5 %: no verdict
        probe.on_remb(560_000, 580_000)
        probe.on_loss(0.01)
        probe.on_nack(1)
        assert probe.outcome == "running"
        if signal == "remb":
            probe.on_remb(480_000, 560_000)
        elif signal == "nack":
            probe.on_nack(1)
        else:
            probe.on_loss(0.03)
        assert probe.outcome == "failed" and not pacer.padding, signal
        stopped = len(line.of(RTX))
        await asyncio.sleep(0.1)
        assert len(line.of(RTX)) == stopped  # no padding after the verdict


class NoPadder:
    def padding_packet(self) -> None:
        return None


def _probe_from_300k_to_1m(padder: Any) -> PaddingProbe:
    pacer = Pacer()
    pacer.start(Line())
    pacer.set_rate(300_000)
    probe = PaddingProbe(time.monotonic(), 300_000, 1_000_000, ProbeSettings(ramp_s=0.1, hold_s=0.2))
    probe.start(pacer, padder)
    return probe


async def test_a_probe_that_did_not_fill_the_line_is_no_evidence():
    """Padding that never reached its rate (late ticks on a loaded worker, media waiting first) proves nothing:
    a clean run of it is a failed probe, not a step up."""
    starved = _probe_from_300k_to_1m(NoPadder())
    assert await wait_for(lambda: starved.outcome != "running", 5)
    assert starved.outcome == "failed" and "carried" in starved.reason, starved.reason


@pytest.mark.solo  # real-time padding ticks: a loaded machine's late ticks are a short probe, failed as it should be
async def test_a_probe_that_filled_the_line_ends_clean():
    filled = _probe_from_300k_to_1m(Padder())
    assert await wait_for(lambda: filled.outcome != "running", 5)
    assert filled.outcome == "ok", filled.reason


async def test_padding_yields_to_media_waiting_in_the_pacer():
    line, pacer = Line(), Pacer(queue_s=2.0)
    pacer.start(line)
    pacer.set_rate(200_000)
    for seq in range(40):  # 1.6 s of video at 200 kbps waits
        pacer.video(*packet(VIDEO, seq), Owner())
    probe = PaddingProbe(time.monotonic(), 200_000, 200_000, ProbeSettings(ramp_s=0.0, hold_s=0.5))
    probe.start(pacer, Padder())
    await asyncio.sleep(0.6)
    assert not line.of(RTX) and line.of(VIDEO)  # the probe's rate went to the waiting media, none to padding


class Consumer(Owner):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.send = None

    def use_sender(self, send) -> None:  # noqa: ANN001 - a sender
        self.send = send


async def test_consumers_send_straight_to_the_line_until_the_pacer_paces():
    line, pacer = Line(), Pacer()
    video, audio = Consumer("video"), Consumer("audio")
    pacer.attach(video)
    pacer.attach(audio)
    pacer.start(line)
    assert video.send is line and audio.send is line  # nothing in between: no cost per packet
    pacer.set_rate(500_000)
    assert video.send == pacer.video and audio.send == pacer.audio
    pacer.set_rate(None)
    assert video.send is line and audio.send is line
