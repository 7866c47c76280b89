"""A classroom screen loses its network for 5 s and comes back into the same seat, playing again."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import LiveServer, api, login, wait_for, wait_playing
from tests.web.test_lesson import join_classroom, open_teacher

OFFLINE_SECONDS = 5


def test_classroom_reconnects_into_the_same_seat(new_page: Any, with_media: LiveServer) -> None:
    county = with_media.county
    coordinator = new_page()
    login(coordinator, "coord")
    room = api(coordinator, "POST", "/api/rooms", {
        "kind": "delivery", "title": "数学 1+1", "subject": "数学", "grade": 4,
        "host_user_id": county.user_ids["wang"], "remote_classroom_ids": [county.classroom_ids["c1"]],
    })["room"]["id"]
    teacher_id = f"user:{county.user_ids['wang']}"
    classroom_id = f"classroom:{county.classroom_ids['c1']}"

    teacher = open_teacher(new_page, with_media, room)
    teacher.click("#start")
    screen, _ = join_classroom(new_page, county.codes["c1"], room)
    wait_playing(screen, teacher_id)
    wait_playing(teacher, classroom_id)
    screen.click("#raise")
    teacher.wait_for_selector(f"#hands li[data-pid='{classroom_id}']")

    screen.context.set_offline(True)
    screen.wait_for_selector("#conn[data-state='offline']")
    screen.wait_for_selector("#banner:has-text('网络已断开')")
    screen.wait_for_timeout(OFFLINE_SECONDS * 1000)
    screen.context.set_offline(False)

    screen.wait_for_selector("#conn[data-state='joined']", timeout=20_000)
    assert screen.evaluate("() => window.sanke.rejoins") == ["resume"]
    assert screen.evaluate("() => window.sanke.me.participant_id") == classroom_id
    screen.wait_for_selector("#banner", state="detached")
    wait_playing(screen, teacher_id, timeout=25)
    wait_playing(teacher, classroom_id, timeout=25)
    # the seat was kept: the raised hand is still in the teacher's queue, and the teacher saw the return
    teacher.wait_for_selector(f"#hands li[data-pid='{classroom_id}']")
    teacher.wait_for_selector("#log li:has-text('已重新连接')")
    wait_for(lambda: teacher.evaluate(
        f"() => window.sanke.room.participants.get('{classroom_id}')?.connected"), 10, "the classroom connected")
