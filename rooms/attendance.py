"""Attendance per lesson (classroom, joined/left, minutes present, headcount) and students reached.

Read from the presence spans the room service writes and the headcounts classrooms confirm (签到).
Minutes present are the union of a participant's spans, so a reconnect does not count twice.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core.db import Database, utcnow
from core.directory import Classroom, School, User
from core.exports import FORMULA_START  # one list of formula starts for every export
from rooms.lesson_records import HeadcountRecord
from rooms.records import PresenceRecord, RoomMember, RoomRecord

Span = tuple[datetime, datetime]


@dataclass(slots=True)
class AttendanceRow:
    identity: str
    kind: str  # classroom | teacher
    role: str
    school: str
    name: str
    expected: bool
    joined_at: datetime | None
    left_at: datetime | None
    minutes: float
    headcount: int | None
    enrolled: int

    def to_dict(self) -> dict[str, object]:
        return {
            "identity": self.identity, "kind": self.kind, "role": self.role, "school": self.school,
            "name": self.name, "expected": self.expected,
            "joined_at": self.joined_at.isoformat() if self.joined_at else None,
            "left_at": self.left_at.isoformat() if self.left_at else None,
            "minutes": round(self.minutes, 1), "headcount": self.headcount, "enrolled": self.enrolled,
            "present": self.joined_at is not None,
        }


def union_seconds(spans: list[Span]) -> float:
    total, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is not None and start < reach:
            start = reach
        if end > start:
            total += (end - start).total_seconds()
            reach = end if reach is None else max(reach, end)
    return total


async def lesson_attendance(db: Database, room_id: str) -> list[AttendanceRow]:
    """Every expected classroom (present or not) and everyone who came, hidden supervisors excepted."""
    async with db.session() as s:
        room = await s.get(RoomRecord, room_id)
        end_default = (room.ended_at if room and room.ended_at else None) or utcnow()
        spans = list((await s.execute(select(PresenceRecord).where(PresenceRecord.room_id == room_id)
                                      .order_by(PresenceRecord.id))).scalars())
        members = list((await s.execute(select(RoomMember).where(RoomMember.room_id == room_id))).scalars())
        heads = {h.identity: h.present for h in (await s.execute(
            select(HeadcountRecord).where(HeadcountRecord.room_id == room_id))).scalars()}
        class_ids = {m.classroom_id for m in members if m.classroom_id} | {p.classroom_id for p in spans if p.classroom_id}
        classes = {c.id: (c, sch) for c, sch in (await s.execute(
            select(Classroom, School).join(School, School.id == Classroom.school_id)
            .where(Classroom.id.in_(class_ids)))).all()}
        user_ids = {m.user_id for m in members if m.user_id} | {p.user_id for p in spans if p.user_id}
        users = {u.id: u for u in (await s.execute(select(User).where(User.id.in_(user_ids)))).scalars()}
        schools = {sc.id: sc.name for sc in (await s.execute(select(School))).scalars()}
    by_identity: dict[str, list[PresenceRecord]] = defaultdict(list)
    for p in spans:
        if p.role in ("observer", "coordinator", "recorder"):
            continue  # silent supervisors and the recorder are not attendance
        by_identity[p.identity].append(p)
    expected: dict[str, tuple[str, str]] = {}
    for m in members:
        if m.classroom_id:
            expected[f"classroom:{m.classroom_id}"] = ("classroom", m.role)
        elif m.user_id:
            expected[f"user:{m.user_id}"] = ("teacher", m.role)
    rows: list[AttendanceRow] = []
    for identity in list(expected) + [i for i in by_identity if i not in expected]:
        ps = by_identity.get(identity, [])
        kind, role = expected.get(identity, ("classroom" if identity.startswith("classroom:") else "teacher",
                                             ps[0].role if ps else ""))
        school, name, enrolled = "", identity, 0
        ref = int(identity.split(":", 1)[1]) if identity.split(":", 1)[1].isdigit() else None
        if kind == "classroom" and ref in classes:
            c, sch = classes[ref]
            school, name, enrolled = sch.name, c.name, c.students
        elif ref in users:
            u = users[ref]
            school, name = schools.get(u.school_id or 0, ""), u.display_name
        closed = [(p.joined_at, p.left_at or end_default) for p in ps]
        rows.append(AttendanceRow(
            identity=identity, kind=kind, role=role, school=school, name=name, expected=identity in expected,
            joined_at=min((p.joined_at for p in ps), default=None),
            left_at=max((e for _, e in closed), default=None) if ps and all(p.left_at for p in ps) else None,
            minutes=union_seconds(closed) / 60.0, headcount=heads.get(identity), enrolled=enrolled,
        ))
    return rows


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def attendance_csv(title: str, rows: list[AttendanceRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["课程", "类型", "学校", "教室/教师", "应到", "进入时间", "离开时间", "在线分钟", "签到人数", "在册人数"])
    for r in rows:
        w.writerow([safe_cell(v) for v in (
            title, "教室" if r.kind == "classroom" else "教师", r.school, r.name, "是" if r.expected else "否",
            r.joined_at.isoformat(timespec="minutes") if r.joined_at else "",
            r.left_at.isoformat(timespec="minutes") if r.left_at else "",
            f"{r.minutes:.0f}", "" if r.headcount is None else r.headcount, r.enrolled,
        )])
    return "\ufeff" + buf.getvalue()  # BOM: Excel opens the Chinese as UTF-8


@dataclass(slots=True)
class Reach:
    """受益学生数 over a period: lessons held, classroom attendances and the students they reached."""

    lessons: int
    classroom_attendances: int
    students_confirmed: int  # from 签到 headcounts
    students_estimated: int  # confirmed, or the class's enrolment where no headcount was given
    by_school: list[dict[str, object]]

    def to_dict(self) -> dict[str, object]:
        return {"lessons": self.lessons, "classroom_attendances": self.classroom_attendances,
                "students_confirmed": self.students_confirmed, "students_estimated": self.students_estimated,
                "by_school": self.by_school}


async def students_reached(db: Database, start: datetime, end: datetime) -> Reach:
    """Lessons that went live in [start, end); each present remote or hub classroom counts once per lesson."""
    async with db.session() as s:
        rooms = list((await s.execute(select(RoomRecord.id).where(
            RoomRecord.live_at.is_not(None), RoomRecord.live_at >= start, RoomRecord.live_at < end))).scalars())
        present = set((await s.execute(select(PresenceRecord.room_id, PresenceRecord.classroom_id).where(
            PresenceRecord.room_id.in_(rooms), PresenceRecord.classroom_id.is_not(None)))).all())
        heads = {(h.room_id, h.classroom_id): h.present for h in (await s.execute(
            select(HeadcountRecord).where(HeadcountRecord.room_id.in_(rooms)))).scalars()}
        cids = {c for _, c in present}
        classes = {c.id: (c, sch) for c, sch in (await s.execute(
            select(Classroom, School).join(School, School.id == Classroom.school_id)
            .where(Classroom.id.in_(cids)))).all()}
    confirmed = estimated = 0
    per_school: dict[str, dict[str, int]] = defaultdict(lambda: {"attendances": 0, "confirmed": 0, "estimated": 0})
    for room_id, cid in present:
        c, sch = classes.get(cid, (None, None))
        head = heads.get((room_id, cid))
        est = head if head is not None else (c.students if c else 0)
        confirmed += head or 0
        estimated += est
        line = per_school[sch.name if sch else "?"]
        line["attendances"] += 1
        line["confirmed"] += head or 0
        line["estimated"] += est
    by_school = [dict(school=k, **v) for k, v in sorted(per_school.items())]
    return Reach(len(rooms), len(present), confirmed, estimated, by_school)
