"""The background job that turns the published timetable into delivery rooms ahead of each lesson.

Every half minute it creates the room of every occurrence starting within the lead time (default 15 min)
that has none yet, with the hub teacher as host and the remote classrooms as expected members. The room
carries the occurrence's reference (`timetable_ref`), so a restart never creates a room twice, and with
several nodes a bus lock lets one node at a time do it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select

from core.db import Database, utcnow
from rooms.records import RoomRecord
from rooms.roles import RoomKind
from rooms.store import RoomSpec, create_room
from scheduler import store
from scheduler.calendar import TZ, occurrences
from scheduler.county import subject_label
from web.keys import BUS, DB

log = logging.getLogger(__name__)
LEAD = dt.timedelta(minutes=15)
INTERVAL = 30.0
JOB = web.AppKey("lesson_rooms_job", asyncio.Task)


async def create_due_rooms(db: Database, now: dt.datetime, lead: dt.timedelta = LEAD) -> list[str]:
    """Create the rooms of lessons starting within `lead` of `now` (or running now); return their refs."""
    async with db.session() as s:
        plan = await store.published(s)
        if plan is None:
            return []
        county, timetable, moves = plan.county, plan.timetable, plan.moves
        local = now.astimezone(TZ).date()
        due = [
            o for o in occurrences(county, timetable, moves, since=local, until=(now + lead).astimezone(TZ).date())
            if o.start - lead <= now < o.end
        ]
        if not due:
            return []
        existing = set((await s.execute(
            select(RoomRecord.timetable_ref).where(RoomRecord.timetable_ref.in_([o.ref for o in due]))
        )).scalars())
        links = await store.links(s)
        teachers = {t.id: t for t in county.teachers}
        created = []
        for o in due:
            if o.ref in existing:
                continue
            lesson = o.lesson
            teacher = teachers.get(lesson.teacher)
            grades = "、".join(str(g) for g in lesson.all_grades)
            title = f"{subject_label(lesson.subject)} {grades}年级 1+{len(lesson.classrooms)}"
            if teacher is not None:
                title += f" · {teacher.name}"
            await create_room(s, RoomSpec(
                kind=RoomKind.DELIVERY, title=title, subject=lesson.subject, grade=lesson.grade,
                host_user_id=links.get(("teacher", lesson.teacher)),
                hub_classroom_ids=[links[("classroom", teacher.classroom)]] if teacher is not None
                and teacher.classroom is not None and ("classroom", teacher.classroom) in links else [],
                remote_classroom_ids=[links[("classroom", c)] for c in lesson.classrooms if ("classroom", c) in links],
                scheduled_start=o.start.astimezone(dt.UTC), scheduled_end=o.end.astimezone(dt.UTC),
                timetable_ref=o.ref,
            ))
            created.append(o.ref)
        await s.commit()
        return created


async def _loop(app: web.Application) -> None:
    while True:
        try:
            # with several nodes every node runs this job; the lock makes one create, the others then find the rooms
            async with app[BUS].lock("lesson-rooms", timeout=INTERVAL):
                created = await create_due_rooms(app[DB], utcnow())
            if created:
                log.info("created %d lesson rooms from the timetable", len(created))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("creating lesson rooms failed; retrying")
        await asyncio.sleep(INTERVAL)


def setup(app: web.Application) -> None:
    """Start the job once the database is up; stop it before the database closes (one cleanup context,
    appended after the application's lifecycle)."""

    async def job(app: web.Application) -> AsyncIterator[None]:
        task = app[JOB] = asyncio.create_task(_loop(app), name="lesson-rooms")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(job)
