"""A recorder killed with SIGKILL mid-lesson loses at most the last segment; restart finalises the rest."""

from __future__ import annotations

import signal

import av
import pytest

from recorder.crashdrill import run_and_kill
from recorder.finalise import recover, unfinished


def test_sigkill_mid_lesson_is_finalised_on_restart_with_at_most_5s_missing(tmp_path):
    fed, returncode = run_and_kill(tmp_path, "killed-lesson", after=7.0)
    assert returncode == -signal.SIGKILL
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
