"""A 1+2 delivery lesson in real Chromium through the SFU: teacher console, two classroom screens, the stage,
the patrol wall, and the end of the lesson."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import LiveServer, login, wait_for, wait_playing

FIRST_FRAME_TARGET_MS = 1500


def open_teacher(new_page: Any, server: LiveServer, room_id: str) -> Any:
    page = new_page(1440, 900)
    login(page, "wang", next_path=f"/teacher?room={room_id}")
    page.wait_for_selector("#conn[data-state='joined']")
    wait_for(lambda: page.evaluate(
        "() => [...window.sanke.room.tracks.values()].some(t => t.participant_id === window.sanke.me.participant_id"
        " && t.source === 'camera')"), 20, "the teacher's camera to be published")
    return page


def join_classroom(new_page: Any, code: str, room_id: str) -> tuple[Any, int]:
    """Join by code as the assistant teacher would; return the page and join-click-to-first-frame in ms."""
    page = new_page(1920, 1080)
    page.goto(f"/classroom?room={room_id}")
    page.fill("#code", code)
    page.click("#join")
    page.wait_for_selector("#conn[data-state='joined']")
    ms = wait_for(lambda: page.evaluate("() => window.sankeMetrics.joinToFirstFrameMs"), 20, "a first frame")
    steps = page.evaluate(
        "() => Object.entries(window.sanke.marks).map(([k, v]) => `${k} +${Math.round(v - window.sankeMetrics.joinClick)}`)"
    )
    print(f"\n  join steps (ms after the click): {', '.join(steps)}")
    return page, ms


@pytest.mark.solo  # three Chromium pages decode each other's video (fps within 20 s): alone, after the parallel part
def test_delivery_lesson_1_plus_2(new_page: Any, with_media: LiveServer, artifacts: Path) -> None:
    server = with_media
    county = server.county
    room = county.room_id
    teacher_id = f"user:{county.user_ids['wang']}"
    c1, c2 = (f"classroom:{county.classroom_ids[k]}" for k in ("c1", "c2"))

    teacher = open_teacher(new_page, server, room)
    teacher.click("#start")
    teacher.wait_for_selector("body[data-room-state='live']")
    teacher.wait_for_selector("#recording:has-text('录制中')", state="visible")  # the recorder sits in the lesson

    first_frames = {}
    screen1, first_frames["c1"] = join_classroom(new_page, county.codes["c1"], room)
    screen2, first_frames["c2"] = join_classroom(new_page, county.codes["c2"], room)
    for label, ms in first_frames.items():
        print(f"\njoin click → first decoded frame ({label}): {ms} ms (target ≤ {FIRST_FRAME_TARGET_MS} ms)")

    # every classroom plays the teacher; the teacher plays both return videos, with names and marks
    for screen in (screen1, screen2):
        wait_playing(screen, teacher_id)
    screen1.wait_for_selector("#recording:has-text('录制中')", state="visible")
    wait_playing(teacher, c1)
    wait_playing(teacher, c2)
    teacher.wait_for_selector(f"#classrooms .tile[data-pid='{c1}'] .mark")
    assert "村小1" in teacher.inner_text(f"#classrooms .tile[data-pid='{c1}']")
    teacher.wait_for_selector("#classroom-count:has-text('2')")

    # classroom 1 raises its hand; the teacher brings it on stage; classroom 2 sees and plays it
    screen1.click("#raise")
    teacher.wait_for_selector(f"#hands li[data-pid='{c1}']")
    screen1.wait_for_selector("#status:has-text('已举手')")
    teacher.click(f"#hands li[data-pid='{c1}'] button")
    screen1.wait_for_selector("body[data-on-stage]")
    screen2.wait_for_selector(f"#stage .tile[data-pid='{c1}']")
    wait_playing(screen2, c1)
    teacher.wait_for_selector(f"#classrooms .tile[data-pid='{c1}'] .mark.stage")
    teacher.wait_for_selector("#log li:has-text('上台')")

    # courseware: a shared screen, or a second camera when none can be shared, shown large in every classroom
    teacher.click("#courseware")
    screen2.wait_for_selector("#mainview[data-has-cw]")
    wait_playing(screen2, f"{teacher_id}#screen")
    screen2.click("#layout")
    screen2.wait_for_selector("#mainview[data-layout='courseware']")
    teacher.click("#courseware")  # stop: a slate says so where the courseware was
    teacher.wait_for_selector("#courseware:has-text('共享课件')")
    wait_playing(screen2, f"{teacher_id}#screen", rise=1)
    teacher.click("#courseware")  # and share again on the same track
    teacher.wait_for_selector("#courseware:has-text('停止共享')")
    wait_playing(screen2, f"{teacher_id}#screen")

    # the teacher asks classroom 2 to mute; its microphone goes off and the screen says so
    teacher.click(f"#classrooms .tile[data-pid='{c2}'] [data-action='mute']")
    screen2.wait_for_selector("#unmute:visible")
    assert screen2.evaluate("() => window.sanke.local.filter(i => i.source === 'microphone').every(i => !i.track.enabled)")

    # the patrol wall shows the live classrooms at the low quality; a click opens the lesson large
    wall = new_page(1600, 900)
    login(wall, "coord", next_path="/coordinator")
    wall.wait_for_selector(f"#live-rooms [data-room='{room}']")
    # the recorder is a badge on the lesson, not a person among those present
    wall.wait_for_selector(f"#live-rooms [data-room='{room}'] [data-badge='recording']")
    present = wall.inner_text(f"#live-rooms [data-room='{room}'] .present")
    assert "王老师" in present and "录制中" not in present, present
    wall.wait_for_selector("#wall .tile.has-video", timeout=20_000)
    wait_for(lambda: wall.evaluate(
        "async () => { let n = 0; for (const c of window.sankeWall.clients.values())"
        " for (const s of await c.inboundVideo()) if (s.framesDecoded > 0) n++; return n >= 3; }"),
        20, "three classrooms playing on the patrol wall")
    widths = wall.evaluate(
        "async () => { const w = []; for (const c of window.sankeWall.clients.values())"
        " for (const s of await c.inboundVideo()) if (s.framesDecoded > 0 && s.source === 'camera') w.push(s.width);"
        " return w; }")
    assert widths and max(widths) <= 320, f"the patrol wall should receive the low quality, got widths {widths}"
    wall.wait_for_timeout(1000)
    wall.screenshot(path=str(artifacts / "patrol-wall.png"))

    teacher.wait_for_timeout(500)
    teacher.screenshot(path=str(artifacts / "teacher-console.png"))
    screen2.screenshot(path=str(artifacts / "classroom-screen.png"))
    screen1.screenshot(path=str(artifacts / "classroom-on-stage.png"))

    wall.click("#wall .tile.has-video")
    wall.wait_for_selector("#enlarged .tile")
    wall.click("#close-enlarged")

    # the teacher ends the lesson (with a confirmation); both classrooms say so
    teacher.click("#end")
    teacher.click("#confirm-yes")
    for screen in (screen1, screen2):
        screen.wait_for_selector("#message[data-reason='room_ended']:has-text('本节课已结束')")
    teacher.wait_for_selector("#message:has-text('本节课已结束')")
    assert max(first_frames.values()) < 10_000
