"""The living part of the demo, run by the server it belongs to (`sanke serve --demo`): lessons placed around
this start so that some are live, media bots that hold them (a process of their own, stopped with the server),
and the first start's two recordings filed in the library under a textbook section with knowledge points.

Placing lessons is scheduling, not seeding: on each start, if a bell period of the demo county is running now,
today's lessons in it are topped up to `demo_bots` by one-off moves (调课), as a coordinator would.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from core.db import Database, utcnow
from core.directory import User
from recorder.catalogue import GRADE_NAMES
from recorder.models import KnowledgePoint, Resource, TextbookNode
from recorder.resources import set_catalogue
from recorder.review import Actor, apply_review
from rooms.records import RoomRecord
from scheduler import store
from scheduler.calendar import TZ, occurrences
from scheduler.models import LessonMove
from web.demo.county import period_at
from web.demo.models import DemoMark
from web.demo.seed import read_plan, write_plan
from web.keys import BUS, DB, SETTINGS
from web.lesson_rooms import create_due_rooms

log = logging.getLogger("sanke.demo")
STARTED = time.perf_counter()
BOTS = web.AppKey("demo_bots", list)


async def place_live_lessons(db: Database, want: int, now: dt.datetime) -> list[str]:
    """Make sure `want` lessons of today run in the period running now; return their occurrence refs."""
    async with db.session() as s:
        plan = await store.published(s)
        if plan is None:
            return []
        county, tt, moves, row = plan.county, plan.timetable, plan.moves, plan.row
        today = now.astimezone(TZ).date()
        hub_bells = county.schools[0].bells.for_weekday(today.isoweekday())
        period = period_at(hub_bells, now)
        if period is None:
            return []
        running = [o for o in occurrences(county, tt, moves, since=today, until=today) if o.start <= now < o.end]
        busy = {o.lesson.teacher for o in running} | {c for o in running for c in o.lesson.classrooms}
        count = len(running)
        for lesson in sorted(tt.lessons, key=lambda ls: -len(ls.classrooms)):  # the fullest lessons show most
            if count >= want:
                break
            if lesson.teacher in busy or busy & set(lesson.classrooms):
                continue
            # the lesson's next regular date moves to today, in the period running now
            ahead = (lesson.weekday - today.isoweekday()) % 7 or 7
            move = LessonMove(timetable_id=row.id, lesson_key=lesson.key, date=today + dt.timedelta(days=ahead),
                              new_date=today, new_period=period)
            s.add(move)
            busy |= {lesson.teacher, *lesson.classrooms}
            count += 1
        await s.commit()
        moves = await store.moves_of(s, row.id)
        return [o.ref for o in occurrences(county, tt, moves, since=today, until=today) if o.start <= now < o.end][:want]


async def _rooms_of(db: Database, refs: list[str]) -> list[str]:
    async with db.session() as s:
        rows = await s.execute(select(RoomRecord.id).where(RoomRecord.timetable_ref.in_(refs or ["-"]),
                                                           RoomRecord.state != "ended"))
        return list(rows.scalars())


async def _bots(app: web.Application, args: list[str]) -> asyncio.subprocess.Process:
    settings = app[SETTINGS]
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "web.demo.bots", "--url", f"http://{host}:{settings.port}",
        "--data-dir", str(settings.data_dir), *args, stdout=asyncio.subprocess.DEVNULL,
    )
    app[BOTS].append(proc)
    return proc


async def file_recordings(app: web.Application, plan: dict) -> None:
    """Catalogue each recorded lesson under its textbook section with the chapter's knowledge points, publish it."""
    db = app[DB]
    for rec in plan["recordings"]:
        if rec.get("resource"):
            continue
        for _ in range(240):
            async with db.session() as s:
                r = (await s.execute(select(Resource).where(Resource.room_id == rec["room"]))).scalar_one_or_none()
            if r is not None:
                break
            await asyncio.sleep(0.5)
        else:
            log.warning("demo: the recording of %s was not filed", rec["room"])
            continue
        from web.api.library import ensure_curriculum  # the library's own first-use import of the curriculum

        await ensure_curriculum(app)
        ch = rec["chapter"]
        async with db.session() as s:
            prefix = f"小学/{GRADE_NAMES[ch['grade']]}/{ch['subject']}/"
            chapters = [n for n in (await s.execute(select(TextbookNode).where(
                TextbookNode.level == "chapter", TextbookNode.key.startswith(prefix)).order_by(TextbookNode.id))).scalars()
                if f"/{ch['volume']}/" in n.key]
            chapter = chapters[min(ch["chapter"], len(chapters) - 1)]
            sections = list((await s.execute(select(TextbookNode).where(TextbookNode.parent_id == chapter.id)
                                              .order_by(TextbookNode.position))).scalars())
            node = sections[min(ch["section"], len(sections) - 1)] if sections else chapter
            kps = list((await s.execute(select(KnowledgePoint.id).where(
                KnowledgePoint.identifier.in_(json.loads(chapter.knowledge or "[]"))))).scalars())
            resource = await s.get(Resource, r.id)
            assert resource is not None
            await set_catalogue(s, resource, textbook_node_id=node.id, knowledge_point_ids=kps,
                                title=f"{chapter.name} {node.name if node is not chapter else ''}".strip())
            users = {u.username: u for u in (await s.execute(select(User).where(
                User.username.in_([rec["teacher"], "coordinator"])))).scalars()}
            teacher, coord = users[rec["teacher"]], users["coordinator"]
            await apply_review(s, Actor(teacher.id, teacher.username, "teacher", teacher.school_id), resource, "submit")
            await apply_review(s, Actor(coord.id, coord.username, "coordinator"), resource, "approve")
            await apply_review(s, Actor(coord.id, coord.username, "coordinator"), resource, "publish", scope="county")
            s.add(DemoMark(kind="lib_resources", ref=str(resource.id)))
            await s.commit()
            rec["resource"], rec["recording_id"] = resource.id, resource.recording_id
        write_plan(app[SETTINGS].data_dir, plan)


