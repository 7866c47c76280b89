"""A recorder killed with SIGKILL mid-lesson loses at most the last segment; restart finalises the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from recorder.finalise import recover, unfinished

REPO = Path(__file__).resolve().parents[2]


def test_sigkill_mid_lesson_is_finalised_on_restart_with_at_most_5s_missing(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-m", "recorder.crashdrill", str(tmp_path), "killed-lesson"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    fed = 0.0
    deadline = time.monotonic() + 60
    try:
        for line in child.stdout:
            if line.startswith("fed "):
                fed = float(line.split()[1])
            if fed >= 7.0 or time.monotonic() > deadline:
                break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert fed >= 7.0
    directory = tmp_path / "killed-lesson"
    assert unfinished(tmp_path) == [directory]

    (index,) = recover(tmp_path)

    assert unfinished(tmp_path) == []
    assert index.recovered
    assert {t.source for t in index.tracks} == {"camera", "microphone"}
    for entry in index.tracks:
        with av.open(str(directory / entry.file)) as container:
            decoded = sum(1 for _ in container.decode(container.streams[0]))
        assert decoded == entry.frames > 0
        covered = entry.start_offset + entry.duration
        assert fed - 5.0 <= covered <= fed + 1.0, (entry.file, covered, fed)
    assert index.lost_seconds == pytest.approx(max(0.0, fed - index.duration), abs=1.0)
    assert index.lost_seconds <= 5.0
