"""名师课堂 评课 in real Chromium: the coordinator edits the rubric, an observer scores a co-teaching lesson with
a moment of the recording, the lead teacher sees it in the aggregate, and the library shows the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import update

from core.db import utcnow
from recorder.models import Resource
from rooms.records import RoomRecord
from tests.web.conftest import LiveServer, api, login
from web.keys import DB


async def _finish_and_file(server: LiveServer, room_id: str) -> int:
    """The lesson took place and its recording was filed in the library (what the recorder does at the end)."""
    async with server.app[DB].session() as s:
        await s.execute(update(RoomRecord).where(RoomRecord.id == room_id)
                        .values(state="ended", live_at=utcnow(), ended_at=utcnow()))
        r = Resource(room_id=room_id, room_kind="coteach", title="四年级英语集体备课", status="published", scope="county",
                     teacher_user_id=server.county.user_ids["wang"], teacher_name="王老师", subject="英语", grade=4,
                     duration=1800.0)
        s.add(r)
        await s.commit()
        return r.id


def test_observer_evaluation_reaches_aggregate_and_library(new_page: Any, live_server: LiveServer, artifacts: Path) -> None:
    county = live_server.county
    coord = new_page(1280, 900)
    login(coord, "coord", next_path="/rubric")
    coord.wait_for_selector("#rubric-coteach form")
    coord.fill("#rubric-coteach #rubric-name", "名师课堂评课表（县教研室）")
    coord.fill("#rubric-coteach tbody tr:nth-child(1) [name=weight]", "25")
    coord.click("#rubric-coteach #rubric-save")
    assert "110" in coord.inner_text("#rubric-coteach #rubric-sum")
    coord.wait_for_selector("#rubric-coteach #rubric-error:not(:empty)")  # the weights must add up to 100
    coord.fill("#rubric-coteach tbody tr:nth-child(2) [name=weight]", "10")
    coord.fill("#rubric-coteach tbody tr:nth-child(4) [name=weight]", "15")
    coord.fill("#rubric-coteach tbody tr:nth-child(5) [name=weight]", "15")
    coord.fill("#rubric-coteach tbody tr:nth-child(3) [name=weight]", "35")
    coord.click("#rubric-coteach #rubric-save")
    coord.wait_for_selector("#rubric-coteach form[data-saved]")
    room = api(coord, "POST", "/api/rooms", {
        "kind": "coteach", "title": "四年级英语集体备课", "subject": "英语",
        "host_user_id": county.user_ids["wang"], "coteacher_ids": [county.user_ids["zhao"]],
    })["room"]["id"]
    resource = live_server.run(_finish_and_file(live_server, room))

    observer = new_page(1280, 1100)
    login(observer, "chen", next_path=f"/evaluate?room={room}")
    observer.wait_for_selector("#ev-form")
    dims = observer.locator("#ev-form fieldset.score-row")
    assert dims.count() == 5
    for i, score in enumerate((5, 4, 4, 3, 5)):
        dims.nth(i).locator(f"label.score:has-text('{score}')").click()
    observer.fill("#ev-comment", "远端教室的互动设计得很好")
    observer.fill("#ev-moment-at", "2:05")
    observer.fill("#ev-moment-note", "导入自然，照顾到村小学生")
    observer.click("#ev-moment-add")
    observer.click("#ev-submit")
    observer.wait_for_selector("#ev-form[data-saved]")
    total = float(observer.get_attribute("#ev-form", "data-saved"))
    assert total == 25 * 5 / 5 + 10 * 4 / 5 + 35 * 4 / 5 + 15 * 3 / 5 + 15 * 5 / 5  # weighted, out of 100
    observer.screenshot(path=str(artifacts / "school-evaluate-observer.png"), full_page=True)

    host = new_page(1280, 900)
    login(host, "wang", next_path=f"/evaluate?room={room}")
    host.wait_for_selector(f"#ev-aggregate[data-count='1'][data-total='{total:g}']")
    assert "远端教室的互动设计得很好" in host.inner_text("#ev-comments")
    assert "2:05" in host.inner_text("#ev-agg-moments")
    assert host.locator("#ev-form").count() == 0  # the lead teacher does not score her own lesson
    host.screenshot(path=str(artifacts / "school-evaluate-aggregate.png"), full_page=True)

    observer.goto(f"/playback?id={resource}")
    observer.wait_for_selector(f"#evaluation-summary[data-count='1'][data-total='{total:g}']")
    assert "导入自然" in observer.inner_text("#lesson-extras")
    observer.screenshot(path=str(artifacts / "school-library-evaluation.png"), full_page=True)