async def wait_mp4(app: web.Application, plan: dict, timeout: float = 90.0) -> bool:
    from web.api.library import LIBRARY

    ids = [r["recording_id"] for r in plan["recordings"] if r.get("recording_id")]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rid in ids:
            with contextlib.suppress(Exception):
                if await app[LIBRARY].archive.size(rid, "lesson.mp4") is not None:
                    return True
        await asyncio.sleep(1)
    return False


async def run(app: web.Application, live_lessons: int) -> None:
    settings = app[SETTINGS]
    data_dir: Path = settings.data_dir
    plan = read_plan(data_dir)
    now = utcnow()
    refs = await place_live_lessons(app[DB], live_lessons, now) if live_lessons else []
    async with app[BUS].lock("lesson-rooms", timeout=30):  # the same lock as the timetable's own job
        await create_due_rooms(app[DB], now)
    live = await _rooms_of(app[DB], refs)
    pending = [r["room"] for r in plan.get("recordings", []) if not r.get("resource")]
    await asyncio.sleep(0.5)  # the site is listening once the startup hooks are done
    if live:
        await _bots(app, [a for room in live for a in ("--live", room)])
        log.info("demo: %d live lessons held by bots: %s", len(live), ", ".join(live))
    elif live_lessons:
        log.info("demo: no bell period of the demo county is running now; no lesson is live")
    if pending:
        recorder = await _bots(app, [a for room in pending for a in ("--record", room)])
        await recorder.wait()
        await file_recordings(app, plan)
        mp4 = await wait_mp4(app, plan)
        plan["ready_seconds"] = round(time.perf_counter() - STARTED, 1)
        write_plan(data_dir, plan)
        log.info("demo: recordings filed in the library%s; demo ready %.1f s after start",
                 " with the MP4" if mp4 else " (MP4 still being made)", plan["ready_seconds"])


def setup(app: web.Application, live_lessons: int) -> None:
    """Run the demo with the server; its bots stop with it."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        app[BOTS] = []
        async def guarded() -> None:
            try:
                await run(app, live_lessons)
            except asyncio.CancelledError:
                raise
            except Exception:  # the demo is a guest: the server keeps running without it
                log.exception("demo: the live part failed")

        task = asyncio.create_task(guarded(), name="demo")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        for proc in app[BOTS]:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except TimeoutError:
                    proc.kill()

    app.cleanup_ctx.append(ctx)
