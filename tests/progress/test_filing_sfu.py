"""A real recorded lesson (bots through the SFU) in a timetabled room files itself under its planned
section with its knowledge points and the lesson's facts, with no human step; the teacher's correction
in the console re-files it."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from loadtest.bots import Bot, WsSignal, wait_for
from loadtest.clip import load
from recorder.models import Resource, TextbookNode
from recorder.resources import knowledge_of
from rooms.roles import Role, RoomKind, grants_for
from tests.conftest import login, start_server
from tests.progress.conftest import seed_progress_county
from tests.recorder.test_library_http import until
from web.api.library import LIBRARY
from web.keys import DB, TOKENS


async def test_recorded_lesson_files_itself_and_a_correction_refiles_it(tmp_path):
    server, runner = await start_server(tmp_path, with_media=True)
    app = server.app
    signals: list[WsSignal] = []
    bots: list[Bot] = []
    try:
        pc = await seed_progress_county(server)
        room_id = list(pc.rooms.values())[-1]
        teacher = await login(server, "t-eng")
        async with teacher.get(f"{server.url}/api/progress/rooms/{room_id}") as r:
            planned = (await r.json())["section"]
        clip = load(160, 128, 15, 45, 100_000)
        for identity, role, side in (("hub", "hub_teacher", "hub"), ("class0", "classroom", "remote")):
            grants = grants_for(Role(role), RoomKind.DELIVERY, room_id)
            signal = WsSignal(server.url, app[TOKENS].issue_join(identity, identity, role, grants, ttl=600, meta={"side": side}))
            bot = Bot(identity, signal, clip=clip, tone_hz=440, subscribe_mode="count")
            await signal.connect(bot)
            await bot.publish()
            signals.append(signal)
            bots.append(bot)
        recorder = app[LIBRARY].recorder
        await signals[0].request({"type": "room.start"})
        assert await wait_for(lambda: recorder.recording_of(room_id) is not None, 10)
        await asyncio.sleep(4)
        await signals[0].ws.send_json({"type": "room.end"})
        assert await wait_for(lambda: bool(recorder.finished), 30)

        async def filed() -> Resource | None:
            async with app[DB].session() as s:
                return (await s.execute(select(Resource).where(Resource.room_id == room_id))).scalar_one_or_none()

        res = await until(filed, 20)
        assert res.status == "draft"
        assert res.textbook_node_id == planned["node_id"]  # no human step: filed under 本节
        assert res.title.startswith("四年级英语 Unit ") and planned["section"] in res.title and "李老师" in res.title
        async with app[DB].session() as s:
            assert [kp.name for kp in (await knowledge_of(s, [res.id]))[res.id]] == planned["knowledge"]
            other = (await s.execute(select(TextbookNode).where(
                TextbookNode.parent_id == (await s.get(TextbookNode, planned["node_id"])).parent_id,
                TextbookNode.id != planned["node_id"]))).scalars().first()  # fmt: skip
        async with teacher.post(f"{server.url}/api/progress/rooms/{room_id}/correct", json={"node_id": other.id}) as r:
            assert r.status == 200 and (await r.json())["refiled"] == [res.id]
        refiled = await filed()
        assert refiled is not None and refiled.textbook_node_id == other.id and other.name in refiled.title
        await teacher.close()
    finally:
        for signal in signals:
            await signal.close()
        for bot in bots:
            await bot.close()
        await runner.cleanup()
