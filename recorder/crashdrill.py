"""A recording process to be killed: records a synthetic lesson in real time until SIGKILL arrives.

`python -m recorder.crashdrill ROOT RECORDING_ID` prints `fed <seconds>` lines as media is handed to the
recorder; the test and the benchmark kill it mid-lesson and measure what finalising recovers.
"""

from __future__ import annotations

import os
import signal
import subprocess
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


def run_and_kill(root: Path, recording_id: str, after: float, width: int = 160, timeout: float = 60.0) -> tuple[float, int]:
    """Run the drill in a child process and SIGKILL it once `after` seconds of media were handed over.
    Returns (seconds handed over, the child's return code)."""
    repo = Path(__file__).resolve().parent.parent
    child = subprocess.Popen(
        [sys.executable, "-m", "recorder.crashdrill", str(root), recording_id, "600", str(width)],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        stdout=subprocess.PIPE,
        text=True,
    )
    fed = 0.0
    deadline = time.monotonic() + timeout
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("fed "):
                fed = float(line.split()[1])
            if fed >= after or time.monotonic() > deadline:
                break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    return fed, child.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
