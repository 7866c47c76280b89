"""The library's HTTP edges: bad input gets a clear error naming the field; roles are checked."""

from __future__ import annotations

import json

import aiohttp
import pytest
from sqlalchemy import select

from recorder.knowledge import sample_files
from recorder.models import TextbookNode
from recorder.resources import LessonFacts, create_from_recording
from tests.conftest import login, seed_county, start_server
from web.api.library import ensure_curriculum
from web.keys import DB


@pytest.fixture
async def api(tmp_path):
    server, runner = await start_server(tmp_path)
    county = await seed_county(server.app[DB])
    await ensure_curriculum(server.app)
    async with server.app[DB].session() as s:
        r = await create_from_recording(
            s, LessonFacts(room_id=county.room_id, title="英语 1+3", subject="英语", grade=4,
                           teacher_user_id=county.user_ids["wang"], teacher_name="王老师"), "rec-api"
        )  # fmt: skip
        volume = (
            (await s.execute(select(TextbookNode).where(TextbookNode.level == "volume"))).scalars().first()
        )
        await s.commit()
    sessions = {u: await login(server, u) for u in ("wang", "zhao", "coord", "chen")}
    sessions["anonymous"] = aiohttp.ClientSession()
    yield server, sessions, f"{server.url}/api/library/resources/{r.id}", volume.id
    for http in sessions.values():
        await http.close()
    await runner.cleanup()


async def error_of(response: aiohttp.ClientResponse) -> tuple[int, str, str | None]:
    body = await response.json()
    return response.status, body["error"]["code"], body["error"].get("field")


async def test_knowledge_import_checks_role_and_names_the_broken_field(api):
    server, http, _, _ = api
    url = f"{server.url}/api/library/knowledge"
    good = json.loads(sample_files()[0].read_text(encoding="utf-8"))
    good["CFDocument"]["identifier"] = "kp-county-copy"
    for item in good["CFItems"]:
        item["identifier"] = "copy." + item["identifier"]
    for assoc in good["CFAssociations"]:
        for end in ("originNodeURI", "destinationNodeURI"):
            assoc[end]["identifier"] = "copy." + assoc[end]["identifier"]
    async with http["wang"].post(url, json=good) as r:
        assert await error_of(r) == (403, "forbidden", None)
    broken = json.loads(json.dumps(good))
    broken["CFAssociations"][2]["originNodeURI"]["identifier"] = "nowhere"
    async with http["coord"].post(url, json=broken) as r:
        assert await error_of(r) == (400, "invalid_field", "CFAssociations[2].originNodeURI")
    async with http["coord"].post(url, data=b"{not json", headers={"Content-Type": "application/json"}) as r:
        assert (await error_of(r))[:2] == (400, "invalid_field")
    async with http["coord"].post(url, json=good) as r:
        assert r.status == 200 and (await r.json())["framework"]["items"] == len(good["CFItems"])
    async with http["anonymous"].get(url) as r:
        assert len((await r.json())["frameworks"]) == 3


async def test_edits_and_reviews_refuse_bad_input_and_wrong_roles(api):
    _, http, url, volume_id = api
    async with http["anonymous"].get(url) as r:
        assert r.status == 404  # a draft is not shown to the public, not even as forbidden
    async with http["chen"].get(url) as r:
        assert r.status == 404
    async with http["wang"].patch(url, json={"textbook_node_id": volume_id}) as r:
        assert await error_of(r) == (400, "invalid_field", "textbook_node_id")
    async with http["wang"].patch(url, json={"knowledge_point_ids": [999999]}) as r:
        assert await error_of(r) == (400, "not_found", "knowledge_point_ids")
    async with http["wang"].patch(url, json={"title": ""}) as r:
        assert await error_of(r) == (400, "invalid_field", "title")
    async with http["zhao"].patch(url, json={"title": "mine now"}) as r:
        assert r.status == 404  # another teacher's draft
    async with http["wang"].post(f"{url}/review", json={"action": "teleport"}) as r:
        assert await error_of(r) == (400, "invalid_field", "action")
    async with http["anonymous"].post(f"{url}/review", json={"action": "submit"}) as r:
        assert r.status == 401
    async with http["wang"].post(f"{url}/review", json={"action": "submit"}) as r:
        assert r.status == 200
    async with http["wang"].patch(url, json={"title": "too late"}) as r:
        assert await error_of(r) == (403, "forbidden", None)  # submitted: only a coordinator edits now
    async with http["coord"].patch(url, json={"title": "英语 1+3（修订）"}) as r:
        assert r.status == 200
    async with http["chen"].get(f"{url.rsplit('/resources', 1)[0]}/jobs") as r:
        assert r.status == 403
    async with http["wang"].get(f"{url}/download") as r:
        assert r.status == 404  # no MP4 yet


async def test_a_lesson_switched_off_before_it_starts_is_not_recorded(api):
    from rooms.records import RoomRecord
    from tests.conftest import connect, user_token
    from web.api.library import LIBRARY

    server, http, _, _ = api
    async with server.app[DB].session() as s:
        room = (await s.execute(select(RoomRecord))).scalars().first()
    async with http["wang"].patch(f"{server.url}/api/rooms/{room.id}", json={"record": False}) as r:
        assert r.status == 200
    teacher = await connect(server, await user_token(server, "wang", room.id))
    try:
        await teacher.send({"type": "room.start", "id": "s"})
        await teacher.next("ok", id="s")
        extra = await teacher.drain(0.5)
        assert not [m for m in extra if m.get("type") == "participant.joined"]  # no "录制中" joins
        assert server.app[LIBRARY].recorder.recording_of(room.id) is None
        async with http["wang"].get(f"{server.url}/api/library/recording/{room.id}") as r:
            assert (await r.json())["recording"] is False
    finally:
        await teacher.close()


async def test_a_timetabled_lesson_is_filed_with_its_timetable_entry(api):
    from datetime import UTC, datetime

    from recorder.index import RecordingIndex
    from rooms.roles import RoomKind
    from rooms.store import RoomSpec, create_room
    from web.api.library import lesson_facts

    server, _, _, _ = api
    async with server.app[DB].session() as s:
        room = await create_room(s, RoomSpec(
            kind=RoomKind.DELIVERY, title="英语 4年级 1+3 · 王老师", subject="english", grade=4,
            scheduled_start=datetime(2026, 11, 30, 0, 50, tzinfo=UTC), timetable_ref="T-wang@mon.2/2026-11-30",
        ))  # fmt: skip
        await s.commit()
    index = RecordingIndex(recording_id="x", room_id=room.id, started_at="2026-11-30T00:51:00+00:00",
                           duration=2400, tracks=[], markers=[])  # fmt: skip
    facts = await lesson_facts(server.app, room.id, index)
    assert (facts.subject, facts.grade, facts.timetable_ref) == ("英语", 4, "T-wang@mon.2/2026-11-30")
    assert facts.started_at == datetime(2026, 11, 30, 0, 50, tzinfo=UTC)
