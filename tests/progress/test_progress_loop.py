"""Building the term's teaching progress never stalls the event loop: for a county of 16 hub and 100 remote
schools (every lesson of a published timetable over a 20-week term), the coordinator's first look at the
plans makes every group's plan while a bystander pinging /api/health every 20 ms is answered within 100 ms
throughout; the push list of a classroom screen answers alike."""

from __future__ import annotations

import datetime as dt
import time

import aiohttp
import pytest

from core.db import utcnow
from core.directory import Classroom, User
from scheduler import store
from scheduler.calendar import TZ
from scheduler.county import County
from scheduler.synthetic import TIERS, generate
from tests.conftest import PASSWORD, login, start_server
from tests.reliability.test_upload_bombs import bystander
from web.keys import DB
from web.passwords import hash_password


@pytest.fixture
async def big_county(tmp_path):
    server, runner = await start_server(tmp_path)
    try:
        county, timetable = generate(TIERS["L"])
        assert timetable is not None
        today = utcnow().astimezone(TZ).date()
        monday = today - dt.timedelta(days=today.weekday())
        data = county.model_dump(mode="json")
        data["term"] = {"start": (monday - dt.timedelta(days=28)).isoformat(),
                        "end": (monday + dt.timedelta(days=112)).isoformat(),
                        "holidays": [{"start": (monday + dt.timedelta(days=21)).isoformat(),
                                      "end": (monday + dt.timedelta(days=23)).isoformat(), "name": "假期"}]}
        county = County.model_validate(data)
        async with server.app[DB].session() as s:
            s.add(User(username="coord", display_name="李主任", password_hash=hash_password(PASSWORD),
                       role="coordinator"))
            row = await store.save_county(s, county, "test")
            links = await store.sync_directory(s, county)
            tt = await store.save_timetable(s, row.id, timetable, len(timetable.lessons), 0.0, "test")
            await store.publish(s, tt)
            await s.commit()
            remote = next(c.id for c in county.classrooms if any(c.id in ls.classrooms for ls in timetable.lessons))
            code = (await s.get(Classroom, links[("classroom", remote)])).join_code
        groups = {(ls.teacher, ls.subject, ls.grade) for ls in timetable.lessons}
        yield server, len(groups), code
    finally:
        await runner.cleanup()


@pytest.mark.solo  # /api/health latency: alone, after the parallel part (Makefile)
async def test_plans_and_push_keep_health_answering(big_county) -> None:
    server, groups, code = big_county
    coord = await login(server, "coord")
    try:
        async with coord.get(f"{server.url}/api/library/knowledge") as r:  # the curriculum is in place first
            assert r.status == 200
        async with bystander(server.url) as latencies:
            began = time.perf_counter()
            async with coord.get(f"{server.url}/api/progress/plans") as r:
                assert r.status == 200, await r.text()
                plans = (await r.json())["plans"]
            took = time.perf_counter() - began
            async with aiohttp.ClientSession() as screen:
                async with screen.get(f"{server.url}/api/progress/push", params={"code": code}) as r:
                    assert r.status == 200, await r.text()
                    assert len((await r.json())["classrooms"]) == 1
    finally:
        await coord.close()
    assert len(plans) == groups > 50
    assert all(p["lessons_total"] > 0 for p in plans)
    worst = max(latencies)
    print(f"\n{groups} plans in {took * 1000:.0f} ms; bystander worst {worst * 1000:.0f} ms over {len(latencies)} pings")
    assert worst < 0.1, f"/api/health stalled {worst * 1000:.0f} ms while the plans were built"
