"""SIGTERM to `sanke serve` in the middle of a lesson and a timetable solve: the solve is cancelled (CP-SAT
stops), every participant is told 1012 (service restart), the lesson's recording is finalised and filed,
and the process has exited within 10 s."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
from sqlalchemy import select

from core.db import Database
from core.settings import Settings
from recorder.journal import read_status
from recorder.models import Resource
from rooms.records import PresenceRecord
from tests.conftest import WsClient, classroom_token, connect, login, user_token
from tests.reliability import procserver
from tests.scheduler.test_jobs import _big_county, _import, _solve


async def _closed_with(ws: WsClient, timeout: float) -> tuple[object, str]:
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                return msg.data, str(msg.extra)


async def test_sigterm_cancels_the_solve_tells_participants_and_files_the_recording(tmp_path: Path) -> None:
    data = tmp_path / "data"
    t0 = time.perf_counter()
    county = await procserver.seed(data)
    proc = await procserver.start(data)
    phases = {"start": time.perf_counter() - t0}
    teacher = classroom = None
    try:
        server = proc.server
        coord = await login(server, "coord")
        try:
            await _import(server, coord, _big_county())
            job = await _solve(server, coord, deterministic_time=60)
        finally:
            await coord.close()
        phases["import+solve"] = time.perf_counter() - t0 - sum(phases.values())
        teacher = await connect(server, await user_token(server, "wang", county.room_id))
        classroom = await connect(server, await classroom_token(server, county.codes["c1"]))
        await teacher.send({"type": "room.start", "id": "s"})
        await teacher.next("ok", id="s")
        recordings = data / "media" / "recordings"
        # the recorder follows the lesson once it is live
        # (its directory appears a moment before its journal says `recording`)
        await procserver.until(lambda: recordings.is_dir() and any(
            read_status(d) == "recording" for d in recordings.iterdir()), 10, "a recording under way")
        (directory,) = list(recordings.iterdir())
        await asyncio.sleep(1.0)  # CP-SAT is searching a part with a 60-unit budget

        began = time.perf_counter()
        proc.signal(signal.SIGTERM)
        codes = await asyncio.gather(_closed_with(teacher, 10), _closed_with(classroom, 10))
        returncode = await asyncio.to_thread(proc.wait, 15)
        took = time.perf_counter() - began
        log = proc.text()
        print(f"\nSIGTERM → exit in {took:.1f} s; closes {codes}; "
              + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))
        assert [c for c, _ in codes] == [1012, 1012], codes
        assert all("restart" in reason for _, reason in codes)
        assert took < 10, f"exit took {took:.1f} s"
        assert returncode == 0, log[-2000:]
        assert "cancelled 1 running solve(s)" in log, log[-2000:]
        assert f"solve job {job['id']} failed" not in log and "Traceback" not in log, log[-3000:]
        assert read_status(directory) == "finalised" and (directory / "index.json").is_file()
        db = Database(Settings(data_dir=data).db_url)
        try:
            async with db.session() as s:
                filed = list((await s.execute(select(Resource).where(Resource.room_id == county.room_id))).scalars())
                spans = list((await s.execute(select(PresenceRecord).where(
                    PresenceRecord.room_id == county.room_id))).scalars())
        finally:
            await db.close()
        assert [(r.recording_id, r.status) for r in filed] == [(directory.name, "draft")]
        assert spans and all(p.left_at is not None for p in spans)  # the lesson's spans end at the stop
    finally:
        for ws in (teacher, classroom):
            if ws is not None:
                await ws.close()
        proc.stop()
