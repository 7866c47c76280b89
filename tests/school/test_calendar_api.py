"""Today's invitations and the personal iCal feed: a co-teaching invitation on the invitee's today list (not
the host's), a broadcast on its audience classroom's today list by join code, each with a working iCal link;
the feed holds the person's published timetable lessons as weekly series with holidays excluded, plus the
rooms planned by hand, and never a timetabled room twice."""

from __future__ import annotations

import copy
import datetime as dt

import aiohttp
import pytest
from icalendar import Calendar

from core.db import utcnow
from rooms.planning import CHINA
from scheduler.county import County as CountyData
from tests.conftest import County, Server, login, start_server
from tests.progress import conftest as progress_conftest


def _local_day(at: dt.datetime) -> str:
    return at.astimezone(CHINA).date().isoformat()


async def test_today_invitations_for_teachers_and_classrooms(server: Server, county: County) -> None:
    start = (utcnow() + dt.timedelta(hours=1)).replace(microsecond=0)
    day = _local_day(start)
    wang, zhao, chen = [await login(server, u) for u in ("wang", "zhao", "chen")]
    try:
        plan = {"kind": "coteach", "title": "四年级英语听评课", "purpose": "observe",
                "scheduled_start": start.isoformat(), "invite_user_ids": [county.user_ids["zhao"]]}
        async with wang.post(f"{server.url}/api/rooms/plan", json=plan) as r:
            assert r.status == 201, await r.text()
            today_room = (await r.json())["room"]["id"]
        later = dict(plan, title="下周集体备课", purpose="prep",
                     scheduled_start=(start + dt.timedelta(days=7)).isoformat())
        async with wang.post(f"{server.url}/api/rooms/plan", json=later) as r:
            later_room = (await r.json())["room"]["id"]
        cast = {"kind": "broadcast", "title": "城关一小 四年级公开课", "audience_grades": [4],
                "scheduled_start": start.isoformat()}
        async with wang.post(f"{server.url}/api/rooms/plan", json=cast) as r:
            cast_room = (await r.json())["room"]["id"]

        async with zhao.get(f"{server.url}/api/invitations/today?date={day}") as r:
            data = await r.json()
        assert [i["room_id"] for i in data["invitations"]] == [today_room]  # next week's waits for its day
        assert data["invitations"][0]["purpose_label"] == "听评课" and data["invitations"][0]["host"] == "王老师"
        assert "/api/calendar/" in data["ics_url"]
        async with zhao.get(f"{server.url}/api/me/invitations") as r:  # the home still lists both
            assert {i["room_id"] for i in (await r.json())["invitations"]} == {today_room, later_room}
        async with wang.get(f"{server.url}/api/invitations/today?date={day}") as r:
            assert (await r.json())["invitations"] == []  # the host is not invited to her own room
        async with zhao.get(f"{server.url}/api/invitations/today?date=12-2026") as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "date"

        async with aiohttp.ClientSession() as pc:  # a classroom PC: no login, its join code
            async with pc.get(f"{server.url}/api/invitations/today",
                              params={"code": county.codes["c1"], "date": day}) as r:
                found = (await r.json())["invitations"]
            assert [(i["room_id"], i["kind"]) for i in found] == [(cast_room, "broadcast")]
            async with pc.get(f"{server.url}/api/invitations/today", params={"code": "NOPE0000"}) as r:
                assert r.status == 404 and (await r.json())["error"]["field"] == "code"
            async with pc.get(f"{server.url}/api/invitations/today") as r:
                assert r.status == 401  # neither a login nor a code
            async with pc.get(found[0]["ics_url"]) as r:
                assert r.status == 200 and r.content_type == "text/calendar"
                (event,) = Calendar.from_ical(await r.read()).walk("VEVENT")
            assert "名校网络课堂" in str(event["summary"]) and event.decoded("dtstart") == start
            async with pc.get(found[0]["ics_url"].replace("key=", "key=0")) as r:
                assert r.status == 403
        async with chen.get(f"{server.url}/api/invitations/today?date={day}") as r:
            assert (await r.json())["invitations"] == []
    finally:
        for http in (wang, zhao, chen):
            await http.close()


@pytest.fixture
async def timetable_county(tmp_path, monkeypatch):
    """The progress county (李老师: 四年级英语 every school day), with a holiday next Wednesday."""
    around = progress_conftest.county_around

    def with_holiday(today: dt.date) -> CountyData:
        county = around(today)
        data = copy.deepcopy(county.model_dump(mode="json"))
        wednesday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=9)
        data["term"]["holidays"] = [{"start": wednesday.isoformat(), "end": wednesday.isoformat(), "name": "校庆"}]
        data["term"]["makeup_days"] = []
        return CountyData.model_validate(data)

    monkeypatch.setattr(progress_conftest, "county_around", with_holiday)
    server, runner = await start_server(tmp_path)
    try:
        yield await progress_conftest.seed_progress_county(server), with_holiday(utcnow().astimezone(CHINA).date())
    finally:
        await runner.cleanup()


async def test_ical_feed_has_the_weekly_timetable_series_and_planned_rooms(timetable_county) -> None:
    pc, county = timetable_county
    holiday = dt.date.fromisoformat(county.model_dump(mode="json")["term"]["holidays"][0]["start"])
    teacher = await login(pc.server, "t-eng")
    try:
        async with teacher.post(f"{pc.server.url}/api/rooms/plan", json={
                "kind": "broadcast", "title": "英语公开课", "public": True,
                "scheduled_start": (utcnow() + dt.timedelta(days=2)).isoformat()}) as r:
            assert r.status == 201, await r.text()
            planned = (await r.json())["room"]["id"]
        async with teacher.get(f"{pc.server.url}/api/me/calendar") as r:
            ics_url = (await r.json())["ics_url"]
    finally:
        await teacher.close()
    async with aiohttp.ClientSession() as app:
        async with app.get(ics_url) as r:
            assert r.status == 200, await r.text()
            cal = Calendar.from_ical(await r.read())
    events = list(cal.walk("VEVENT"))
    series = [e for e in events if "RRULE" in e]
    assert len(series) == 5  # one weekly series per school day
    assert all(e["RRULE"]["FREQ"] == ["WEEKLY"] and e["RRULE"]["UNTIL"] for e in series)
    assert all(str(e["DTSTART"].params.get("TZID")) == "Asia/Shanghai" for e in series)
    wednesday = next(e for e in series if e.decoded("dtstart").isoweekday() == 3)
    excluded = {d.dt.date() for x in ([wednesday["EXDATE"]] if not isinstance(wednesday["EXDATE"], list)
                                      else wednesday["EXDATE"]) for d in x.dts}
    assert holiday in excluded
    assert str(wednesday["SUMMARY"]) == "英语 4年级 · 李英"  # the county file names the teacher 李英
    one_off = {str(e["UID"]) for e in events if "RRULE" not in e}
    assert f"{planned}@sanke" in one_off
    assert not any(f"{room}@sanke" in one_off for room in pc.rooms.values())  # the series already holds them
    assert cal.walk("VTIMEZONE")  # Asia/Shanghai travels with the feed
