"""双师课堂 in real Chromium: the teacher pushes a quiz to two classroom screens, their answers appear in the
teacher's chart; 签到 and a message reach the teacher; the attendance page shows both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.conftest import LiveServer, login


def _classroom(new_page: Any, code: str, room_id: str) -> Any:
    page = new_page(1600, 900)
    page.goto(f"/classroom?room={room_id}")
    page.fill("#code", code)
    page.click("#join")
    page.wait_for_selector("#conn[data-state='joined']")
    return page


def test_quiz_checkin_and_messages_across_two_classrooms(new_page: Any, live_server: LiveServer, artifacts: Path) -> None:
    county = live_server.county
    room = county.room_id
    teacher = new_page(1440, 1000)
    login(teacher, "wang", next_path=f"/teacher?room={room}")
    teacher.wait_for_selector("#conn[data-state='joined']")
    screens = [_classroom(new_page, county.codes[k], room) for k in ("c1", "c2")]
    teacher.wait_for_selector("#classroom-count:has-text('2')")

    # 签到: the assistant teacher of classroom 1 confirms 23 students present
    screens[0].fill("#checkin-count", "23")
    screens[0].click("#checkin-send")
    screens[0].wait_for_selector("#checkin[data-done]")
    teacher.wait_for_selector("#checkins[data-total='23']")

    # 随堂测: a four-option question to both classrooms
    teacher.fill("#quiz-question", "Which one is a fruit?")
    teacher.fill("#quiz-options", "apple\ndesk\npen\ncar")
    teacher.press("#quiz-question", "Enter")  # the form sends on Enter as on the button
    teacher.wait_for_selector("#quiz-results[data-answered='0']")
    for screen in screens:
        screen.wait_for_selector("#quiz-answer:visible")
        assert "Which one is a fruit?" in screen.inner_text("#quiz-answer")
    for i, n in enumerate((20, 2, 1, 0)):
        screens[0].fill(f"#quiz-count-{i}", str(n))
    screens[0].screenshot(path=str(artifacts / "school-quiz-classroom.png"))
    screens[0].click("#quiz-send")
    screens[0].wait_for_selector("#quiz-answer[data-sent]")
    screens[1].click("#quiz-answer [data-choice='1']")  # one answer for the whole class
    screens[1].wait_for_selector("#quiz-answer[data-sent]")
    screens[1].wait_for_selector("#quiz-reopen:visible")  # the screen goes back to the lesson
    teacher.wait_for_selector("#quiz-results[data-answered='2'][data-overall='20,3,1,0']")
    chart = teacher.locator("#quiz-chart")
    assert chart.locator("rect.bar").count() == 12  # 4 options × (2 classrooms + all)
    table = teacher.inner_text("#quiz-table")
    assert "村小1 四年级" in table and "村小2 四年级" in table

    # a message from classroom 2 to the teacher; the teacher answers everyone and deletes the first
    screens[1].click("#chat-toggle")
    screens[1].wait_for_selector("#chat:visible")
    screens[1].select_option("#chat-to", "teacher")
    screens[1].fill("#chat-text", "我们这边听不清")
    screens[1].click("#chat-send")
    teacher.wait_for_selector("#chat-list li:has-text('我们这边听不清')")
    teacher.fill("#chat-text", "大家请看课本第 12 页")
    teacher.click("#chat-send")
    screens[0].wait_for_selector("#chat-unread:has-text('1')")
    assert screens[0].locator("#chat-list li:has-text('我们这边听不清')").count() == 0  # not for the others
    teacher.screenshot(path=str(artifacts / "school-quiz-teacher.png"))
    teacher.click("#chat-list li:has-text('我们这边听不清') [data-action='delete']")
    screens[1].wait_for_selector("#chat-list li.deleted")

    # the attendance page: both classrooms present with the headcount, and the quiz
    att = new_page(1280, 900)
    login(att, "wang", next_path=f"/attendance?room={room}")
    att.wait_for_selector("#attendance table")
    text = att.inner_text("#attendance")
    assert "村小1" in text and "村小2" in text and "\t23\t" in text
    att.wait_for_selector("#quiz-summaries .quiz-summary:has-text('Which one is a fruit?')")
    csv = att.evaluate("async () => (await fetch(document.getElementById('attendance-csv').href)).text()")
    assert "签到人数" in csv and ",23," in csv
    att.screenshot(path=str(artifacts / "school-attendance.png"), full_page=True)
