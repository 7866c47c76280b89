"""County administration over HTTP: join card QR, classroom edits by school, one-time password resets, the
device board with 缺课预警 and its reasons in supervision — each with its role checks."""

from __future__ import annotations

import datetime as dt

import aiohttp
from sqlalchemy import select, update

from core.db import utcnow
from core.directory import Classroom, User
from rooms.records import RoomRecord
from tests.conftest import PASSWORD, County, Server, classroom_token, connect, login
from web.keys import DB


async def test_join_card_classroom_edit_and_password_reset(server: Server, county: County) -> None:
    coord, wang, chen = [await login(server, u) for u in ("coord", "wang", "chen")]
    c1 = county.classroom_ids["c1"]
    try:
        async with coord.get(f"{server.url}/api/classrooms/{c1}/qr.svg") as r:
            assert r.status == 200 and r.content_type == "image/svg+xml"
            assert (await r.text()).lstrip().startswith("<?xml") and "<path" in await r.text()
        async with coord.get(f"{server.url}/api/classrooms/{c1}/join-card") as r:
            card = await r.json()
        assert card["join_url"].endswith(f"/classroom?code={county.codes['c1']}&auto") and card["school"] == "村小1"
        async with wang.get(f"{server.url}/api/classrooms/{c1}/qr.svg") as r:
            assert r.status == 403  # join codes are for the coordinator

        # a teacher edits only her own school's classrooms (wang is at 城关一小, c1 is at 村小1)
        async with wang.patch(f"{server.url}/api/classrooms/{c1}", json={"students": 30}) as r:
            assert r.status == 403
        async with server.app[DB].session() as s:
            hub_id = (await s.execute(select(User.school_id).where(User.username == "wang"))).scalar_one()
            own = Classroom(school_id=hub_id, name="四年级(1)班", grade=4, join_code="HUBCODE2")
            s.add(own)
            await s.commit()
            own_id = own.id
        async with wang.patch(f"{server.url}/api/classrooms/{own_id}", json={"students": 45}) as r:
            assert r.status == 200 and (await r.json())["classroom"]["students"] == 45
        async with coord.patch(f"{server.url}/api/classrooms/{c1}", json={"students": 999}) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "students"

        # one-time password reset: the code works once
        zhao = county.user_ids["zhao"]
        async with wang.post(f"{server.url}/api/users/{zhao}/reset-code") as r:
            assert r.status == 403
        async with coord.post(f"{server.url}/api/users/{zhao}/reset-code") as r:
            reset = await r.json()
        assert reset["url"].endswith(f"/reset?code={reset['code']}")
        async with aiohttp.ClientSession() as anon:
            body = {"code": reset["code"].lower(), "password": "a-new-password-9"}
            async with anon.post(f"{server.url}/api/password-reset", json=body) as r:
                assert r.status == 200
            async with anon.post(f"{server.url}/api/password-reset", json=body) as r:
                assert r.status == 400 and (await r.json())["error"]["code"] == "bad_reset_code"
            async with anon.post(f"{server.url}/api/login", json={"username": "zhao", "password": "a-new-password-9"}) as r:
                assert r.status == 200
            async with anon.post(f"{server.url}/api/login", json={"username": "zhao", "password": PASSWORD}) as r:
                assert r.status == 401
    finally:
        for http in (coord, wang, chen):
            await http.close()


async def test_device_board_flags_a_missing_classroom_and_counts_the_reason(server: Server, county: County) -> None:
    async with server.app[DB].session() as s:
        await s.execute(update(RoomRecord).where(RoomRecord.id == county.room_id).values(
            scheduled_start=utcnow() - dt.timedelta(minutes=10), scheduled_end=utcnow() + dt.timedelta(minutes=30)))
        await s.commit()
    present = await connect(server, await classroom_token(server, county.codes["c1"]))
    coord, wang, chen = [await login(server, u) for u in ("coord", "wang", "chen")]
    try:
        async with chen.get(f"{server.url}/api/devices") as r:  # supervisors read the board too
            board = await r.json()
        rows = {d["classroom_id"]: d for d in board["devices"]}
        c1, c2 = county.classroom_ids["c1"], county.classroom_ids["c2"]
        assert rows[c1]["state"] == "online" and not rows[c1]["missing"] and rows[c1]["lesson"]["room_id"] == county.room_id
        assert rows[c2]["state"] == "offline" and rows[c2]["missing"] and rows[c2]["lesson"]["title"] == "英语 1+3"
        assert board["missing"] == 2 and board["online"] == 1
        async with wang.get(f"{server.url}/api/devices") as r:
            assert r.status == 403

        absence = {"room_id": county.room_id, "classroom_id": c2, "reason": "power", "note": "全村停电"}
        async with chen.put(f"{server.url}/api/absences", json=absence) as r:
            assert r.status == 403  # the coordinator gives the reason
        async with coord.put(f"{server.url}/api/absences", json=dict(absence, reason="aliens")) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "reason"
        async with coord.put(f"{server.url}/api/absences", json=absence) as r:
            assert r.status == 200
        async with coord.get(f"{server.url}/api/devices") as r:
            assert {d["classroom_id"]: d for d in (await r.json())["devices"]}[c2]["reason"] == "power"
        async with chen.get(f"{server.url}/api/supervision/absences") as r:
            report = await r.json()
        assert report["total"] == 1 and {x["reason"]: x["count"] for x in report["by_reason"]}["power"] == 1
        assert report["items"][0]["label"] == "停电" and report["items"][0]["classroom"] == "村小2 四年级"
    finally:
        await present.close()
        for http in (coord, wang, chen):
            await http.close()
