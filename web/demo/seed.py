"""Seeding the living demo county (once, on a fresh data dir): accounts, the county file imported, solved by the
real solver and published, supervision history for the past weeks, and two rooms to be recorded once the
server runs (web/demo/live.py). A second call changes nothing and only reports what is there.

Passwords are generated on seeding (none is in the repo) and kept in <data_dir>/demo-accounts.txt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import time
from pathlib import Path

from sqlalchemy import select

from core.db import Database, utcnow
from core.directory import Classroom, School, User
from rooms.roles import RoomKind
from rooms.store import RoomSpec, create_room
from scheduler import store
from scheduler.calendar import TZ, occurrences
from scheduler.importer import import_json
from scheduler.solver import SolveOptions, solve
from web.demo.county import demo_county
from web.demo.history import seed_history
from web.demo.models import DemoMark
from web.passwords import hash_password

ACCOUNTS = [("coordinator", "李主任（县教育局）", "coordinator"), ("observer", "陈督学", "observer")]
PLAN = "demo.json"
# Two lessons recorded through the real recorder when the server first runs: (teacher, grade, classrooms, chapter).
RECORDINGS = [
    ("wang.english", 4, ["r-bs-4", "r-qs-4"], {"grade": 4, "subject": "英语", "volume": "上册", "chapter": 1, "section": 0}),
    ("wang.english", 3, ["r-bs-3", "r-qs-3"], {"grade": 3, "subject": "英语", "volume": "上册", "chapter": 2, "section": 1}),
]


def plan_path(data_dir: Path) -> Path:
    return data_dir / PLAN


def read_plan(data_dir: Path) -> dict:
    path = plan_path(data_dir)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write_plan(data_dir: Path, plan: dict) -> None:
    tmp = plan_path(data_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(plan, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(plan_path(data_dir))


async def _accounts(s, county, links) -> list[str]:
    lines = []
    people = [(u, n, r, None) for u, n, r in ACCOUNTS]
    people += [(t.id, t.name, "teacher", links[("school", t.school)]) for t in county.teachers]
    subjects = {t.id: t.subject for t in county.teachers}
    for username, name, role, school_id in people:
        password = secrets.token_urlsafe(9)
        s.add(User(username=username, display_name=name, password_hash=hash_password(password), role=role,
                   school_id=school_id, subject=subjects.get(username, "")))
        lines.append(f"  {username:<14} {password:<14} {name}")
    await s.flush()
    return lines


async def seed_demo(db: Database, data_dir: Path, now: dt.datetime | None = None) -> dict:
    """Seed once; returns the plan (what was seeded, and the seconds it took)."""
    async with db.session() as s:
        if (await s.execute(select(User).where(User.username == "coordinator"))).scalar_one_or_none() is not None:
            return read_plan(data_dir)
    began = time.perf_counter()
    now = now or utcnow()
    result = import_json(json.dumps(demo_county(now), ensure_ascii=False), "web/demo/county.json")
    if not result.ok or result.county is None:
        raise RuntimeError(f"the demo county does not import: {[p.message for p in result.problems]}")
    county = result.county
    solved = await asyncio.to_thread(solve, county, SolveOptions())
    async with db.session() as s:
        version = await store.save_county(s, county, "demo")
        links = await store.sync_directory(s, county)
        lines = await _accounts(s, county, links)
        links = await store.sync_directory(s, county)  # now the teachers' accounts exist: link them
        demanded = sum(d.per_week for d in county.demand)
        row = await store.save_timetable(s, version.id, solved.timetable, demanded, solved.seconds, "demo")
        await store.publish(s, row)
        s.add(DemoMark(kind="county", ref=str(version.id)))
        today = now.astimezone(TZ).date()
        past = [o for o in occurrences(county, solved.timetable, [], until=today) if o.end <= now]
        held = await seed_history(s, county, past, links)
        recordings = []
        for teacher, grade, classrooms, chapter in RECORDINGS:
            room = await create_room(s, RoomSpec(
                kind=RoomKind.DELIVERY, title=f"英语 {grade}年级 1+{len(classrooms)} · 课堂录像", subject="english",
                grade=grade, host_user_id=links[("teacher", teacher)],
                remote_classroom_ids=[links[("classroom", c)] for c in classrooms],
                scheduled_start=now, scheduled_end=now + dt.timedelta(minutes=40),
            ))
            s.add(DemoMark(kind="rooms", ref=room.id))
            recordings.append({"room": room.id, "teacher": teacher, "chapter": chapter, "resource": None})
        await s.commit()
    (data_dir / "demo-accounts.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (data_dir / "demo-accounts.txt").chmod(0o600)
    plan = {
        "seeded_at": now.isoformat(), "timetable_id": row.id, "lessons": len(solved.timetable.lessons),
        "placed": solved.timetable.placed_count(), "demanded": demanded, "history_held": held,
        "history_planned": len(past), "recordings": recordings, "seed_seconds": round(time.perf_counter() - began, 2),
    }
    write_plan(data_dir, plan)
    return plan


async def report(db: Database, data_dir: Path, base_url: str) -> str:
    """The accounts, join codes and one line per page to open, as `sanke serve --demo` prints them."""
    accounts = (data_dir / "demo-accounts.txt").read_text(encoding="utf-8").rstrip()
    async with db.session() as s:
        codes = (await s.execute(
            select(School.name, Classroom.name, Classroom.join_code)
            .join(Classroom, Classroom.school_id == School.id).order_by(Classroom.id)
        )).all()
    plan = read_plan(data_dir)
    first_code = codes[2][2] if len(codes) > 2 else (codes[0][2] if codes else "CODE")
    out = ["Sanke demo county (示范县)", "", "Accounts (username, password, name):", accounts, "",
           "Classroom join codes:"]
    out += [f"  {code}  {school} {name}" for school, name, code in codes]
    out += ["", f"Timetable: {plan.get('lessons', '?')} weekly delivery lessons, "
                f"{plan.get('placed', '?')}/{plan.get('demanded', '?')} placed, published; "
                f"history: {plan.get('history_held', '?')} of {plan.get('history_planned', '?')} past lessons held "
                f"(demo data); seeded in {plan.get('seed_seconds', '?')} s", "",
            "Pages to open:"]
    pages = [
        ("/login", "log in with an account above"),
        ("/home", "each person's home: the coordinator's areas, a teacher's day"),
        ("/today", "wang.english: today's lessons, 开始上课 on the live one"),
        ("/coordinator", "coordinator or observer: live lessons and the patrol wall (巡课)"),
        ("/timetable", "coordinator: import, solve, move, publish; this week's grid"),
        ("/library", "everyone: recorded lessons by chapter and knowledge point"),
        ("/supervision", "coordinator or observer: planned vs held (开课比), demo history"),
        ("/admin", "coordinator: schools, classrooms and join codes, accounts"),
        (f"/classroom?code={first_code}", "a classroom PC joins by its code"),
        ("/devicecheck", "anyone: camera, microphone and network before class"),
    ]
    out += [f"  {base_url}{path:<28} {what}" for path, what in pages]
    return "\n".join(out)
