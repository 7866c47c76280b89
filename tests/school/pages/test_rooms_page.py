"""A co-teaching room made from the browser: the teacher invites two teachers by name and a whole school;
the three invitees see the invitation on their home page (with the iCal link) and join."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import PASSWORD
from tests.web.conftest import LiveServer, api, login, wait_for


def test_coteach_room_with_three_invited_teachers(new_page: Any, live_server: LiveServer, artifacts: Path) -> None:
    coord = new_page()
    login(coord, "coord")
    schools = {s["name"]: s["id"] for s in api(coord, "GET", "/api/schools")["schools"]}
    api(coord, "POST", "/api/users", {"username": "liu.r", "display_name": "刘老师", "password": PASSWORD,
                                      "role": "teacher", "school_id": schools["城关一小"]})
    api(coord, "POST", "/api/users", {"username": "sun.r", "display_name": "孙老师", "password": PASSWORD,
                                      "role": "teacher", "school_id": schools["村小2"]})

    wang = new_page(1280, 1000)
    login(wang, "wang", next_path="/plan")
    wang.wait_for_selector("#plan-form")
    wang.fill("#f-title", "四年级英语 同步教研")
    wang.select_option("#f-purpose", "research")
    wang.fill("#invite-search", "刘")
    narrowed = "() => document.querySelectorAll('#invite-results label').length === 1"
    wait_for(lambda: wang.evaluate(narrowed), what="the search to narrow the list")
    wang.check("#invite-results label[data-teacher='刘老师'] input")
    wang.fill("#invite-search", "赵")
    wait_for(lambda: wang.evaluate(narrowed), what="the search to narrow the list")
    wang.check("#invite-results label[data-teacher='赵老师'] input")
    wang.check(f"#invite-schools input[value='{schools['村小2']}']")  # the whole school: 孙老师
    assert "刘老师" in wang.inner_text("#invite-picked") and "赵老师" in wang.inner_text("#invite-picked")
    wang.screenshot(path=str(artifacts / "school-plan-coteach.png"), full_page=True)
    wang.click("#plan-submit")
    wang.wait_for_selector("#plan-done[data-room]")
    assert "3" in wang.inner_text("#plan-done")
    room = wang.get_attribute("#plan-done", "data-room")

    for username in ("liu.r", "zhao", "sun.r"):
        page = new_page(1280, 800)
        login(page, username)
        page.wait_for_selector(f"#invitations li[data-room='{room}']")
        assert "同步教研" in page.inner_text(f"#invitations li[data-room='{room}']")
        assert "/api/calendar/" in page.get_attribute("#ical-link", "href")
        if username == "sun.r":
            page.screenshot(path=str(artifacts / "school-home-invitation.png"), full_page=True)
        page.click(f"#invitations li[data-room='{room}'] [data-action='join']")
        page.wait_for_selector("#conn[data-state='joined']")
        assert page.evaluate("() => window.sanke.me.role") == "coteacher"
