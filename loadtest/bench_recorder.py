"""`sanke bench recorder`: what recording costs, how fast the lesson MP4 is made, what a kill loses.

1. Bots publish 1 Mbps VP8 + Opus into the real SFU (in this process). The same lesson runs without the
   recorder (baseline) and with it, in alternating windows; the median difference in process CPU is the
   recorder's whole cost (frame assembly for the sink, the sink, the writer thread), divided by the
   tracks. The writer thread's own CPU clock is measured too and used as a floor.
2. A synthetic lesson (640×480 camera, 1280×720 courseware, Opus) is composed into a 1280×720 H.264 +
   AAC MP4; speed = media seconds / CPU seconds, against a decode-only pass over the same tracks.
3. A recording process is SIGKILLed mid-lesson and finalised; lost = media handed to it − media recovered.

The last line is exactly:
`recorder-bench: cpu_per_track_pct=<f> composite_speed_x=<f> lost_seconds_on_kill=<f>`

It lives in `loadtest/` because it needs the media bots; product packages never import `loadtest`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av

from loadtest.bots import Bot, DirectSignal, wait_for
from loadtest.clip import load
from media.service import MediaService
from recorder.composite import CompositeSettings, compose
from recorder.crashdrill import run_and_kill
from recorder.finalise import finalise, recover
from recorder.recording import Recording, TrackInfo
from recorder.testclip import audio_clip, looped, video_clip


@dataclass(slots=True)
class Phase:
    name: str
    seconds: float
    process_cpu: float
    writer_cpu: float = 0.0


def _thread_cpu(thread_ident: int | None) -> float:
    if thread_ident is None:
        return 0.0
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread_ident))
    except (OSError, AttributeError):
        return 0.0


async def _sfu_phases(root: Path, bots_n: int, seconds: float, rounds: int) -> tuple[list[Phase], int]:
    """Alternate baseline and recorded windows of the same running lesson; return phases and track count."""
    clip = load(640, 480, 30, 90, 1_000_000)
    service = MediaService()
    signal_ = DirectSignal(service, "bench-room")
    bots = [signal_.add(Bot(f"class{i}", signal_, clip=clip, tone_hz=440 + 110 * i)) for i in range(bots_n)]
    phases: list[Phase] = []
    try:
        for bot in bots:
            await bot.publish()
        if not await wait_for(lambda: len(signal_.published) >= 2 * bots_n, 15):
            raise RuntimeError("bots did not publish")
        tracks = [t for t in signal_.published if t.quality == "high"]
        await asyncio.sleep(2.0)  # connections settle
        for r in range(rounds):
            t0 = time.process_time()
            await asyncio.sleep(seconds)
            phases.append(Phase("SFU only (baseline)", seconds, time.process_time() - t0))
            recording = Recording(root, f"bench-{r}", "bench-room", title="bench", segment_seconds=2.0)
            recording.start()
            subscriptions = [
                service.attach_sink("bench-room", t.track_id, recording.add_track(
                    TrackInfo(t.track_id, t.participant_id, t.kind, t.source, t.codec or "opus")
                ))
                for t in tracks
            ]  # fmt: skip
            ident = recording.writer_thread_id
            w0, t0 = _thread_cpu(ident), time.process_time()
            await asyncio.sleep(seconds)
            w1, t1 = _thread_cpu(ident), time.process_time()
            for subscription in subscriptions:
                subscription.close()
            recording.stop()
            phases.append(Phase("SFU + recorder", seconds, t1 - t0, w1 - w0))
            index = finalise(recording.directory)
            if len(index.tracks) != len(tracks):
                raise RuntimeError(f"recorded {len(index.tracks)} of {len(tracks)} tracks")
    finally:
        for bot in bots:
            await bot.close()
        await service.close()
    return phases, len(tracks)


def _composite(root: Path, seconds: float) -> tuple[float, float, float, float]:
    """(media seconds, compose CPU seconds, decode-only CPU seconds, compose wall seconds)."""
    camera = video_clip(1.0, width=640, height=480, fps=15, rgb=(40, 120, 60), bit_rate=800_000)
    screen = video_clip(1.0, width=1280, height=720, fps=15, rgb=(230, 230, 240), bit_rate=800_000)
    mic = audio_clip(1.0)
    clock = [1000.0]
    recording = Recording(root, "bench-composite", "bench-room", clock=lambda: clock[0])
    recording.start()
    sinks = {
        "cam": recording.add_track(
            TrackInfo("cam", "teacher", "video", "camera", "VP8", "teacher", "hub_teacher")
        ),
        "scr": recording.add_track(
            TrackInfo("scr", "teacher", "video", "screen", "VP8", "teacher", "hub_teacher")
        ),
        "mic": recording.add_track(TrackInfo("mic", "teacher", "audio", "microphone", "opus")),
    }
    frames = [
        *looped(camera, seconds, "cam", arrival_base=1000.0),
        *looped(screen, seconds * 0.7, "scr", arrival_base=1000.0 + seconds * 0.3),
        *looped(mic, seconds, "mic", arrival_base=1000.0),
    ]
    for frame in sorted(frames, key=lambda f: f.arrival):
        sinks[frame.track_id](frame)
    clock[0] += seconds
    recording.stop()
    index = finalise(recording.directory)
    t0 = time.process_time()
    for entry in index.tracks:
        with av.open(str(recording.directory / entry.file)) as container:
            stream = container.streams[0]
            stream.codec_context.thread_count = 1
            for _ in container.decode(stream):
                pass
    decode_cpu = time.process_time() - t0
    t0, w0 = time.process_time(), time.perf_counter()
    compose(
        recording.directory,
        index,
        CompositeSettings(width=1280, height=720, fps=15, preset="veryfast", threads=1),
    )
    return index.duration, time.process_time() - t0, decode_cpu, time.perf_counter() - w0


def _kill(root: Path, after: float) -> tuple[float, float]:
    """(media handed to the killed recorder, media recovered after it) in seconds."""
    fed, _ = run_and_kill(root, "killed", after, width=640)
    (index,) = recover(root)
    covered = min((t.start_offset + t.duration for t in index.tracks), default=0.0)
    return fed, covered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sanke bench recorder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bots", type=int, default=3, help="publishing bots (each 1 Mbps VP8 + Opus)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured window")
    parser.add_argument("--rounds", type=int, default=5, help="baseline/recorded window pairs")
    parser.add_argument("--composite-seconds", type=float, default=20.0)
    parser.add_argument("--kill-after", type=float, default=9.0, help="mid-segment (segments are 2 s)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="sanke-rec-bench-") as tmp:
        root = Path(tmp)
        phases, tracks = asyncio.run(_sfu_phases(root / "sfu", args.bots, args.seconds, args.rounds))
        media_s, compose_cpu, decode_cpu, compose_wall = _composite(
            root / "composite", args.composite_seconds
        )
        fed, covered = _kill(root / "kill", args.kill_after)

    base = [p for p in phases if p.name.startswith("SFU only")]
    rec = [p for p in phases if p.name == "SFU + recorder"]
    base_pct = 100 * sum(p.process_cpu for p in base) / sum(p.seconds for p in base)
    rec_pct = 100 * sum(p.process_cpu for p in rec) / sum(p.seconds for p in rec)
    writer_pct = 100 * sum(p.writer_cpu for p in rec) / sum(p.seconds for p in rec)
    # Each recorded window against the baseline window just before it; the median resists the drift of
    # a shared machine. The writer thread's own CPU is a floor: the difference cannot honestly be less.
    deltas = sorted(
        100 * (r.process_cpu / r.seconds - b.process_cpu / b.seconds) for b, r in zip(base, rec, strict=True)
    )
    median_delta = (
        deltas[len(deltas) // 2]
        if len(deltas) % 2
        else sum(deltas[len(deltas) // 2 - 1 : len(deltas) // 2 + 1]) / 2
    )
    per_track = max(median_delta, writer_pct) / tracks
    speed = media_s / compose_cpu if compose_cpu else 0.0
    lost = max(0.0, fed - covered)

    print(f"recorder benchmark: {args.bots} bots → {tracks} tracks (VP8 640×480 1 Mbps + Opus), "
          f"{args.rounds} pairs of {args.seconds:.0f} s windows, CPU as % of one core")  # fmt: skip
    print(f"{'window':<26}{'process CPU %':>15}{'writer thread %':>17}")
    for p in phases:
        writer = f"{100 * p.writer_cpu / p.seconds:.2f}" if p.name == "SFU + recorder" else "-"
        print(f"{p.name:<26}{100 * p.process_cpu / p.seconds:>15.2f}{writer:>17}")
    print(f"{'mean baseline':<26}{base_pct:>15.2f}{'-':>17}")
    print(f"{'mean with recorder':<26}{rec_pct:>15.2f}{writer_pct:>17.2f}")
    print(f"{'median paired difference':<26}{median_delta:>15.2f}{'-':>17}")
    print(f"{'per recorded track':<26}{median_delta / tracks:>15.3f}{writer_pct / tracks:>17.3f}")
    print(f"cpu_per_track_pct = max(median difference, writer thread) / tracks = {per_track:.3f}")
    print()
    print(f"{'composite 1280×720 15 fps':<26}{'media s':>9}{'CPU s':>9}{'wall s':>9}{'× real time':>13}")
    print(
        f"{'decode only (baseline)':<26}{media_s:>9.1f}{decode_cpu:>9.2f}{'-':>9}{media_s / max(decode_cpu, 1e-9):>13.1f}"
    )
    print(f"{'compose + encode MP4':<26}{media_s:>9.1f}{compose_cpu:>9.2f}{compose_wall:>9.2f}{speed:>13.1f}")
    print()
    print(f"SIGKILL mid-lesson: media handed over {fed:.2f} s, recovered {covered:.2f} s, lost {lost:.2f} s")
    print(
        f"recorder-bench: cpu_per_track_pct={per_track:.3f} composite_speed_x={speed:.2f} lost_seconds_on_kill={lost:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
