"""Seeding twice on the same data dir changes nothing: the second call only reports what is there."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

from core.db import Database
from core.directory import Classroom, User
from rooms.records import PresenceRecord, RoomRecord
from scheduler.models import LessonMove
from web.demo.models import DemoMark
from web.demo.seed import read_plan, seed_demo

TABLES = (User, Classroom, RoomRecord, PresenceRecord, DemoMark, LessonMove)


async def _counts(db: Database) -> dict[str, int]:
    async with db.session() as s:
        return {t.__tablename__: (await s.execute(select(func.count()).select_from(t))).scalar_one() for t in TABLES}


def test_a_second_seed_changes_nothing(tmp_path: Path) -> None:
    async def run() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'sanke.db'}")
        try:
            await db.migrate()
            plan = await seed_demo(db, tmp_path)
            assert plan["placed"] == plan["demanded"] > 0
            assert plan["history_held"] > 0 and len(plan["recordings"]) == 2
            assert plan["seed_seconds"] <= 60
            first = await _counts(db)
            accounts = (tmp_path / "demo-accounts.txt").read_text(encoding="utf-8")
            assert first["demo_marks"] >= plan["history_held"]
            again = await seed_demo(db, tmp_path)
            assert again == read_plan(tmp_path) == plan
            assert await _counts(db) == first
            assert (tmp_path / "demo-accounts.txt").read_text(encoding="utf-8") == accounts
        finally:
            await db.close()

    # Own thread, own loop: the package's Playwright (sync API) keeps a loop running on this thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
