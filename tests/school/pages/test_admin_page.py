"""County administration in real Chromium: the coordinator creates a school and its classroom, prints the join
card (QR code and code), the classroom PC opens the card's link and joins its lesson, and the device board
shows it online while another expected classroom is flagged 缺课预警 with a reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.web.conftest import LiveServer, api, login, wait_for


def test_school_classroom_join_card_and_the_pc_joins(new_page: Any, live_server: LiveServer, artifacts: Path) -> None:
    county = live_server.county
    coord = new_page(1280, 1000)
    login(coord, "coord", next_path="/admin")
    coord.wait_for_selector("#admin-classrooms table")
    coord.click("#new-school >> xpath=.. >> summary")
    coord.fill("#f-school_name", "石门乡中心小学")
    coord.select_option("#f-school_kind", "remote")
    coord.click("#new-school button[type=submit]")
    coord.wait_for_selector("#admin-schools td:has-text('石门乡中心小学')")

    coord.click("#new-classroom >> xpath=.. >> summary")
    coord.select_option("#f-classroom_school", label="石门乡中心小学")
    coord.fill("#f-classroom_name", "五年级")
    coord.fill("#f-grade", "5")
    coord.fill("#f-students", "28")
    coord.click("#new-classroom button[type=submit]")
    coord.fill("#admin-search", "石门")
    row = coord.locator("#admin-classrooms tbody tr", has_text="五年级")
    row.wait_for()
    code = row.locator("code.code").inner_text()
    assert len(code) == 8
    coord.screenshot(path=str(artifacts / "school-admin.png"), full_page=True)
    card_href = row.locator("[data-action='card']").get_attribute("href")
    classroom_id = int(card_href.split("=")[1])

    card = new_page(900, 1100)
    login(card, "coord", next_path=card_href)
    card.wait_for_selector(f"#join-card[data-code='{code}']")
    assert card.inner_text("#join-code") == code
    wait_for(lambda: card.evaluate("() => document.getElementById('join-qr').naturalWidth > 0"), what="the QR code")
    card.screenshot(path=str(artifacts / "school-join-card.png"), full_page=True)
    join_url = api(card, "GET", f"/api/classrooms/{classroom_id}/join-card")["join_url"]  # what the QR encodes
    assert join_url.endswith(f"/classroom?code={code}&auto")

    # a lesson for the new classroom (and the county's two others, one of which stays away), happening now
    now = dt.datetime.now(dt.UTC)
    room = api(coord, "POST", "/api/rooms", {
        "kind": "delivery", "title": "五年级科学 1+2", "host_user_id": county.user_ids["wang"],
        "remote_classroom_ids": [classroom_id, county.classroom_ids["c1"]],
        "scheduled_start": (now - dt.timedelta(minutes=10)).isoformat(), "scheduled_end": (now + dt.timedelta(minutes=30)).isoformat(),
    })["room"]["id"]

    pc = new_page(1280, 720)
    pc.goto("/" + join_url.split("/", 3)[3])  # the URL in the QR code, as the classroom PC opens it
    pc.wait_for_selector("#conn[data-state='joined']")
    assert pc.evaluate("() => window.sanke.me.participant_id") == f"classroom:{classroom_id}"
    assert pc.evaluate("() => window.sanke.room.id") == room

    board = new_page(1280, 900)
    login(board, "coord", next_path="/devices")
    board.fill("#device-search", "")
    new_row = board.locator("#devices tbody tr", has_text="石门乡中心小学")
    new_row.wait_for()
    assert "在线" in new_row.inner_text() and "五年级科学" in new_row.inner_text()
    missing = board.locator("#devices tbody tr.alert-row", has_text="村小1")
    missing.wait_for()
    missing.locator("[data-action='reason']").select_option("network")
    board.wait_for_selector("#absence-summary[data-total='1']")
    board.screenshot(path=str(artifacts / "school-devices.png"), full_page=True)
    supervision = new_page(1280, 900)
    login(supervision, "chen", next_path="/supervision")  # the supervisor reads the reasons and the reach
    supervision.wait_for_selector("#school-figures #missed:has-text('网络故障：1')")
    supervision.wait_for_selector("#school-figures #reach")
