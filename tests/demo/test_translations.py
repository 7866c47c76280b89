"""Every page of the demo in both languages as each role, in real Chromium: no visible untranslated key, no
string asked for that no table has, the header's links right for the role and each answering 200, every
control labelled, no horizontal scroll at 1366×768 (and 1280×720, 1920×1080 for the coordinator's and the live pages).
Screenshots of every page visited, in both languages at 1366×768, go to test-artifacts/screens/.

By default (CI) each language visits a representative sample: every distinct page at least once, each role at
least once (its header checked), and the live pages at both extra sizes; SANKE_FULL_TESTS=1 visits every page
as every role that may open it, and every page at both extra sizes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FULL_TESTS
from tests.demo.conftest import Demo, open_as, settle, wait_title

# the demo's own start (seeding, recordings) is part of the first test's time; a loaded 2-core machine needs it
pytestmark = pytest.mark.timeout(900)

NAV = {  # what each role's header must offer (web/static/js/nav.js)
    "coordinator": ["/home", "/coordinator", "/timetable", "/library", "/supervision", "/admin"],
    "observer": ["/home", "/coordinator", "/library", "/supervision"],
    "teacher": ["/home", "/today", "/library"],
}
LABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter((e) => e.offsetParent !== null && e.type !== 'hidden')
  .filter((e) => {
    if (e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || e.getAttribute('title')) return false;
    if (['BUTTON', 'A'].includes(e.tagName)) return !e.textContent.trim();
    return !(e.id && document.querySelector(`label[for="${e.id}"]`)) && !e.closest('label');
  }).map((e) => e.outerHTML.slice(0, 120))"""


def live_rooms(demo: Demo, browser: Any) -> list[dict]:
    page = open_as(browser, demo, "coordinator")
    rooms = page.evaluate("async () => (await (await fetch('/api/rooms')).json()).rooms")
    users = page.evaluate("async () => (await (await fetch('/api/users')).json()).users")
    page.context.close()
    names = {u["id"]: u["username"] for u in users}
    live = [r for r in rooms if r["state"] == "live"]
    for r in live:
        r["host"] = names.get(r["host_user_id"], "")
    return live


def check_page(page: Any, path: str, role: str, lang: str, shots: Path, seen: set[str], prefixes: str,
               links_checked: set[str]) -> list[str]:
    problems: list[str] = []
    response = page.goto(path)
    assert response is not None and response.status == 200, f"{path}: HTTP {response and response.status}"
    wait_title(page)
    settle(page)
    title = page.inner_text("#page-title").strip()
    assert title and title in page.title(), f"{path} ({role}, {lang}): title {title!r} vs {page.title()!r}"
    missing = page.evaluate("[...window.sankeI18n.MISSING]")
    if missing:
        problems.append(f"{path} ({role}, {lang}): strings asked for that no table has: {missing}")
    text = page.inner_text("body")
    raw = sorted(set(re.findall(rf"\b(?:{prefixes})\.[A-Za-z][A-Za-z0-9_.]*", text)))
    if raw:
        problems.append(f"{path} ({role}, {lang}): untranslated keys on the page: {raw}")
    if page.errors:
        problems.append(f"{path} ({role}, {lang}): page errors {page.errors}")
    wide = page.evaluate("document.documentElement.scrollWidth - innerWidth")
    if wide > 0:
        problems.append(f"{path} ({role}, {lang}): {wide}px of horizontal scroll")
    unlabelled = page.evaluate(LABELLED)
    if unlabelled:
        problems.append(f"{path} ({role}, {lang}): controls without a label: {unlabelled[:3]}")
    links = page.eval_on_selector_all(".mainnav a", "els => els.map((a) => a.getAttribute('href'))")
    if role in NAV and links != NAV[role]:
        problems.append(f"{path} ({role}): header links {links}, expected {NAV[role]}")
    for href in links:
        if href in links_checked:  # the same link with the same session answers the same on every page
            continue
        links_checked.add(href)
        status = page.request.get(href).status
        if status != 200:
            problems.append(f"{path} ({role}): header link {href} answers {status}")
    name = re.sub(r"[^a-z0-9]+", "-", path.strip("/").split("?")[0] or "root")
    if f"{name}-{lang}" not in seen:
        seen.add(f"{name}-{lang}")
        page.screenshot(path=str(shots / f"{name}-{lang}.png"))
    return problems


