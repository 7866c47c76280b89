"""Media bots: aiortc peers that publish a pre-encoded clip and a tone, and check what they receive.

A publishing bot sends the clip of `web/demo/clip.py` (the tracks live in `web/demo/tracks.py`, with the demo) without encoding (it answers a PLI with the intra
version of the next frame) and a sine tone whose pitch identifies it. A subscribing bot either decodes
video and reads the frame number from the pixels (`decode`), or only counts complete encoded frames
(`count`, cheap enough for forty of them on one core) as a browser would show them: a keyframe after a hole
starts afresh (`KeyframeResyncBuffer`). Audio is decoded and its pitch measured, so a test
can tell which classroom is heard. The benches' bots (`tally`, loadtest.tally) count frames from RTP as it
arrives, count audio without decoding it and send a pre-encoded tone.

Signalling is pluggable (`loadtest.signals`): `DirectSignal` drives a `MediaService` in the same process;
`WsSignal` joins through the real server's `/ws`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from loadtest.signals import DirectSignal, Signal, WsSignal, answer_in_turn
from loadtest.tally import KeyframeResyncBuffer, OpusTone, install_tally
from media import aiortc_seams as seams
from web.demo.clip import Clip, read_number
from web.demo.sdp import answering

__all__ = ["AudioCheck", "Bot", "DirectSignal", "KeyframeResyncBuffer", "Signal", "VideoCheck", "WsSignal", "wait_for"]
from web.demo.tracks import ClipTrack, ToneTrack


@dataclass(slots=True)
class VideoCheck:
    """What a subscriber saw on one video track."""

    frames: int = 0
    broken: int = 0  # decoded pictures whose frame number could not be read
    backwards: int = 0  # frame numbers that did not advance
    first_at: float | None = None
    last_number: int | None = None
    numbers: list[int] = field(default_factory=list)
    sizes: set[tuple[int, int]] = field(default_factory=set)
    last_size: tuple[int, int] | None = None
    first_payload: bytes | None = None  # count mode: the first RTP payload received
    times: list[float] = field(default_factory=list)
    size_changes: list[tuple[float, tuple[int, int]]] = field(default_factory=list)  # (when, new size)

    def fps(self, since: float, until: float) -> float:
        n = sum(1 for t in self.times if since <= t <= until)
        return n / (until - since) if until > since else 0.0

    def longest_freeze(self, since: float, until: float) -> float:
        """The longest time without a new picture within [since, until]."""
        marks = [since, *(t for t in self.times if since < t < until), until]
        return max(b - a for a, b in zip(marks, marks[1:], strict=False))


@dataclass(slots=True)
class AudioCheck:
    frames: int = 0
    loud_frames: int = 0
    pitch_hz: float = 0.0
    times: list[float] = field(default_factory=list)

    def longest_gap(self, since: float, until: float) -> float:
        """The longest time without an audio frame within [since, until] (audio continuity)."""
        return self.gap_at(since, until)[1]

    def gap_at(self, since: float, until: float) -> tuple[float, float]:
        """(where it starts, how long) of the longest time without an audio frame within [since, until]."""
        marks = [since, *(t for t in self.times if since < t < until), until]
        return max(((a, b - a) for a, b in zip(marks, marks[1:], strict=False)), key=lambda x: x[1])


class Bot:
    def __init__(
        self,
        name: str,
        signal: Signal,
        clip: Clip | None = None,
        low_clip: Clip | None = None,
        tone_hz: float | None = None,
        speaking: bool = True,
        subscribe_mode: str = "decode",
        clip_start: float | None = None,
        screen_clip: Clip | None = None,
    ) -> None:
        self.name = name
        self.screen_clip = screen_clip  # published as a second video track with source "screen" (courseware)
        self.signal = signal
        self.clip = clip
        self.low_clip = low_clip
        self.tone_hz = tone_hz
        self.speaking = speaking
        self.subscribe_mode = subscribe_mode  # "decode", "count" or "tally" (loadtest.tally: benches)
        self.clip_start = clip_start
        self.pub: RTCPeerConnection | None = None
        self.sub: RTCPeerConnection | None = None
        self.sub_certificate = ""  # the SFU connection `sub` answers (web.demo.sdp)
        self._offers = asyncio.Lock()
        self.offer_id: int | None = None  # the id of the SFU offer being answered (echoed in the answer)
        self.answered: int | None = None  # the id of the last offer whose answer the SFU took
        self.refused: list[str] = []  # codes of answers the SFU refused (`stale_answer`: it offers anew)
        self.video_tracks: dict[str, ClipTrack] = {}  # "high"/"low"
        self.tone: ToneTrack | None = None
        self.video: dict[str, VideoCheck] = {}  # by published track id
        self.audio: dict[str, AudioCheck] = {}
        self.sub_connected_at: float | None = None
        self._tasks: list[asyncio.Task] = []
        self.errors: list[str] = []
        self.resets = 0  # media.reset events handled
        self.reset_at: float | None = None
        self.republish = False

    # -- publishing -----------------------------------------------------------------------------------

    async def publish(self) -> None:
        pc = self.pub = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy="max-bundle"))
        specs: list[dict] = []
        for quality, clip in (("high", self.clip), ("low", self.low_clip)):
            if clip is None:
                continue
            track = ClipTrack(clip, self.clip_start)
            self.video_tracks[quality] = track
            transceiver = pc.addTransceiver(track, direction="sendonly")
            seams.on_keyframe_request(transceiver.sender, track.request_keyframe)
            specs.append({"transceiver": transceiver, "kind": "video", "source": "camera", "quality": quality})
        if self.screen_clip is not None:
            screen = ClipTrack(self.screen_clip, self.clip_start)
            self.video_tracks["screen"] = screen
            transceiver = pc.addTransceiver(screen, direction="sendonly")
            seams.on_keyframe_request(transceiver.sender, screen.request_keyframe)
            specs.append({"transceiver": transceiver, "kind": "video", "source": "screen", "quality": "high"})
        if self.tone_hz is not None:
            tone = OpusTone if self.subscribe_mode == "tally" else ToneTrack  # a bench bot's is pre-encoded
            self.tone = tone(self.tone_hz, self.speaking)
            transceiver = pc.addTransceiver(self.tone, direction="sendonly")
            specs.append({"transceiver": transceiver, "kind": "audio", "source": "microphone", "quality": "high"})
        for spec in specs:
            if spec["kind"] == "video":
                caps = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name in ("VP8", "rtx")]
                spec["transceiver"].setCodecPreferences(caps)
        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)
        tracks = [
            {"mid": s["transceiver"].mid, "kind": s["kind"], "source": s["source"], "quality": s["quality"]}
            for s in specs
        ]
        answer = await self.signal.publish(self, pc.localDescription.sdp, tracks)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    # -- subscribing ----------------------------------------------------------------------------------

    def _subscriber_pc(self) -> RTCPeerConnection:
        if self.sub is None:
            pc = self.sub = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy="max-bundle"))

            @pc.on("connectionstatechange")
            def _state() -> None:
                if pc.connectionState == "connected" and self.sub_connected_at is None:
                    self.sub_connected_at = time.monotonic()

            pc.on("track", self._on_track)
        return self.sub

    async def on_subscriber_offer(self, sdp: str, offer_id: int | None = None) -> None:
        """Answer offers one at a time, in order (a replacement may follow an offer at once), echoing each
        one's id (`loadtest.signals.answer_in_turn`: a repeat of one answered is skipped, a refusal noted)."""
        async with self._offers:
            await answer_in_turn(self, offer_id, lambda: self._answer_offer(sdp))

    async def _replaced(self, sdp: str) -> bool:
        """Whether `sdp` comes from the SFU's replacement connection: then the old one is closed and
        `_subscriber_pc` makes a new one (web.demo.sdp.answering)."""
        old = self.sub
        self.sub, self.sub_certificate = await answering(self.sub, self.sub_certificate, sdp)
        return old is not None and self.sub is None

    async def _answer_offer(self, sdp: str) -> None:
        await self._replaced(sdp)
        pc = self._subscriber_pc()
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        seams.grow_receive_buffers(pc)  # a bot's loop shares its core with others: its own socket must not drop
        await self.signal.subscriber_answer(self, pc.localDescription.sdp, self.offer_id)

    def _on_track(self, track: MediaStreamTrack) -> None:
        track_id = track.id
        receiver = next(t.receiver for t in self.sub.getTransceivers() if t.receiver.track is track)
        if self.subscribe_mode == "tally":  # the benches' cheap subscriber (loadtest.tally)
            check = self.video.setdefault(track_id, VideoCheck()) if track.kind == "video" else None
            install_tally(receiver, track.kind, self._count, check or self.audio.setdefault(track_id, AudioCheck()))
            return
        if track.kind == "video":
            check = self.video.setdefault(track_id, VideoCheck())
            if self.subscribe_mode == "count":
                buffer = seams.install_receive_tap(
                    receiver, "video", lambda packet, check=check: self._first_packet(check, packet), KeyframeResyncBuffer
                )
                buffer.on_frame = lambda frame, check=check: self._count(check)
                return
            seams.route_rtx(receiver)
            self._tasks.append(asyncio.ensure_future(self._read_video(track, check)))
        else:
            check_a = self.audio.setdefault(track_id, AudioCheck())
            self._tasks.append(asyncio.ensure_future(self._read_audio(track, check_a)))

    @staticmethod
    def _first_packet(check: VideoCheck, packet) -> None:
        if check.first_payload is None:
            check.first_payload = packet.payload

    @staticmethod
    def _count(check: VideoCheck) -> None:
        now = time.monotonic()
        if check.first_at is None:
            check.first_at = now
        check.frames += 1
        check.times.append(now)

    async def _read_video(self, track: MediaStreamTrack, check: VideoCheck) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                number = await asyncio.get_running_loop().run_in_executor(None, read_number, frame)
                size = (frame.width, frame.height)
                resized = bool(check.sizes) and size != check.last_size
                if size != check.last_size:
                    check.size_changes.append((now, size))
                check.last_size = size
                check.sizes.add(size)
                if check.first_at is None:
                    check.first_at = now
                check.frames += 1
                check.times.append(now)
                if number is None:
                    check.broken += 1
                    continue
                if check.last_number is not None:
                    step = (number - check.last_number) % 4096
                    # at a high/low switch the other version's keyframe may show the same or the previous
                    # instant again (the twins are separate streams sent side by side)
                    if resized and (step == 0 or step >= 4096 - 2):
                        step = 1
                    if number < 4 and check.last_number >= 16:
                        step = 1  # the clip looped
                    if step == 0 or step > 2048:
                        check.backwards += 1
                check.last_number = number
                check.numbers.append(number)

    async def _read_audio(self, track: MediaStreamTrack, check: AudioCheck) -> None:
        window: list[np.ndarray] = []
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                samples = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0].astype(np.float32)
                check.frames += 1
                check.times.append(time.monotonic())
                if np.abs(samples).max() > 1000:
                    check.loud_frames += 1
                    window.append(samples)
                if len(window) >= 25:
                    data = np.concatenate(window)
                    crossings = np.count_nonzero(np.diff(np.signbit(data)))
                    check.pitch_hz = crossings / 2 / (len(data) / frame.sample_rate)
                    window.clear()

    # -- media reset (the SFU worker holding the room died) -----------------------------------------------

    def drop_connections(self) -> list[RTCPeerConnection]:
        """Forget both peer connections at once (before the next subscriber offer is handled); return them."""
        old = [pc for pc in (self.pub, self.sub) if pc is not None]
        self.republish = self.pub is not None
        self.pub = self.sub = None
        self.resets += 1
        self.reset_at = time.monotonic()
        return old

    async def renegotiate(self, old: list[RTCPeerConnection]) -> None:
        """What a client does on `media.reset`: close the dead connections, publish again on a new one (the
        new subscriber connection comes with the SFU's next offer)."""
        for pc in old:
            with contextlib.suppress(Exception):
                await seams.close(pc)  # shielded: see `close`
        if self.republish:
            await self.publish()

    # -- test helpers ---------------------------------------------------------------------------------

    async def send_pli(self, track_id: str) -> bool:
        """Ask the SFU for a keyframe of a received video track (what a browser does after loss)."""
        if self.sub is None:
            return False
        for transceiver in self.sub.getTransceivers():
            track = transceiver.receiver.track
            if track is not None and track.id == track_id:
                sources = transceiver.receiver.getSynchronizationSources()
                if not sources:
                    return False
                await seams.send_pli(transceiver.receiver, sources[0].source)
                return True
        return False

    async def close(self) -> None:
        """Stop reading and close both connections. Each close is shielded (media.aiortc_seams.close): a
        connection whose far side went is already closing itself, and a caller cancelled meanwhile (a test's
        teardown, the signal's tasks) cancelled aiortc's shared close future, leaving "Task exception was
        never retrieved" (InvalidStateError) in the bots' logs."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for pc in (self.pub, self.sub):
            if pc is not None:
                await seams.close(pc)


async def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.bots",
        description="aiortc media bots against a running Sanke server: each joins with a token, publishes a "
        "numbered VP8 clip (plus a low twin) and a tone, subscribes to what the room sends, decodes it and "
        "checks that frame numbers advance. Get tokens from the web API (POST /api/rooms/{id}/token).",
    )
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="server base URL")
    parser.add_argument("--token", action="append", default=[], required=True, help="join token (one bot each)")
    parser.add_argument("--publish", action="store_true", help="publish camera (high and low) and a tone")
    parser.add_argument("--size", default="320x240", help="clip size WxH (width >= 128)")
    parser.add_argument("--grainy", action="store_true",
                        help="publish clips that really run at --bitrate / --low-bitrate (loadtest.clip.grainy)")
    parser.add_argument("--bitrate", type=int, default=300_000, help="camera clip bitrate (bps)")
    parser.add_argument("--low-bitrate", type=int, default=100_000, help="low twin clip bitrate (bps)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to stay")
    parser.add_argument("--count-only", action="store_true", help="count frames instead of decoding them")
    args = parser.parse_args(argv)
    return asyncio.run(_run_cli(args))


async def _run_cli(args: argparse.Namespace) -> int:
    from loadtest.clip import grainy
    from web.demo.clip import load

    make = grainy if args.grainy else load
    width, height = (int(x) for x in args.size.split("x"))
    clip = make(width, height, 30, 90, args.bitrate) if args.publish else None
    low = make(160, 128, 30, 90, args.low_bitrate) if args.publish else None
    bots: list[Bot] = []
    signals: list[WsSignal] = []
    for i, token in enumerate(args.token):
        signal = WsSignal(args.url, token)
        bot = Bot(f"bot{i}", signal, clip=clip, low_clip=low, tone_hz=300 + 110 * i if args.publish else None,
                  subscribe_mode="count" if args.count_only else "decode")
        joined = await signal.connect(bot)
        bot.name = joined.get("participant_id", bot.name)
        if args.publish:
            await bot.publish()
        bots.append(bot)
        signals.append(signal)
    started = time.monotonic()
    await asyncio.sleep(args.seconds)
    ok = True
    for bot in bots:
        for track_id, check in bot.video.items():
            fps = check.fps(started + 1, time.monotonic())
            good = check.frames > 0 and check.broken == 0 and check.backwards == 0
            ok = ok and good
            print(f"{bot.name} video {track_id}: frames={check.frames} fps={fps:.1f} broken={check.broken} "
                  f"backwards={check.backwards} {'ok' if good else 'FAIL'}")
        for track_id, a in bot.audio.items():
            print(f"{bot.name} audio {track_id}: frames={a.frames} pitch={a.pitch_hz:.0f} Hz")
    for bot, signal in zip(bots, signals, strict=True):
        await bot.close()
        await signal.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

