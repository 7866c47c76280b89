"""The HTTP API as a coordinator, a teacher and a classroom PC use it."""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import PASSWORD, County, Server, login

pytestmark = pytest.mark.parametrize("server", ["inprocess"], indirect=True)


async def test_login_failures_are_audited_and_limited(server: Server, county: County) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(5):
            async with http.post(f"{server.url}/api/login", json={"username": "wang", "password": "nope"}) as r:
                assert r.status == 401
                assert (await r.json())["error"] == {
                    "code": "bad_credentials", "message": "wrong username or password", "field": "password"}
        async with http.post(f"{server.url}/api/login", json={"username": "wang", "password": PASSWORD}) as r:
            assert r.status == 429  # even the right password waits out the window
        async with http.post(f"{server.url}/api/login", data=b"{oops", headers={"Content-Type": "application/json"}) as r:
            assert r.status == 400 and (await r.json())["error"]["code"] == "bad_json"
        async with http.get(f"{server.url}/api/me") as r:
            assert r.status == 401
    coord = await login(server, "coord")
    async with coord.get(f"{server.url}/api/audit?action=login.failed") as r:
        entries = (await r.json())["entries"]
    # in aggregate: one row per address and minute (two if the attempts straddle a minute), with the count
    assert 1 <= len(entries) <= 2 and all(e["actor"] == "127.0.0.1" for e in entries)
    assert sum(e["detail"]["count"] for e in entries) >= 5 and all(e["detail"]["usernames"] == ["wang"] for e in entries)
    await coord.close()


async def test_directory_by_role(server: Server, county: County) -> None:
    coord = await login(server, "coord")
    teacher = await login(server, "wang")
    try:
        async with teacher.post(f"{server.url}/api/schools", json={"name": "新学校", "kind": "remote"}) as r:
            assert r.status == 403 and (await r.json())["error"]["code"] == "forbidden"
        async with coord.post(f"{server.url}/api/schools", json={"name": "新学校", "kind": "moon"}) as r:
            err = (await r.json())["error"]
            assert r.status == 400 and err["field"] == "kind"
        async with coord.post(f"{server.url}/api/schools", json={"name": "新学校", "kind": "remote"}) as r:
            assert r.status == 201
            school_id = (await r.json())["school"]["id"]
        async with coord.post(f"{server.url}/api/classrooms",
                              json={"school_id": school_id, "name": "三年级", "grade": 3}) as r:
            assert r.status == 201
            room = (await r.json())["classroom"]
            assert len(room["join_code"]) == 8
        async with teacher.get(f"{server.url}/api/classrooms") as r:
            assert all("join_code" not in c for c in (await r.json())["classrooms"])
        async with coord.post(f"{server.url}/api/users", json={
            "username": "liu", "display_name": "刘老师", "password": "short", "role": "teacher"}) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "password"
        async with coord.post(f"{server.url}/api/users", json={
            "username": "liu", "display_name": "刘老师", "password": "long-enough-1", "role": "teacher"}) as r:
            uid = (await r.json())["user"]["id"]
        async with coord.patch(f"{server.url}/api/users/{uid}", json={"role": "observer"}) as r:
            assert (await r.json())["user"]["role"] == "observer"
        async with coord.get(f"{server.url}/api/audit?action=user.role_change") as r:
            entry = (await r.json())["entries"][0]
            assert entry["target"] == "liu" and entry["detail"] == {"old": "teacher", "new": "observer"}
    finally:
        await coord.close()
        await teacher.close()


async def test_join_code_rotation(server: Server, county: County) -> None:
    coord = await login(server, "coord")
    old = county.codes["c1"]
    async with aiohttp.ClientSession() as pc:
        async with pc.post(f"{server.url}/api/classroom/join", json={"code": old.lower()}) as r:
            body = await r.json()
            assert r.status == 200 and body["role"] == "classroom" and body["room"]["id"] == county.room_id
        async with coord.post(f"{server.url}/api/classrooms/{county.classroom_ids['c1']}/rotate-code") as r:
            new = (await r.json())["classroom"]["join_code"]
        assert new != old
        async with pc.post(f"{server.url}/api/classroom/join", json={"code": old}) as r:
            assert r.status == 404 and (await r.json())["error"]["code"] == "bad_code"
        async with pc.post(f"{server.url}/api/classroom/join", json={"code": new}) as r:
            assert r.status == 200
    await coord.close()


async def test_rooms_tokens_and_openapi(server: Server, county: County) -> None:
    teacher = await login(server, "wang")
    observer = await login(server, "chen")
    try:
        async with teacher.post(f"{server.url}/api/rooms", json={
            "kind": "coteach", "title": "集体备课", "remote_classroom_ids": [99999]}) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "remote_classroom_ids"
        async with teacher.post(f"{server.url}/api/rooms", json={"kind": "coteach", "title": "集体备课"}) as r:
            room = (await r.json())["room"]
            assert r.status == 201 and room["host_user_id"] == county.user_ids["wang"]
            assert room["record"] is False  # co-teaching records only on request
        async with teacher.post(f"{server.url}/api/rooms", json={"kind": "delivery", "title": "英语"}) as r:
            assert (await r.json())["room"]["record"] is True
        async with teacher.post(f"{server.url}/api/rooms/{room['id']}/token") as r:
            assert (await r.json())["role"] == "hub_teacher"
        async with observer.post(f"{server.url}/api/rooms/{room['id']}/token") as r:
            body = await r.json()
            assert body["role"] == "observer" and body["grants"]["hidden"] is True
        async with observer.post(f"{server.url}/api/rooms/{room['id']}/end") as r:
            assert r.status == 403
        async with teacher.patch(f"{server.url}/api/rooms/{room['id']}", json={"record": True}) as r:
            assert (await r.json())["room"]["record"] is True
        async with teacher.post(f"{server.url}/api/rooms/{room['id']}/end") as r:
            assert r.status == 200
        async with teacher.post(f"{server.url}/api/rooms/{room['id']}/token") as r:
            assert r.status == 409 and (await r.json())["error"]["code"] == "room_ended"
        async with teacher.get(f"{server.url}/api/openapi.json") as r:
            spec = await r.json()
        assert "/api/classroom/join" in spec["paths"] and "ClassroomJoinBody" in spec["components"]["schemas"]
        assert spec["paths"]["/api/rooms"]["post"]["requestBody"]
    finally:
        await teacher.close()
        await observer.close()


async def test_join_codes_cannot_be_guessed(server: Server, county: County) -> None:
    async with aiohttp.ClientSession() as pc:
        for i in range(10):
            async with pc.post(f"{server.url}/api/classroom/join", json={"code": f"WRONG{i:03d}"}) as r:
                assert r.status == 404
        async with pc.post(f"{server.url}/api/classroom/join", json={"code": county.codes["c1"]}) as r:
            assert r.status == 429 and (await r.json())["error"]["field"] == "code"