def role_pages(demo: Demo, live: list[dict]) -> dict[str | None, list[str]]:
    """Each role's pages to visit (None: nobody logged in). The sample (CI) keeps every distinct page once, as
    the role it is made for, and every role once; the full set repeats the shared pages for every role."""
    resource = 1
    code = next(iter(demo.codes.values()))
    if FULL_TESTS:
        return {
            "coordinator": ["/home", "/coordinator", "/timetable", "/library", "/supervision", "/admin",
                            f"/playback?id={resource}", f"/coteach?room={live[0]['id']}", "/devicecheck"],
            "observer": ["/home", "/coordinator", "/library", "/supervision"],
            "teacher": ["/home", "/today", "/library", f"/teacher?room={live[-1]['id']}"],
            None: ["/login", "/classroom", "/library", "/devicecheck", "/watch", f"/classroom?code={code}"],
        }
    return {
        "coordinator": ["/home", "/coordinator", "/timetable", "/library", "/supervision", "/admin",
                        f"/playback?id={resource}", f"/coteach?room={live[0]['id']}", "/devicecheck"],
        "observer": ["/home"],
        "teacher": ["/today", f"/teacher?room={live[-1]['id']}"],
        None: ["/login", "/classroom", "/watch", f"/classroom?code={code}"],
    }


def test_every_page_in_both_languages_as_each_role(demo: Demo, browser: Any, shots: Path) -> None:
    live = live_rooms(demo, browser)
    assert live, "the demo has no live lesson"
    pages = role_pages(demo, live)
    distinct = {re.sub(r"\?.*", "", p) for paths in pages.values() for p in paths}
    assert len(distinct) >= 14 and len(pages) == 4, (distinct, pages)  # the sample still reaches every page
    seen: set[str] = set()
    problems: list[str] = []
    prefixes = None
    for lang in ("zh-CN", "en"):
        for role, paths in pages.items():
            user = live[-1]["host"] if role == "teacher" else role
            page = open_as(browser, demo, user, lang)
            if prefixes is None:
                keys = page.evaluate("Object.keys(window.sankeI18n?.STRINGS['zh-CN'] || {})") or []
                if not keys:
                    page.goto("/login")
                    keys = page.evaluate("Object.keys(window.sankeI18n.STRINGS['zh-CN'])")
                prefixes = "|".join(sorted({re.escape(k.split('.')[0]) for k in keys}))
                en = page.evaluate("Object.keys(window.sankeI18n.STRINGS.en)")
                assert set(keys) == set(en), f"keys in one language only: {set(keys) ^ set(en)}"
                assert page.evaluate("window.sankeI18n.DUPLICATES") == []
            links_checked: set[str] = set()
            for path in paths:
                problems += check_page(page, path, role or "anonymous", lang, shots, seen, prefixes, links_checked)
            page.context.close()
    assert not problems, "\n".join(problems)


def test_no_horizontal_scroll_on_the_screens_schools_have(demo: Demo, browser: Any) -> None:
    live = live_rooms(demo, browser)
    live_pages: dict[str | None, tuple[str, ...]] = {  # the live pages, whose tiles follow the screen's size
        "coordinator": (f"/coteach?room={live[0]['id']}",),
        "teacher": (f"/teacher?room={live[-1]['id']}",),
        None: (f"/classroom?code={next(iter(demo.codes.values()))}",),
    }
    all_pages: dict[str | None, tuple[str, ...]] = {
        **live_pages,
        "coordinator": ("/home", "/coordinator", "/timetable", "/library", "/supervision", "/admin", "/playback?id=1",
                        f"/coteach?room={live[0]['id']}", "/devicecheck"),
    }
    # a classroom PC's 1280×720 is where a page overflows; 1920×1080 matters for the live pages (the sample)
    sizes = {(1280, 720): all_pages, (1920, 1080): all_pages if FULL_TESTS else live_pages}
    wide = []
    for size, pages in sizes.items():
        for role, paths in pages.items():
            page = open_as(browser, demo, live[-1]["host"] if role == "teacher" else role, "en", size)
            for path in paths:
                page.goto(path)
                wait_title(page)
                settle(page, then_ms=200)
                extra = page.evaluate("document.documentElement.scrollWidth - innerWidth")
                if extra > 0:
                    wide.append(f"{path} at {size}: {extra}px")
            page.context.close()
    assert not wide, wide
