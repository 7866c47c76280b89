"""Shared fixtures for the SFU tests: small clips (built once, cached on disk) and a room helper."""

from __future__ import annotations

import pytest

from loadtest.clip import Clip, load


@pytest.fixture(scope="session")
def high_clip() -> Clip:
    return load(320, 240, 30, 90, 300_000)


@pytest.fixture(scope="session")
def low_clip() -> Clip:
    return load(160, 128, 30, 90, 100_000)
