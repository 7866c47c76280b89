"""名师课堂 评课 over HTTP: rubric editing by the coordinator, who may score, the aggregate and the summary."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import update

from core.db import utcnow
from core.directory import User
from rooms.records import RoomRecord
from rooms.roles import RoomKind
from tests.conftest import PASSWORD, Server, login, seed_county
from web.keys import DB
from web.passwords import hash_password


async def _call(http: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> tuple[int, dict]:
    async with http.request(method, url, json=body) as r:
        return r.status, await r.json()


async def test_rubric_scores_aggregate_and_summary(server: Server) -> None:
    db = server.app[DB]
    county = await seed_county(db, RoomKind.COTEACH)
    async with db.session() as s:
        s.add(User(username="liu", display_name="刘老师", password_hash=hash_password(PASSWORD), role="teacher"))
        s.add(User(username="parent", display_name="家长", password_hash=hash_password(PASSWORD), role="viewer"))
        await s.commit()
    room = f"{server.url}/api/rooms/{county.room_id}"
    coord, wang, zhao, chen, liu, parent = [await login(server, u) for u in ("coord", "wang", "zhao", "chen", "liu", "parent")]
    try:
        status, data = await _call(chen, "GET", f"{server.url}/api/rubrics")
        coteach = next(r for r in data["rubrics"] if r["kind"] == "coteach")
        assert status == 200 and coteach["default"] and sum(d["weight"] for d in coteach["dimensions"]) == 100

        rubric = {"name": "名师课堂评课表", "dimensions": [
            {"key": "goals", "name": "教学目标", "weight": 40}, {"key": "interaction", "name": "师生互动", "weight": 30},
            {"key": "effect", "name": "教学效果", "weight": 30}]}
        status, _ = await _call(wang, "PUT", f"{server.url}/api/rubrics/coteach", rubric)
        assert status == 403  # only the coordinator edits the county's rubric
        bad = {"dimensions": [dict(d, weight=20) for d in rubric["dimensions"]]}
        status, err = await _call(coord, "PUT", f"{server.url}/api/rubrics/coteach", bad)
        assert status == 400 and err["error"]["field"] == "dimensions"
        status, err = await _call(coord, "PUT", f"{server.url}/api/rubrics/nope", rubric)
        assert status == 400 and err["error"]["field"] == "kind"
        status, data = await _call(coord, "PUT", f"{server.url}/api/rubrics/coteach", rubric)
        assert status == 200 and [d["weight"] for d in data["rubric"]["dimensions"]] == [40, 30, 30]

        scores = {"goals": 5, "interaction": 4, "effect": 3}
        status, err = await _call(chen, "PUT", f"{room}/evaluation", {"scores": scores})
        assert status == 409 and err["error"]["code"] == "too_early"  # not before the lesson
        async with db.session() as s:
            await s.execute(update(RoomRecord).where(RoomRecord.id == county.room_id)
                            .values(state="ended", live_at=utcnow(), ended_at=utcnow()))
            await s.commit()

        status, _ = await _call(wang, "PUT", f"{room}/evaluation", {"scores": scores})
        assert status == 403  # the lead teacher does not score her own lesson
        status, _ = await _call(parent, "PUT", f"{room}/evaluation", {"scores": scores})
        assert status == 403
        status, err = await _call(chen, "PUT", f"{room}/evaluation", {"scores": {"goals": 5, "interaction": 4}})
        assert status == 400 and err["error"]["field"] == "scores.effect"
        status, err = await _call(chen, "PUT", f"{room}/evaluation", {"scores": dict(scores, effect=6)})
        assert status == 400 and err["error"]["field"] == "scores.effect"
        status, data = await _call(chen, "PUT", f"{room}/evaluation", {
            "scores": scores, "comment": "远端教室互动充分", "notes": {"effect": "练习时间偏少"},
            "moments": [{"t": 754.5, "note": "追问设计好"}, {"t": 120, "note": "导入自然"}]})
        assert status == 200 and data["evaluation"]["total"] == 40 + 24 + 18 and data["evaluation"]["role"] == "observer"
        status, data = await _call(zhao, "PUT", f"{room}/evaluation", {"scores": {"goals": 3, "interaction": 4, "effect": 5}})
        assert status == 200 and data["evaluation"]["role"] == "coteacher"

        # a later rubric edit does not change scores already given
        await _call(coord, "PUT", f"{server.url}/api/rubrics/coteach", {"dimensions": [{"key": "all", "name": "总体", "weight": 100}]})
        status, data = await _call(wang, "GET", f"{room}/evaluation")
        agg = data["aggregate"]
        assert status == 200 and data["can_see_aggregate"] and not data["can_evaluate"]
        assert agg["count"] == 2 and agg["total"] == round((82 + 78) / 2, 1)
        assert {d["key"]: d["mean"] for d in agg["dimensions"]} == {"goals": 4.0, "interaction": 4.0, "effect": 4.0}
        assert [m["t"] for m in agg["moments"]] == [120, 754.5] and agg["moments"][1]["evaluator"] == "陈督学"
        status, data = await _call(zhao, "GET", f"{room}/evaluation")
        assert data["mine"]["scores"]["goals"] == 3 and "aggregate" not in data and data["rubric"]["dimensions"][0]["key"] == "goals"

        status, data = await _call(chen, "GET", f"{room}/evaluation/summary")
        assert status == 200 and data["summary"]["count"] == 2 and data["summary"]["comments"]
        status, data = await _call(liu, "GET", f"{room}/evaluation/summary")  # a visiting teacher: scores only
        assert status == 200 and data["summary"]["total"] == 80.0 and "comments" not in data["summary"]
        status, _ = await _call(parent, "GET", f"{room}/evaluation/summary")
        assert status == 403
    finally:
        for http in (coord, wang, zhao, chen, liu, parent):
            await http.close()
