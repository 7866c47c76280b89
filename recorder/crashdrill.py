"""A recording process to be killed: records a synthetic lesson in real time until SIGKILL arrives.

`python -m recorder.crashdrill ROOT RECORDING_ID` prints `fed <seconds>` lines as media is handed to the
recorder; the test and the benchmark kill it mid-lesson and measure what finalising recovers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from recorder.recording import Recording, TrackInfo
from recorder.testclip import audio_clip, looped, video_clip


def main(argv: list[str]) -> int:
    root, recording_id = Path(argv[0]), argv[1]
    seconds = float(argv[2]) if len(argv) > 2 else 600.0
    width = int(argv[3]) if len(argv) > 3 else 160
    video = video_clip(2, width=width, height=width * 3 // 4)
    audio = audio_clip(2)
    recording = Recording(root, recording_id, "crash-room", title="crash drill", segment_seconds=2.0)
    recording.start()
    sinks = {
        "cam": recording.add_track(TrackInfo("cam", "teacher", "video", "camera", "VP8")),
        "mic": recording.add_track(TrackInfo("mic", "teacher", "audio", "microphone", "opus")),
    }
    start = recording.started
    frames = sorted(
        [
            *looped(video, seconds, "cam", arrival_base=start),
            *looped(audio, seconds, "mic", arrival_base=start),
        ],
        key=lambda f: f.arrival,
    )
    last_report = 0.0
    for frame in frames:
        delay = frame.arrival - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sinks[frame.track_id](frame)
        fed = frame.arrival - start
        if fed - last_report >= 0.25:
            last_report = fed
            print(f"fed {fed:.3f}", flush=True)
    recording.stop()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
