"""Teaching progress through the platform: the coordinator's overview, a lesson's 本节 after a cancelled
lesson, the teacher's one-click correction moving the plan and re-filing the recording, and the plan
as CSV / XLSX / JSON with errors by row."""

from __future__ import annotations

import json

import aiohttp
from sqlalchemy import select

from core.db import utcnow
from core.directory import User
from recorder.models import Resource, TextbookNode
from recorder.resources import LessonFacts, create_from_recording, knowledge_of
from tests.conftest import PASSWORD, login
from web.api.progress_sections import ProgressTaught
from web.keys import DB
from web.passwords import hash_password


async def test_plan_status_and_the_lessons_section_after_a_cancelled_lesson(progress_county):
    pc = progress_county
    coord = await login(pc.server, "coord")
    try:
        async with coord.get(f"{pc.server.url}/api/progress/plans") as r:
            assert r.status == 200
            plans = (await r.json())["plans"]
        assert len(plans) == 1 and plans[0]["subject_name"] == "英语" and plans[0]["grade"] == 4
        plan = plans[0]
        assert plan["volume"].startswith("人教版") and "四年级英语" in plan["volume"]
        assert plan["status"]["verdict"] in ("on_track", "behind", "ahead")
        held = len([r for r in pc.rooms]) - 1
        assert plan["lessons_held"] == held
        async with coord.get(f"{pc.server.url}/api/progress/plans/{plan['id']}") as r:
            detail = (await r.json())["plan"]
        items = detail["items"]
        assert items[0]["label"].startswith("Unit 1 My") and "学校与教室" in items[0]["knowledge"]
        assert sum(i["lessons"] for i in items) == detail["lessons_total"]
        states = [x["state"] for x in detail["lessons"]]
        assert states.count("not_held") == 1 and states.count("taught") == held
        # The lesson after the cancelled one teaches what the cancelled one would have: nothing skipped.
        lessons = detail["lessons"]
        cancelled = next(i for i, x in enumerate(lessons) if x["ref"] == pc.cancelled)
        assert lessons[cancelled + 1]["section"] == lessons[cancelled]["section"]
        taught_sections = [x["section"]["node_id"] for x in lessons if x["state"] == "taught"]
        assert taught_sections == sorted(taught_sections, key=[i["node_id"] for i in items].index)
    finally:
        await coord.close()


async def test_correction_moves_the_plan_and_refiles_the_recording(progress_county):
    pc = progress_county
    db = pc.server.app[DB]
    teacher = await login(pc.server, "t-eng")
    try:
        room = list(pc.rooms.values())[-1]  # the next lesson's room, open from now on
        async with teacher.get(f"{pc.server.url}/api/progress/rooms/{room}") as r:
            now = await r.json()
        planned = now["section"]
        assert planned["label"] and now["state"] == "planned"
        async with db.session() as s:  # the lesson ends: its recording files itself under 本节
            res = await create_from_recording(s, LessonFacts(
                room_id=room, title="英语 4年级 1+2", subject="英语", grade=4, teacher_user_id=pc.teacher_id,
                teacher_name="李老师", started_at=utcnow()), "rec-progress")  # fmt: skip
            from recorder.filing import file_taught

            assert await file_taught(s, res, ProgressTaught(db))
            await s.commit()
            node = await s.get(TextbookNode, res.textbook_node_id)
            assert node.id == planned["node_id"]
            assert res.title == f"四年级英语 {planned['label'].split(' ')[0]} {planned['label'].split(' ')[1]} " \
                f"{planned['section']} · 李老师 · {res.lesson_date.isoformat()}"
            assert [kp.name for kp in (await knowledge_of(s, [res.id]))[res.id]] == planned["knowledge"]
        later = next(c for c in now["choices"] if c["node_id"] != planned["node_id"] and c["chapter"] != planned["chapter"])
        async with teacher.post(f"{pc.server.url}/api/progress/rooms/{room}/correct", json={"node_id": later["node_id"]}) as r:
            assert r.status == 200, await r.text()
            corrected = await r.json()
        assert corrected["section"]["node_id"] == later["node_id"] and corrected["refiled"] == [res.id]
        async with db.session() as s:
            res = await s.get(Resource, res.id)
            assert res.textbook_node_id == later["node_id"] and later["section"] in res.title
        async with teacher.post(f"{pc.server.url}/api/progress/rooms/{room}/correct", json={"node_id": -5}) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "node_id"
    finally:
        await teacher.close()


