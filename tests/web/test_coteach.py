"""名师课堂: three teachers in a grid with speaking marks, the lead moderates, an observer watches unseen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.web.conftest import LiveServer, api, login, wait_for, wait_playing


@pytest.mark.solo  # four Chromium pages decode three cameras each in real time
def test_coteaching_three_teachers_and_a_hidden_observer(new_page: Any, with_media: LiveServer, artifacts: Path) -> None:
    county = with_media.county
    coordinator = new_page()
    login(coordinator, "coord")
    liu = api(coordinator, "POST", "/api/users", {
        "username": "liu", "display_name": "刘老师", "password": PASSWORD, "role": "teacher",
    })["user"]["id"]
    room = api(coordinator, "POST", "/api/rooms", {
        "kind": "coteach", "title": "四年级英语集体备课", "subject": "英语",
        "host_user_id": county.user_ids["wang"], "coteacher_ids": [county.user_ids["zhao"], liu],
    })["room"]["id"]
    ids = {"wang": f"user:{county.user_ids['wang']}", "zhao": f"user:{county.user_ids['zhao']}", "liu": f"user:{liu}"}
    observer_id = f"user:{county.user_ids['chen']}"

    pages = {}
    for name in ("wang", "zhao", "liu", "chen"):
        page = new_page()
        login(page, name, next_path=f"/coteach?room={room}")
        page.wait_for_selector("#conn[data-state='joined']")
        pages[name] = page

    for name, page in pages.items():
        for other, pid in ids.items():
            page.wait_for_selector(f"#grid .tile[data-pid='{pid}']")
            if other != name:
                wait_playing(page, pid)
        assert page.locator(f"#grid .tile[data-pid='{observer_id}']").count() == 0
        assert page.locator("#grid .tile").count() == 3
    pages["chen"].wait_for_selector("#observer-note:visible")
    assert pages["wang"].locator("#observer-note:visible").count() == 0

    # the fake microphone plays a tone, so the SFU's audio levels mark speakers
    pages["chen"].wait_for_selector("#grid .tile.speaking", timeout=15_000)

    # the lead moderates; a co-teacher has no moderator controls
    assert pages["zhao"].locator("#grid [data-action='remove']").count() == 0
    host = pages["wang"]
    host.click(f"#grid .tile[data-pid='{ids['liu']}'] [data-action='mute']")
    wait_for(lambda: pages["liu"].evaluate(
        "() => window.sanke && !!document.querySelector('.toast')"), 10, "the mute request to arrive")
    pages["chen"].screenshot(path=str(artifacts / "coteach-observer.png"))
    host.click(f"#grid .tile[data-pid='{ids['liu']}'] [data-action='remove']")
    host.click("#confirm-yes")  # removing someone asks first (a danger button of the design system)
    pages["liu"].wait_for_selector("#message[data-reason='removed']")
    pages["zhao"].wait_for_selector(f"#grid .tile[data-pid='{ids['liu']}']", state="detached")
