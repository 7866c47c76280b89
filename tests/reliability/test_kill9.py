"""kill -9 mid-lesson, then a restart on the same data dir: the presence spans the dead process left open
end at its last beat (the crash, give or take one beat), not at the restart; and the lesson, ended after
the restart, is filed once — the restart's empty second recording does not become a second draft."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from core.db import Database
from core.settings import Settings
from recorder.journal import read_status
from recorder.models import Resource
from rooms.presence_beat import BEAT
from rooms.records import PresenceRecord
from tests.conftest import classroom_token, connect, user_token
from tests.reliability import procserver


async def _rows(data: Path, room_id: str) -> tuple[list[PresenceRecord], list[Resource]]:
    db = Database(Settings(data_dir=data).db_url)
    try:
        async with db.session() as s:
            spans = list((await s.execute(select(PresenceRecord).where(PresenceRecord.room_id == room_id)
                                          .order_by(PresenceRecord.id))).scalars())
            filed = list((await s.execute(select(Resource).where(Resource.room_id == room_id))).scalars())
        return spans, filed
    finally:
        await db.close()


async def test_kill9_closes_spans_at_the_last_beat_and_files_the_lesson_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    county = await procserver.seed(data)
    proc = await procserver.start(data, name="first")
    try:
        teacher = await connect(proc.server, await user_token(proc.server, "wang", county.room_id))
        classroom = await connect(proc.server, await classroom_token(proc.server, county.codes["c1"]))
        await teacher.send({"type": "room.start", "id": "s"})
        await teacher.next("ok", id="s")
        for i in range(int(BEAT * 2 / 0.5)):  # a lesson going on: pings, and at least one beat
            await classroom.send({"type": "ping", "id": f"p{i}"})
            await classroom.next("pong", id=f"p{i}")
            await asyncio.sleep(0.5)
        killed = time.time()
        proc.signal(signal.SIGKILL)
        assert await asyncio.to_thread(proc.wait, 10) == -signal.SIGKILL
        assert not await proc.leftovers(20)  # its SFU workers and upload helpers end with it (the upload helpers used not to)
        await teacher.close()
        await classroom.close()
    finally:
        proc.stop()
    spans, _ = await _rows(data, county.room_id)
    assert spans and all(p.left_at is None for p in spans)  # what a crash leaves
    await asyncio.sleep(2.0)

    restarted = time.time()
    proc = await procserver.start(data, name="second")
    try:
        spans, _ = await _rows(data, county.room_id)
        ends = {p.identity: p.left_at for p in spans}
        print(f"\nkilled at {datetime.fromtimestamp(killed, UTC):%H:%M:%S.%f}, restarted "
              f"{restarted - killed:.1f} s later; spans end {[(k, f'{v:%H:%M:%S.%f}') for k, v in ends.items() if v]}")
        for identity, end in ends.items():
            assert end is not None, identity
            if identity in (classroom.participant_id, teacher.participant_id):
                gap = killed - end.timestamp()
                assert -0.5 <= gap <= BEAT + 1.5, (identity, gap)  # at the last beat before the kill …
                assert end.timestamp() < restarted - 1.5, identity  # … not at the restart

        # the teacher comes back and ends the lesson: the restart's recording is empty (nobody published)
        back = await connect(proc.server, await user_token(proc.server, "wang", county.room_id))
        try:
            await back.send({"type": "room.end", "id": "e"})
            await back.next("room.ended", timeout=10)
        finally:
            await back.close()
        recordings = data / "media" / "recordings"
        await procserver.until(lambda: len(list(recordings.iterdir())) == 2 and all(
            read_status(d) == "finalised" for d in recordings.iterdir()), 15, "both recordings finalised")
        await asyncio.sleep(1.0)  # filing follows finalising
        _, filed = await _rows(data, county.room_id)
        assert len(filed) == 1, [(r.recording_id, r.duration) for r in filed]
    finally:
        proc.stop()