async def test_plan_files_round_trip_and_bad_rows_are_reported_by_row(progress_county):
    pc = progress_county
    coord = await login(pc.server, "coord")
    try:
        async with coord.get(f"{pc.server.url}/api/progress/plans") as r:
            plan_id = (await r.json())["plans"][0]["id"]
        base = f"{pc.server.url}/api/progress/plans/{plan_id}"
        for fmt in ("csv", "xlsx", "json"):
            async with coord.get(f"{base}/export?format={fmt}") as r:
                assert r.status == 200
                blob = await r.read()
            async with coord.post(f"{base}/import?format={fmt}", data=blob) as r:
                assert r.status == 200, await r.text()
        async with coord.get(f"{base}/template?format=csv") as r:
            lines = (await r.read()).decode("utf-8-sig").splitlines()
        assert lines[0] == "chapter,section,lessons,week,knowledge" and len(lines) == 19
        broken = "\n".join([lines[0], lines[2], "Unit 9 Nowhere,Part A,2,3,", lines[1].replace(",Part A,", ",Part A,")
                            .rsplit(",", 3)[0] + ",zwei,3,", lines[3]])  # fmt: skip
        async with coord.post(f"{base}/import?format=csv", data=broken.encode()) as r:
            assert r.status == 400
            body = await r.json()
        assert [(p["row"], p["field"]) for p in body["problems"]] == [(3, "section"), (4, "lessons")]
        # Reorder: the second section first, three lessons each.
        async with coord.get(base) as r:
            items = (await r.json())["plan"]["items"]
        order = [items[1], items[0], *items[2:]]
        payload = {"items": [{"node_id": i["node_id"], "lessons": 3, "week": n + 1} for n, i in enumerate(order)]}
        async with coord.put(f"{base}/items", json=payload) as r:
            assert r.status == 200
            assert [i["node_id"] for i in (await r.json())["plan"]["items"][:2]] == [items[1]["node_id"], items[0]["node_id"]]
        async with coord.put(f"{base}/items", json={"items": [{"node_id": 1, "lessons": 0, "week": 1}]}) as r:
            assert r.status == 400
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(f"{pc.server.url}/api/progress/plans") as r:
                assert r.status == 401
        assert json.loads(json.dumps(payload))  # payload stays plain JSON
    finally:
        await coord.close()


async def test_volume_picker_lays_the_plan_afresh_and_checks_who_and_what(progress_county):
    pc = progress_county
    url = pc.server.url
    async with pc.server.app[DB].session() as s:
        s.add(User(username="t-other", display_name="别的老师", password_hash=hash_password(PASSWORD), role="teacher"))
        seventh = (await s.execute(select(TextbookNode.id).where(TextbookNode.level == "volume"))).scalars().all()
        await s.commit()
    teacher, other = await login(pc.server, "t-eng"), await login(pc.server, "t-other")
    try:
        async with teacher.get(f"{url}/api/progress/plans") as r:
            plan_id = (await r.json())["plans"][0]["id"]
        async with teacher.get(f"{url}/api/progress/plans/{plan_id}") as r:
            plan = (await r.json())["plan"]
        labels = {v["label"]: v["id"] for v in plan["volumes"]}
        assert len(labels) == 2 and all("四年级英语" in k for k in labels)  # this grade and subject only
        lower = next(v for k, v in labels.items() if k.endswith("下册"))
        foreign = next(v for v in seventh if v not in labels.values())
        async with other.put(f"{url}/api/progress/plans/{plan_id}/volume", json={"volume_node_id": lower}) as r:
            assert r.status == 403  # another school's teacher does not edit this group's plan
        async with teacher.put(f"{url}/api/progress/plans/{plan_id}/volume", json={"volume_node_id": foreign}) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "volume_node_id"
        async with teacher.put(f"{url}/api/progress/plans/{plan_id}/volume", json={"volume_node_id": "下册"}) as r:
            assert r.status == 400
        async with teacher.put(f"{url}/api/progress/plans/{plan_id}/volume", json={"volume_node_id": lower}) as r:
            assert r.status == 200, await r.text()
            chosen = (await r.json())["plan"]
        assert chosen["volume"].endswith("下册") and chosen["items"][0]["chapter"] == "Unit 1 My school"
        assert sum(i["lessons"] for i in chosen["items"]) >= chosen["lessons_total"] - len(chosen["items"])
        async with teacher.get(f"{url}/api/progress/plans/{plan_id}") as r:  # kept, and the catalogue follows
            again = (await r.json())["plan"]
        assert again["volume_node_id"] == lower and again["catalogue"][0]["chapter"] == "Unit 1 My school"
        room = list(pc.rooms.values())[-1]
        async with teacher.get(f"{url}/api/progress/rooms/{room}") as r:  # the console's 本节 follows too
            assert (await r.json())["section"]["node_id"] in {i["node_id"] for i in chosen["items"]}
    finally:
        await teacher.close()
        await other.close()
