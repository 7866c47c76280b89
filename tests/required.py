"""What a test needs from the machine (Chromium, Redis, PostgreSQL, coturn, …): a component that is absent
fails the test in CI and skips it elsewhere, with the reason."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(component: str, why: str) -> None:
    """A required component is absent: a failure in CI, a skip with the reason elsewhere."""
    if IN_CI:
        pytest.fail(f"{component} is required in CI: {why}", pytrace=False)
    pytest.skip(f"{component} not available: {why}")
