"""A classroom PC's device check is stored on the server by its join code and shown on the device board
beside the live state: bad figures and wrong codes get a coded answer, a newer check replaces the older,
and only coordinators and supervisors read the board."""

from __future__ import annotations

import aiohttp

from tests.conftest import County, Server, login

GOOD = {"rtt_ms": 42.5, "loss": 0.0, "uplink_kbps": 4200, "camera_ok": True, "mic_ok": True}


async def test_device_check_is_stored_and_shown_on_the_board(server: Server, county: County) -> None:
    url = f"{server.url}/api/devices/check"
    c1, c2 = county.classroom_ids["c1"], county.classroom_ids["c2"]
    async with aiohttp.ClientSession() as pc:  # the classroom PC: no login
        async with pc.post(url, json=dict(GOOD, code=county.codes["c1"].lower())) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["quality"] == "good" and (await r.json())["classroom_id"] == c1
        weak = {"rtt_ms": 520, "loss": 0.12, "uplink_kbps": 380, "camera_ok": True, "mic_ok": False}
        async with pc.post(url, json=dict(weak, code=county.codes["c2"])) as r:
            assert (await r.json())["quality"] == "poor"
        async with pc.post(url, json=dict(GOOD, code="ZZZZ9999")) as r:
            assert r.status == 404 and (await r.json())["error"]["field"] == "code"
        async with pc.post(url, json=dict(GOOD, code=county.codes["c1"], loss=2)) as r:
            assert r.status == 400 and (await r.json())["error"]["field"] == "loss"
        async with pc.post(url, json={"code": county.codes["c1"], "rtt_ms": "fast"}) as r:
            assert r.status == 400
        async with pc.post(url, data="x" * 100, headers={"Content-Type": "text/plain"}) as r:
            assert r.status == 415  # never a cross-site form

    coord, wang, chen = [await login(server, u) for u in ("coord", "wang", "chen")]
    try:
        async with chen.get(f"{server.url}/api/devices") as r:
            rows = {d["classroom_id"]: d for d in (await r.json())["devices"]}
        assert rows[c1]["check"]["quality"] == "good" and rows[c1]["check"]["rtt_ms"] == 42.5
        assert rows[c2]["check"] == {**rows[c2]["check"], "quality": "poor", "loss": 0.12, "uplink_kbps": 380,
                                     "camera_ok": True, "mic_ok": False}
        assert rows[county.classroom_ids["c3"]]["check"] is None  # never checked
        assert rows[c1]["state"] == "offline" and rows[c1]["quality"] == ""  # the live figures stay apart
        async with wang.get(f"{server.url}/api/devices") as r:
            assert r.status == 403  # a teacher does not read the county's board
    finally:
        for http in (coord, wang, chen):
            await http.close()
    async with aiohttp.ClientSession() as pc:  # the village fixed its link: the newer check replaces the old
        async with pc.post(url, json=dict(GOOD, code=county.codes["c2"])) as r:
            assert r.status == 200
    coord = await login(server, "coord")
    try:
        async with coord.get(f"{server.url}/api/devices") as r:
            rows = {d["classroom_id"]: d for d in (await r.json())["devices"]}
        assert rows[c2]["check"]["quality"] == "good" and rows[c2]["check"]["mic_ok"] is True
    finally:
        await coord.close()
