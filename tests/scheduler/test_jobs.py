"""Solve jobs through the platform: cancel (stops CP-SAT), shutdown with a solve running, the JSON size
limit, and a re-plan across imports that starts from the published timetable and reports what moved."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from core.directory import User
from scheduler.importer import MAX_JSON_BYTES
from scheduler.synthetic import TIERS, generate
from tests.conftest import PASSWORD, Server, login, start_server
from web.api.scheduler import JOBS
from web.keys import DB
from web.passwords import hash_password


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Server, object]]:
    srv, runner = await start_server(tmp_path)
    async with srv.app[DB].session() as s:
        s.add(User(username="coord", display_name="李主任", password_hash=hash_password(PASSWORD), role="coordinator"))
        await s.commit()
    try:
        yield srv, runner
    finally:
        await runner.cleanup()


async def _import(server: Server, http: aiohttp.ClientSession, county: dict) -> None:
    async with http.post(f"{server.url}/api/scheduler/county", data=json.dumps(county, ensure_ascii=False),
                         headers={"Content-Type": "application/json"}) as r:
        assert r.status == 200, await r.text()


async def _solve(server: Server, http: aiohttp.ClientSession, **body: object) -> dict:
    async with http.post(f"{server.url}/api/scheduler/solve", json=body) as r:
        assert r.status == 202, await r.text()
        return await r.json()


async def _wait(server: Server, http: aiohttp.ClientSession, job: dict) -> dict:
    async with asyncio.timeout(120):
        while job["state"] == "running":
            await asyncio.sleep(0.1)
            async with http.get(f"{server.url}/api/scheduler/solve/{job['id']}") as r:
                job = await r.json()
    return job


def _big_county() -> dict:
    county, _ = generate(TIERS["M"], seed=1)
    return county.model_dump(mode="json", exclude_defaults=True)


async def test_cancel_stops_cp_sat_and_says_so(running: tuple[Server, object]) -> None:
    server, _runner = running
    http = await login(server, "coord")
    try:
        await _import(server, http, _big_county())
        job = await _solve(server, http, deterministic_time=60)
        await asyncio.sleep(1.5)                     # CP-SAT is searching a part with a 60-unit budget
        began = time.perf_counter()
        async with http.delete(f"{server.url}/api/scheduler/solve/{job['id']}") as r:
            assert r.status == 200, await r.text()
            cancelled = await r.json()
        assert time.perf_counter() - began < 8
        assert cancelled["state"] == "cancelled" and "cancelled" in cancelled["error"]
        assert cancelled["timetable_id"] is None
        async with http.delete(f"{server.url}/api/scheduler/solve/{job['id']}") as r:
            assert r.status == 404                   # not running any more
    finally:
        await http.close()


async def test_shutdown_stops_a_running_solve(tmp_path: Path) -> None:
    server, runner = await start_server(tmp_path)
    async with server.app[DB].session() as s:
        s.add(User(username="coord", display_name="李主任", password_hash=hash_password(PASSWORD), role="coordinator"))
        await s.commit()
    http = await login(server, "coord")
    try:
        await _import(server, http, _big_county())
        job = await _solve(server, http, deterministic_time=60)
        await asyncio.sleep(1.5)
    finally:
        await http.close()
    jobs = server.app[JOBS]
    began = time.perf_counter()
    await runner.cleanup()
    assert time.perf_counter() - began < 10
    assert jobs.jobs[job["id"]].state == "cancelled"


async def test_json_over_the_limit_is_413_in_chinese_and_english(running: tuple[Server, object]) -> None:
    server, _runner = running
    http = await login(server, "coord")
    try:
        body = json.dumps({"name": "x" * (MAX_JSON_BYTES + 10)})
        async with http.post(f"{server.url}/api/scheduler/county", data=body,
                             headers={"Content-Type": "application/json"}) as r:
            assert r.status == 413
            error = (await r.json())["error"]
        assert error["code"] == "too_large"
        assert "1 MiB" in error["message"] and "CSV" in error["message"] and "XLSX" in error["message"]
        assert "请改用" in error["message"] and "upload the CSV templates" in error["message"]
    finally:
        await http.close()


async def test_replan_across_imports_starts_from_the_published_timetable(
    running: tuple[Server, object], small_dict: dict,
) -> None:
    server, _runner = running
    http = await login(server, "coord")
    try:
        await _import(server, http, small_dict)
        first = await _wait(server, http, await _solve(server, http))
        assert first["quality"] in ("proven optimal",) or first["quality"].startswith("within ")
        async with http.post(f"{server.url}/api/scheduler/timetable/publish") as r:
            assert r.status == 200
        async with http.get(f"{server.url}/api/scheduler/timetable") as r:
            published = await r.json()
        # a new import: 王乐 (music) can no longer teach on the day of her first lesson
        music = next(ls for ls in published["lessons"] if ls["teacher"] == "t-mus")
        day = ("mon", "tue", "wed", "thu", "fri")[music["weekday"] - 1]
        small_dict["teachers"][1]["unavailable"] = [{"weekday": day}]
        forced = sum(len(ls["classrooms"]) for ls in published["lessons"]
                     if ls["teacher"] == "t-mus" and ls["weekday"] == music["weekday"])
        await _import(server, http, small_dict)
        job = await _wait(server, http, await _solve(server, http, replan=True))
        assert job["state"] == "done" and job["replanned_from"] == published["id"]
        moves = job["moves"]
        assert moves["forced"] - moves["displaced"] == forced and forced <= moves["moved"] <= 2 * moves["forced"]
        assert moves["by_teacher"].get("t-mus", 0) >= forced
        assert sum(moves["by_classroom"].values()) == moves["moved"]
        async with http.get(f"{server.url}/api/scheduler/timetable") as r:
            after = await r.json()
        assert after["violations"] == [] and after["placed"] == published["placed"]
        assert not any(ls["teacher"] == "t-mus" and ls["weekday"] == music["weekday"] for ls in after["lessons"])
    finally:
        await http.close()
