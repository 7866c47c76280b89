"""Rooms of every kind from the browser's API: co-teaching with invitees, broadcast with an audience or a
link, invitations, the personal iCal feed, and who may do what."""

from __future__ import annotations

import aiohttp
from icalendar import Calendar
from sqlalchemy import select

from core.directory import School, User
from rooms.records import RoomMember
from tests.conftest import PASSWORD, County, Server, login
from web.keys import DB
from web.passwords import hash_password


async def test_coteach_and_broadcast_rooms_invitations_and_calendar(server: Server, county: County) -> None:
    db = server.app[DB]
    async with db.session() as s:
        hub = (await s.execute(select(School).where(School.name == "城关一小"))).scalar_one()
        far = School(name="山区中学", kind="remote")
        s.add(far)
        await s.flush()
        pw = hash_password(PASSWORD)
        s.add_all([User(username="liu", display_name="刘老师", password_hash=pw, role="teacher", school_id=far.id),
                   User(username="sun", display_name="孙老师", password_hash=pw, role="teacher", school_id=far.id)])
        await s.commit()
        hub_id, far_id = hub.id, far.id
    wang, liu, chen = [await login(server, u) for u in ("wang", "liu", "chen")]
    try:
        async with wang.get(f"{server.url}/api/people/teachers?q=刘") as r:
            found = (await r.json())["teachers"]
        assert [t["display_name"] for t in found] == ["刘老师"] and found[0]["school"] == "山区中学"
        async with chen.get(f"{server.url}/api/people/teachers") as r:
            assert r.status == 403  # observers do not plan rooms

        plan = {"kind": "coteach", "title": "四年级英语集体备课", "purpose": "prep",
                "scheduled_start": "2026-12-10T06:00:00Z",
                "invite_user_ids": [county.user_ids["zhao"]], "invite_school_ids": [far_id]}
        async with chen.post(f"{server.url}/api/rooms/plan", json=plan) as r:
            assert r.status == 403
        async with wang.post(f"{server.url}/api/rooms/plan", json=dict(plan, purpose="party")) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "purpose"
        async with wang.post(f"{server.url}/api/rooms/plan", json=dict(plan, invite_user_ids=[], invite_school_ids=[])) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "invite_user_ids"
        async with wang.post(f"{server.url}/api/rooms/plan", json=dict(plan, kind="delivery")) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "kind"
        async with wang.post(f"{server.url}/api/rooms/plan", json=plan) as r:
            assert r.status == 201, await r.text()
            made = await r.json()
        assert made["invited"] == 3 and made["room"]["host_user_id"] == county.user_ids["wang"]
        assert made["room"]["scheduled_end"].startswith("2026-12-10T06:45")  # 45 minutes by default
        room_id = made["room"]["id"]
        async with db.session() as s:
            members = (await s.execute(select(RoomMember).where(RoomMember.room_id == room_id))).scalars().all()
        assert sorted(m.role for m in members) == ["coteacher"] * 3 + ["hub_teacher"]

        async with liu.get(f"{server.url}/api/me/invitations") as r:
            inv = (await r.json())["invitations"]
        assert [(i["room_id"], i["purpose_label"], i["host"]) for i in inv] == [(room_id, "集体备课", "王老师")]
        async with liu.post(f"{server.url}/api/rooms/{room_id}/token") as r:
            assert (await r.json())["role"] == "coteacher"  # the invitation lets her in as a co-teacher

        async with liu.get(f"{server.url}/api/me/calendar") as r:
            ics_url = (await r.json())["ics_url"]
        async with aiohttp.ClientSession() as anon:  # a calendar app: no cookie, the key in the link
            async with anon.get(ics_url) as r:
                assert r.status == 200 and r.content_type == "text/calendar"
                cal = Calendar.from_ical(await r.read())
            async with anon.get(ics_url.replace("key=", "key=x")) as r:
                assert r.status == 403
        events = [e for e in cal.walk("VEVENT")]
        assert len(events) == 1 and "集体备课" in str(events[0]["summary"]) and room_id in str(events[0]["url"])

        # 名校网络课堂: grade-4 classrooms of the hub school, and anyone with the link
        cast = {"kind": "broadcast", "title": "城关一小 四年级公开课", "audience_school_ids": [hub_id],
                "audience_grades": [4], "public": True}
        async with wang.post(f"{server.url}/api/rooms/plan", json=dict(cast, audience_school_ids=[], audience_grades=[], public=False)) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "audience_school_ids"
        async with wang.post(f"{server.url}/api/rooms/plan", json=dict(cast, audience_school_ids=[], audience_grades=[4])) as r:
            assert (await r.json())["invited"] == 3  # the three grade-4 remote classrooms
        async with wang.post(f"{server.url}/api/rooms/plan", json=cast) as r:
            cast_made = await r.json()
        key = cast_made["watch_url"].split("key=")[1]
        cast_id = cast_made["room"]["id"]
        async with aiohttp.ClientSession() as anon:
            async with anon.post(f"{server.url}/api/rooms/{cast_id}/guest-token", json={"key": "wrong-key-123"}) as r:
                assert r.status == 404 and (await r.json())["error"]["field"] == "key"
            async with anon.post(f"{server.url}/api/rooms/{cast_id}/guest-token", json={"key": key}) as r:
                guest = await r.json()
        assert guest["role"] == "viewer" and not guest["grants"]["can_publish"]
        async with aiohttp.ClientSession() as anon:
            async with anon.post(f"{server.url}/api/rooms/{room_id}/guest-token", json={"key": key}) as r:
                assert r.status == 404  # a co-teaching room has no watch link
    finally:
        for http in (wang, liu, chen):
            await http.close()
