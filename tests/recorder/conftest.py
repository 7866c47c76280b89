from __future__ import annotations

import pytest

from recorder.testclip import Clip, audio_clip, video_clip


@pytest.fixture(scope="session")
def camera_clip() -> Clip:
    return video_clip(2.0, rgb=(0, 160, 0))


@pytest.fixture(scope="session")
def screen_clip() -> Clip:
    return video_clip(2.0, rgb=(0, 0, 200), width=192, height=144)


@pytest.fixture(scope="session")
def mic_clip() -> Clip:
    return audio_clip(2.0)
