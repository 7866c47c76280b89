"""In real Chromium: a co-teaching invitation on the invitee's today list and a broadcast on the audience
classroom's today list (by join code), each with an iCal link that a calendar app can read; the classroom
PC's device check is reported to the server and the coordinator's device board shows it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from core.db import utcnow
from rooms.planning import CHINA
from tests.web.conftest import LiveServer, api, login


def test_invitations_on_today_and_device_check_on_the_board(new_page: Any, live_server: LiveServer,
                                                            artifacts: Path) -> None:
    county = live_server.county
    start = utcnow() + dt.timedelta(minutes=30)
    day = start.astimezone(CHINA).date().isoformat()
    wang = new_page()
    login(wang, "wang")
    coteach = api(wang, "POST", "/api/rooms/plan", {
        "kind": "coteach", "title": "四年级英语听评课", "purpose": "observe", "scheduled_start": start.isoformat(),
        "invite_user_ids": [county.user_ids["zhao"]]})["room"]["id"]
    cast = api(wang, "POST", "/api/rooms/plan", {
        "kind": "broadcast", "title": "城关一小 四年级公开课", "audience_grades": [4],
        "scheduled_start": start.isoformat()})["room"]["id"]
    try:
        zhao = new_page(1280, 900)
        login(zhao, "zhao", next_path=f"/today?date={day}")
        item = zhao.locator(f"#today-invitations li[data-room='{coteach}']")
        item.wait_for()
        assert "听评课" in item.inner_text() and "王老师" in item.inner_text()
        assert item.locator("[data-action='join']").get_attribute("href") == f"/coteach?room={coteach}"
        assert "/api/calendar/" in zhao.get_attribute("#ical-link", "href")
        ics = item.locator("[data-action='ical']").get_attribute("href")
        text = zhao.evaluate("async (url) => (await fetch(url, {credentials: 'omit'})).text()", ics)
        assert "BEGIN:VEVENT" in text and "四年级英语听评课" in text
        zhao.screenshot(path=str(artifacts / "school-today-invitation.png"), full_page=True)

        pc = new_page(1366, 768)
        code = county.codes["c1"]
        pc.goto(f"/today?code={code}&date={day}")
        row = pc.locator(f"#today-invitations li[data-room='{cast}']")
        row.wait_for()
        assert "公开课" in row.inner_text()
        assert row.locator("[data-action='join']").get_attribute("href") == f"/classroom?code={code}&room={cast}&auto"
        assert pc.locator(f"#today-invitations li[data-room='{coteach}']").count() == 0
        pc.screenshot(path=str(artifacts / "school-today-classroom.png"), full_page=True)

        pc.goto(f"/devicecheck?code={code}")
        pc.click("#run-check")
        pc.wait_for_selector("#check-report[data-quality]", timeout=40_000)
        quality = pc.get_attribute("#check-report", "data-quality")
        assert quality in ("good", "fair", "poor"), pc.inner_text("#check-report")
        assert "已上报" in pc.inner_text("#check-report")
        pc.screenshot(path=str(artifacts / "school-devicecheck.png"), full_page=True)

        coord = new_page(1366, 900)
        login(coord, "coord", next_path="/devices")
        cell = coord.locator("#devices tbody tr", has_text="村小1").locator(".device-check")
        cell.wait_for()
        assert cell.get_attribute("data-quality") == quality
        assert "毫秒" in cell.inner_text() and "kbit/s" in cell.inner_text()
        coord.screenshot(path=str(artifacts / "school-devices-check.png"), full_page=True)
    finally:  # the package's other journeys join their classrooms' delivery lesson: leave no broadcast open
        api(wang, "POST", f"/api/rooms/{cast}/end")
        api(wang, "POST", f"/api/rooms/{coteach}/end")
