"""Saving and loading county versions, timetables, moves and directory links (async SQLAlchemy).

Each save is one transaction of the caller; nothing is half-written. The directory sync creates the
county's schools and classrooms in the shared directory (so rooms and join codes can refer to them) and
links hub teachers to user accounts: the one whose username is the teacher's county id, else the only
teacher account of that school with the teacher's name.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.directory import Classroom, School, User
from scheduler.calendar import Move
from scheduler.county import County
from scheduler.models import CountyVersion, DirectoryLink, LessonMove, TimetableVersion
from scheduler.timetable import Timetable

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


async def save_county(session: AsyncSession, county: County, by: str) -> CountyVersion:
    row = CountyVersion(name=county.name, data=county.model_dump_json(), imported_by=by)
    session.add(row)
    await session.flush()
    return row


async def current_county(session: AsyncSession) -> tuple[CountyVersion, County] | None:
    row = (await session.execute(select(CountyVersion).order_by(CountyVersion.id.desc()).limit(1))).scalar_one_or_none()
    if row is None:
        return None
    return row, County.model_validate_json(row.data)


@dataclass(slots=True)
class Published:
    """What the schools follow: the current county's published timetable and its one-off moves."""

    version: CountyVersion
    county: County
    row: TimetableVersion
    timetable: Timetable
    moves: list[Move]


async def published(session: AsyncSession) -> Published | None:
    """The current county's published timetable; None before a county is imported or a timetable published."""
    current = await current_county(session)
    if current is None:
        return None
    version, county = current
    row = await latest_timetable(session, version.id, published=True)
    if row is None:
        return None
    return Published(version, county, row, timetable_of(row), await moves_of(session, row.id))


async def save_timetable(
    session: AsyncSession, county_id: int, timetable: Timetable, demanded: int, seconds: float, by: str,
) -> TimetableVersion:
    row = TimetableVersion(
        county_id=county_id, state="draft", data=json.dumps(timetable.to_json(), ensure_ascii=False),
        placed=timetable.placed_count(), demanded=demanded, solve_seconds=seconds, created_by=by,
    )
    session.add(row)
    await session.flush()
    return row


async def latest_timetable(session: AsyncSession, county_id: int, published: bool = False) -> TimetableVersion | None:
    query = select(TimetableVersion).where(TimetableVersion.county_id == county_id)
    if published:
        query = query.where(TimetableVersion.state == "published")
    query = query.order_by(TimetableVersion.id.desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def replan_base(session: AsyncSession, county_id: int) -> TimetableVersion | None:
    """The timetable a re-plan starts from: the newest published one of this or an earlier county version
    (what the schools follow; county ids match across imports), else this version's newest draft."""
    published = (await session.execute(
        select(TimetableVersion).where(TimetableVersion.county_id <= county_id, TimetableVersion.state == "published")
        .order_by(TimetableVersion.id.desc()).limit(1)
    )).scalar_one_or_none()
    return published or await latest_timetable(session, county_id)


def timetable_of(row: TimetableVersion) -> Timetable:
    return Timetable.from_json(json.loads(row.data))


async def publish(session: AsyncSession, row: TimetableVersion) -> None:
    """Publish this version; any earlier published version of the county is superseded."""
    earlier = await session.execute(
        select(TimetableVersion).where(TimetableVersion.county_id == row.county_id, TimetableVersion.state == "published")
    )
    for old in earlier.scalars():
        if old.id != row.id:
            old.state = "superseded"
    row.state = "published"
    row.published_at = utcnow()


async def moves_of(session: AsyncSession, timetable_id: int) -> list[Move]:
    rows = await session.execute(select(LessonMove).where(LessonMove.timetable_id == timetable_id).order_by(LessonMove.id))
    return [Move(m.lesson_key, m.date, m.new_date, m.new_period) for m in rows.scalars()]


async def links(session: AsyncSession) -> dict[tuple[str, str], int]:
    rows = await session.execute(select(DirectoryLink))
    return {(r.kind, r.county_ref): r.directory_id for r in rows.scalars()}


async def sync_directory(session: AsyncSession, county: County) -> dict[tuple[str, str], int]:
    """Make sure every county school and classroom exists in the directory and is linked; link teachers."""
    known = await links(session)

    async def link(kind: str, ref: str, directory_id: int) -> None:
        if known.get((kind, ref)) != directory_id:
            row = (await session.execute(
                select(DirectoryLink).where(DirectoryLink.kind == kind, DirectoryLink.county_ref == ref)
            )).scalar_one_or_none()
            if row is None:
                session.add(DirectoryLink(kind=kind, county_ref=ref, directory_id=directory_id))
            else:
                row.directory_id = directory_id
            known[(kind, ref)] = directory_id

    for s in county.schools:
        school = await session.get(School, known.get(("school", s.id), -1))
        if school is None:
            school = (await session.execute(select(School).where(School.name == s.name))).scalar_one_or_none()
        if school is None:
            school = School(name=s.name, kind=s.kind, county=county.name)
            session.add(school)
            await session.flush()
        await link("school", s.id, school.id)
    for c in county.classrooms:
        school_id = known[("school", c.school)]
        room = await session.get(Classroom, known.get(("classroom", c.id), -1))
        if room is None:
            room = (await session.execute(
                select(Classroom).where(Classroom.school_id == school_id, Classroom.name == c.name)
            )).scalar_one_or_none()
        if room is None:
            room = Classroom(school_id=school_id, name=c.name, grade=c.grade, students=c.students,
                             join_code="".join(secrets.choice(CODE_ALPHABET) for _ in range(8)))
            session.add(room)
            await session.flush()
        await link("classroom", c.id, room.id)
    for t in county.teachers:
        user = (await session.execute(select(User).where(User.username == t.id))).scalar_one_or_none()
        if user is None:
            same_name = (await session.execute(select(User).where(
                User.display_name == t.name, User.role == "teacher", User.school_id == known[("school", t.school)]
            ))).scalars().all()
            user = same_name[0] if len(same_name) == 1 else None
        if user is not None:
            await link("teacher", t.id, user.id)
    return known
