"""按教学进度推送: the open lesson's remote classroom sees its section's courseware, the best-reviewed recordings
of its section by other teachers and 课前复习 items for the prerequisite points, in real Chromium (and opens
the courseware file by its join code); a classroom that missed a lesson
is offered its recording; a resource outside the classroom's scope, or not published, is never shown."""

from __future__ import annotations

import datetime as dt

import aiohttp
from sqlalchemy import select

from core.db import utcnow
from core.directory import User
from recorder.models import KnowledgePoint, Resource
from recorder.resources import LessonFacts, create_from_recording, set_catalogue
from recorder.review import Actor, apply_review
from rooms.records import PresenceRecord, RoomRecord
from tests.conftest import CHROMIUM_ARGS, login, require_chromium
from tests.progress.files import pdf, pptx
from tests.web.conftest import ARTIFACTS
from web.keys import DB

PREREQUISITE = {"there be 句型": "方位介词 in/on/under", "询问时间": "数字 1–100"}


async def _resource(s, title: str, teacher: User, node: int | None, *, status="published", scope="county",
                    score=0.0, room_id="", points=()) -> Resource:  # fmt: skip
    r = await create_from_recording(s, LessonFacts(
        room_id=room_id or f"elsewhere-{title}", title=title, subject="英语", grade=4, teacher_user_id=teacher.id,
        teacher_name=teacher.display_name, school_id=teacher.school_id, started_at=utcnow()), f"rec-{title}")  # fmt: skip
    await set_catalogue(s, r, textbook_node_id=node, knowledge_point_ids=list(points))
    coord = Actor(1, "coord", "coordinator")
    if status != "draft":
        await apply_review(s, Actor(teacher.id, teacher.username, "teacher"), r, "submit")
        await apply_review(s, coord, r, "approve")
        await apply_review(s, coord, r, "publish", scope=scope)
    r.review_score = score
    return r


async def test_push_list_in_the_classroom_screen_and_makeup_for_who_missed(progress_county):
    from playwright.async_api import async_playwright

    pc = progress_county
    db = pc.server.app[DB]
    room = list(pc.rooms.values())[-1]
    teacher = await login(pc.server, "t-eng")
    try:  # the teacher sets this lesson to a section whose points have a prerequisite outside it
        async with teacher.get(f"{pc.server.url}/api/progress/rooms/{room}") as r:
            choices = (await r.json())["choices"]
        target = next(c for c in choices if set(c["knowledge"]) & set(PREREQUISITE))
        async with teacher.post(f"{pc.server.url}/api/progress/rooms/{room}/correct", json={"node_id": target["node_id"]}) as r:
            assert r.status == 200
    finally:
        await teacher.close()
    before = PREREQUISITE[next(k for k in target["knowledge"] if k in PREREQUISITE)]
    missed_room = list(pc.rooms.values())[-2]
    async with db.session() as s:
        coord_school = (await s.execute(select(User).where(User.username == "t-eng"))).scalar_one().school_id
        others = [User(username=f"o{i}", display_name=f"{n}老师", password_hash="x", role="teacher", school_id=coord_school)
                  for i, n in enumerate("周吴")]  # fmt: skip
        s.add_all(others)
        await s.flush()
        kp = (await s.execute(select(KnowledgePoint.id).where(KnowledgePoint.name == before))).scalar_one()
        best = await _resource(s, "周老师示范课", others[0], target["node_id"], score=4.8)
        good = await _resource(s, "吴老师同课", others[1], target["node_id"], score=4.1)
        own_school = await _resource(s, "校内教研课", others[1], target["node_id"], scope="school", score=5.0)
        draft = await _resource(s, "未审草稿", others[0], target["node_id"], status="draft")
        review = await _resource(s, "方位复习", others[0], None, points=[kp], score=4.0)
        # the lesson before: 村小 r1-3 attended it all, r2-4 never joined; its recording is published
        held = await s.get(RoomRecord, missed_room)
        held.ended_at = utcnow() - dt.timedelta(hours=1)
        held.live_at = held.ended_at - dt.timedelta(minutes=40)
        s.add(PresenceRecord(room_id=missed_room, identity="c-r1", role="remote_classroom",
                             classroom_id=pc.classrooms["r1-3"], joined_at=held.live_at, left_at=held.ended_at))  # fmt: skip
        replay = await _resource(s, "上节课录像", await s.get(User, pc.teacher_id), None, room_id=missed_room)
        await s.commit()
        ids = {x.title: x.id for x in (best, good, own_school, draft, review, replay)}

    teacher = await login(pc.server, "t-eng")
    try:  # courseware of the section: one published county-wide, one kept to 城关 (not the village's school)
        files = {}
        for title, blob in (("天气课件", pdf(["Unit weather", "sunny rainy"])), ("校内课件", pptx(["slide"]))):
            form = aiohttp.FormData()
            form.add_field("title", title)
            form.add_field("textbook_node_id", str(target["node_id"]))
            form.add_field("file", blob, filename=f"{title}.bin")
            async with teacher.post(f"{pc.server.url}/api/library/courseware", data=form) as r:
                assert r.status == 201, await r.text()
                files[title] = (await r.json())["resource"]["id"]
    finally:
        await teacher.close()
    async with db.session() as s:
        for title, scope in (("天气课件", "county"), ("校内课件", "school")):
            r = await s.get(Resource, files[title])
            await apply_review(s, Actor(pc.teacher_id, "t-eng", "teacher"), r, "submit")
            await apply_review(s, Actor(1, "coord", "coordinator"), r, "approve")
            await apply_review(s, Actor(1, "coord", "coordinator"), r, "publish", scope=scope)
        await s.commit()

    chromium = require_chromium()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(locale="zh-CN")
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{pc.server.url}/push?code={pc.codes['r1-3']}")
            await page.wait_for_selector(".push-lesson")
            assert target["section"] in await page.inner_text(".push-section")
            shown = [int(x) for x in await page.locator(".push-recordings .push-item").evaluate_all(
                "els => els.map(e => e.dataset.resource)")]  # fmt: skip
            assert shown == [ids["周老师示范课"], ids["吴老师同课"]]  # best first; school scope and draft hidden
            courseware = page.locator(".push-courseware .push-item")
            assert await courseware.evaluate_all("els => els.map(e => +e.dataset.resource)") == [files["天气课件"]]
            assert "PDF" in await courseware.inner_text()  # 校内课件 is outside the village classroom's scope
            href = await courseware.locator("a").get_attribute("href")
            opened = await page.evaluate("async (u) => { const r = await fetch(u); return [r.status, r.headers.get('content-type')]; }", href)
            assert opened == [200, "application/pdf"]
            assert before in await page.inner_text(".push-review")
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "progress-push-courseware.png"), full_page=True)
            assert await page.locator(f".push-review [data-resource='{ids['方位复习']}']").count() == 1
            assert await page.locator(".push-makeup").count() == 0  # r1-3 attended the last lesson
            await page.goto(f"{pc.server.url}/push?code={pc.codes['r2-4']}")
            await page.wait_for_selector(".push-makeup")
            item = page.locator(".push-makeup .push-item")
            assert await item.get_attribute("data-resource") == str(ids["上节课录像"])
            assert await item.get_attribute("data-reason") == "missed" and "缺课" in await item.inner_text()
            assert errors == []
        finally:
            await browser.close()
