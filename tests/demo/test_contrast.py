"""Text contrast of every page of the demo, as each role, in real Chromium: every visible text at least WCAG AA
(4.5:1, large text 3:1) against the background it is drawn on (tests/demo/contrast.py says how it is measured).
The colours do not depend on the language, so one language is enough. By default (CI) the pages a second role
shares with the coordinator (the observer's overview and supervision) are visited once, as the coordinator;
SANKE_FULL_TESTS=1 visits them as both."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FULL_TESTS
from tests.demo.conftest import Demo, open_as, settle, wait_title
from tests.demo.contrast import describe, low_contrast
from tests.demo.test_translations import live_rooms

pytestmark = pytest.mark.timeout(900)


def test_every_page_has_aa_text_contrast(demo: Demo, browser: Any) -> None:
    live = live_rooms(demo, browser)
    assert live, "the demo has no live lesson"
    pages: dict[str | None, list[str]] = {
        "coordinator": ["/home", "/coordinator", "/timetable", "/library", "/supervision", "/admin",
                        "/playback?id=1", f"/coteach?room={live[0]['id']}", "/devicecheck", "/progress", "/attendance?room=" + live[0]["id"]],
        "observer": ["/home", "/coordinator", "/supervision"] if FULL_TESTS else ["/home"],
        "teacher": ["/home", "/today", f"/teacher?room={live[-1]['id']}"],
        None: ["/login", "/classroom", "/watch", f"/classroom?code={next(iter(demo.codes.values()))}"],
    }
    problems: list[str] = []
    checked = 0
    for role, paths in pages.items():
        page = open_as(browser, demo, live[-1]["host"] if role == "teacher" else role)
        for path in paths:
            page.goto(path)
            wait_title(page)
            settle(page)
            problems += describe(f"{path} ({role or 'anonymous'})", low_contrast(page))
            checked += 1
        page.context.close()
    assert checked >= (21 if FULL_TESTS else 19)
    assert not problems, "text below WCAG AA:\n" + "\n".join(problems)
