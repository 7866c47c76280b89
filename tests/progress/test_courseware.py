"""Courseware (课件) over HTTP: a teacher uploads PDF, PPTX, DOCX or an image filed under a section with
knowledge points; bad files get a coded answer naming the file (wrong type, zip bomb, no section); the
file's words are searchable; drafts and out-of-scope files are never opened or pushed; once published
county-wide the remote classroom's push list carries it and its screen opens it by join code."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select

from core.directory import Classroom, User
from recorder.models import KnowledgePoint, Resource
from recorder.review import Actor, apply_review
from tests.conftest import PASSWORD, login
from tests.progress.files import docx, pdf, png, pptx, pptx_bomb
from web.keys import DB
from web.passwords import hash_password


def _form(name: str, blob: bytes, **fields: object) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, str(value))
    form.add_field("file", blob, filename=name, content_type="application/octet-stream")
    return form


async def _publish(db, rid: int, scope: str) -> None:
    async with db.session() as s:
        r = await s.get(Resource, rid)
        owner = await s.get(User, r.teacher_user_id)
        await apply_review(s, Actor(owner.id, owner.username, "teacher", owner.school_id), r, "submit")
        coord = Actor(1, "coord", "coordinator")
        await apply_review(s, coord, r, "approve")
        await apply_review(s, coord, r, "publish", scope=scope)
        await s.commit()


async def test_courseware_upload_scope_and_push(progress_county) -> None:
    pc = progress_county
    url, db = pc.server.url, pc.server.app[DB]
    room = list(pc.rooms.values())[-1]  # the open lesson
    async with db.session() as s:
        village = (await s.get(Classroom, pc.classrooms["r1-3"])).school_id
        s.add_all([User(username="v-t", display_name="村小老师", password_hash=hash_password(PASSWORD), role="teacher",
                        school_id=village),
                   User(username="obs", display_name="督学", password_hash=hash_password(PASSWORD), role="observer")])
        await s.commit()
    teacher, other, obs = [await login(pc.server, u) for u in ("t-eng", "v-t", "obs")]
    try:
        async with teacher.get(f"{url}/api/progress/rooms/{room}") as r:
            section = (await r.json())["section"]
        node = section["node_id"]
        async with db.session() as s:
            points = list((await s.execute(select(KnowledgePoint.id).where(
                KnowledgePoint.name == section["knowledge"][0]))).scalars())[:1]
        assert points
        up = f"{url}/api/library/courseware"

        async with aiohttp.ClientSession() as anon:
            async with anon.post(up, data=_form("a.pdf", pdf(["x"]), textbook_node_id=node)) as r:
                assert r.status == 401
        async with obs.post(up, data=_form("a.pdf", pdf(["x"]), textbook_node_id=node)) as r:
            assert r.status == 403  # supervisors read, they do not upload
        async with teacher.post(up, data=_form("a.pdf", pdf(["x"]))) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "textbook_node_id"
        async with teacher.post(up, data=_form("setup.pdf", b"MZ\x90\x00" * 400, textbook_node_id=node)) as r:
            err = (await r.json())["error"]
            assert r.status == 422 and err["code"] == "unsupported_type" and err["file"] == "setup.pdf"
        async with teacher.post(up, data=_form("bomb.pptx", pptx_bomb(), textbook_node_id=node)) as r:
            assert r.status == 413 and (await r.json())["error"]["code"] == "unpacks_too_large"
        async with teacher.post(up, data=_form("a.pdf", b"%PDF-1.4 broken", textbook_node_id=node)) as r:
            assert r.status == 422 and (await r.json())["error"]["code"] == "unreadable"
        async with teacher.post(up, data=_form("a.pdf", pdf(["x"]), textbook_node_id=node,
                                               knowledge_point_ids="999999")) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "knowledge_point_ids"

        lesson_pdf = pdf(["Unit weather rainbowcloud words", "sunny rainy windy"])
        async with teacher.post(up, data=_form("天气课件.pdf", lesson_pdf, title="天气 课件", textbook_node_id=node,
                                               knowledge_point_ids=",".join(map(str, points)))) as r:
            assert r.status == 201, await r.text()
            made = (await r.json())["resource"]
        assert made["kind"] == "courseware" and made["status"] == "draft" and made["file"]["pages"] == 2
        assert made["textbook"][-1]["id"] == node and [k["id"] for k in made["knowledge_points"]] == points
        assert made["grade"] == 4 and made["subject"] == "英语"
        pid = made["id"]
        slides = {}
        for name, blob in (("校内.pptx", pptx(["Unit slide one", "slide two", "three"])), ("教案.docx", docx("教案")),
                           ("板书.png", png())):
            async with teacher.post(up, data=_form(name, blob, textbook_node_id=node)) as r:
                assert r.status == 201, await r.text()
                slides[name] = (await r.json())["resource"]
        assert slides["校内.pptx"]["file"]["pages"] == 3 and slides["板书.png"]["file"]["type"] == "png"

        async with teacher.get(f"{url}/api/library/resources", params={"q": "rainbowcloud"}) as r:
            assert [x["id"] for x in (await r.json())["resources"]] == [pid]  # the file's own words are found
        async with other.get(f"{url}/api/library/resources", params={"q": "rainbowcloud"}) as r:
            assert (await r.json())["resources"] == []  # a draft stays with its teacher
        async with teacher.get(f"{url}/api/library/resources/{pid}/file") as r:
            assert r.status == 200 and r.content_type == "application/pdf" and await r.read() == lesson_pdf
            assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
        code = pc.codes["r1-3"]
        async with aiohttp.ClientSession() as screen:
            async with screen.get(f"{url}/api/library/resources/{pid}/file", params={"code": code}) as r:
                assert r.status == 404  # not published: the classroom never sees it
            async with screen.get(f"{url}/api/progress/push", params={"code": code}) as r:
                lesson = (await r.json())["classrooms"][0]["upcoming"][0]
            assert lesson["courseware"] == []

        await _publish(db, pid, "county")
        await _publish(db, slides["校内.pptx"]["id"], "school")  # 城关 only: the village classroom never sees it
        async with aiohttp.ClientSession() as screen:
            async with screen.get(f"{url}/api/progress/push", params={"code": code}) as r:
                lesson = (await r.json())["classrooms"][0]["upcoming"][0]
            assert [(c["id"], c["kind"], c["file_type"]) for c in lesson["courseware"]] == [(pid, "courseware", "pdf")]
            assert all(x["kind"] == "recording" for x in lesson["recordings"])
            async with screen.get(lesson["courseware"][0]["url"].replace("/api", f"{url}/api", 1)) as r:
                assert r.status == 200 and await r.read() == lesson_pdf
            async with screen.get(f"{url}/api/library/resources/{slides['校内.pptx']['id']}/file",
                                  params={"code": code}) as r:
                assert r.status == 404
            async with screen.get(f"{url}/api/library/resources/{pid}/file", params={"code": "WRONG123"}) as r:
                assert r.status == 404 and (await r.json())["error"]["field"] == "code"
        async with other.get(f"{url}/api/library/resources/{pid}") as r:  # the library page shows the file
            shown = (await r.json())["resource"]
        assert shown["file"]["url"] == f"/api/library/resources/{pid}/file" and shown["media"]["tracks"] == []
        async with db.session() as s:
            stored = (await s.execute(select(Resource.file_key).where(Resource.id == pid))).scalar_one()
        assert stored == f"courseware/{pid}/file.pdf"  # never the uploaded name
        async with aiohttp.ClientSession() as guesser:  # join codes are short: guessing them is rate-limited
            statuses = []
            for i in range(12):
                async with guesser.get(f"{url}/api/progress/push", params={"code": f"GUESS{i:03d}"}) as r:
                    statuses.append(r.status)
        assert statuses[0] == 404 and statuses[-1] == 429
    finally:
        for http in (teacher, other, obs):
            await http.close()
