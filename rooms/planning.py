"""Rooms made by hand from the browser (名师课堂 co-teaching, 名校网络课堂 broadcast): what they are for, who
is invited or in the audience, and the link anyone may watch with; plus each person's calendar of lessons.

Delivery lessons come from the timetable; these are the other two kinds, planned by a teacher or coordinator.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from sqlalchemy import JSON, ForeignKey, String, and_, or_, select, true
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Database
from core.directory import Classroom, User
from core.errors import SankeError
from core.exports import neutralise
from rooms.records import RoomMember, RoomRecord
from rooms.roles import RoomKind
from rooms.store import RoomSpec, create_room

PURPOSES = ("prep", "observe", "research")  # 集体备课 / 听评课 / 同步教研
PURPOSE_LABEL = {"prep": "集体备课", "observe": "听评课", "research": "同步教研"}
DEFAULT_MINUTES = 45
KIND_LABEL = {"delivery": "专递课堂", "coteach": "名师课堂", "broadcast": "名校网络课堂"}
PRODID = "-//Sanke//三课 my lessons//ZH"
CHINA = ZoneInfo("Asia/Shanghai")


class PlanError(SankeError):
    """A room plan the rules refuse (code + field)."""


class RoomPlan(Base):
    """What a hand-made room is for and who it is open to (one row per such room)."""

    __tablename__ = "room_plans"
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), default="")
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)  # {schools: [...], grades: [...], public: bool}
    link_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_by: Mapped[str] = mapped_column(String(120))


@dataclass(slots=True)
class Plan:
    kind: RoomKind
    title: str
    host_user_id: int
    subject: str = ""
    grade: int = 0
    purpose: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    invite_user_ids: list[int] = field(default_factory=list)
    invite_school_ids: list[int] = field(default_factory=list)
    audience_school_ids: list[int] = field(default_factory=list)
    audience_grades: list[int] = field(default_factory=list)
    public: bool = False


async def create_planned_room(db: Database, plan: Plan, by: str) -> tuple[RoomRecord, RoomPlan, int]:
    """Create the room with its invitees (co-teaching) or audience classrooms (broadcast).
    Returns the room, its plan and how many were invited (teachers or classrooms)."""
    if plan.kind == RoomKind.DELIVERY:
        raise PlanError("invalid_field", "专递课堂 lessons come from the timetable", "kind")
    if plan.start and plan.end and plan.end <= plan.start:
        raise PlanError("invalid_field", "the end is before the start", "scheduled_end")
    if plan.start and not plan.end:
        plan.end = plan.start + dt.timedelta(minutes=DEFAULT_MINUTES)
    async with db.session() as s:
        teachers: list[int] = []
        classrooms: list[int] = []
        if plan.kind == RoomKind.COTEACH:
            if plan.purpose not in PURPOSES:
                raise PlanError("invalid_field", "choose 集体备课, 听评课 or 同步教研", "purpose")
            q = select(User.id).where(User.role == "teacher", User.active.is_(True), User.id != plan.host_user_id)
            named = set((await s.execute(q.where(User.id.in_(plan.invite_user_ids)))).scalars())
            if missing := [i for i in plan.invite_user_ids if i not in named and i != plan.host_user_id]:
                raise PlanError("invalid_field", f"no active teacher {missing[0]}", "invite_user_ids")
            by_school = set((await s.execute(q.where(User.school_id.in_(plan.invite_school_ids)))).scalars())
            teachers = sorted(named | by_school)
            if not teachers:
                raise PlanError("invalid_field", "invite at least one teacher", "invite_user_ids")
        else:
            cq = select(Classroom.id)
            if plan.audience_school_ids:
                cq = cq.where(Classroom.school_id.in_(plan.audience_school_ids))
            if plan.audience_grades:
                cq = cq.where(Classroom.grade.in_(plan.audience_grades))
            if plan.audience_school_ids or plan.audience_grades:
                classrooms = sorted((await s.execute(cq)).scalars())
            if not classrooms and not plan.public:
                raise PlanError("invalid_field", "choose schools or grades, or open it to anyone with the link",
                                "audience_school_ids")
        room = await create_room(s, RoomSpec(
            kind=plan.kind, title=plan.title, subject=plan.subject, grade=plan.grade,
            host_user_id=plan.host_user_id, coteacher_ids=teachers, remote_classroom_ids=classrooms,
            scheduled_start=plan.start, scheduled_end=plan.end, record=plan.kind == RoomKind.BROADCAST,
        ))
        row = RoomPlan(room_id=room.id, purpose=plan.purpose, created_by=by,
                       audience={"schools": plan.audience_school_ids, "grades": plan.audience_grades,
                                 "public": plan.public},
                       link_key=secrets.token_urlsafe(12) if plan.public else None)
        s.add(row)
        await s.commit()
        return room, row, len(teachers) or len(classrooms)


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """A local school day (Asia/Shanghai) as a UTC interval."""
    start = dt.datetime.combine(day, dt.time(), CHINA)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


def _on_day(day: dt.date | None) -> Any:
    """Rooms scheduled on that day, or open or live now (a room opened early belongs to today's list too)."""
    if day is None:
        return true()
    start, end = _day_bounds(day)
    return or_(and_(RoomRecord.scheduled_start >= start, RoomRecord.scheduled_start < end),
               RoomRecord.state.in_(("open", "live")))


def _invitation(r: RoomRecord, purpose: str | None, host: str | None) -> dict[str, Any]:
    return {"room_id": r.id, "title": r.title, "kind": r.kind, "state": r.state, "purpose": purpose or "",
            "purpose_label": PURPOSE_LABEL.get(purpose or "", ""), "host": host or "",
            "scheduled_start": r.scheduled_start.isoformat() if r.scheduled_start else None,
            "scheduled_end": r.scheduled_end.isoformat() if r.scheduled_end else None}


async def invitations(db: Database, user_id: int, day: dt.date | None = None) -> list[dict[str, Any]]:
    """Rooms not yet ended this person is invited to as a co-teacher (not the ones they host); with `day`,
    only those of that day or open now (today's list)."""
    async with db.session() as s:
        rows = (await s.execute(
            select(RoomRecord, RoomPlan.purpose, User.display_name)
            .join(RoomMember, RoomMember.room_id == RoomRecord.id)
            .outerjoin(RoomPlan, RoomPlan.room_id == RoomRecord.id)
            .outerjoin(User, User.id == RoomRecord.host_user_id)
            .where(RoomMember.user_id == user_id, RoomMember.role == "coteacher", RoomRecord.state != "ended",
                   _on_day(day))
            .order_by(RoomRecord.scheduled_start, RoomRecord.created_at))).all()
    return [_invitation(r, purpose, host) for r, purpose, host in rows]


async def classroom_invitations(db: Database, classroom_id: int, day: dt.date | None = None) -> list[dict[str, Any]]:
    """名校网络课堂 rooms not yet ended whose audience holds this classroom (its PC joins them by its code)."""
    async with db.session() as s:
        rows = (await s.execute(
            select(RoomRecord, RoomPlan.purpose, User.display_name)
            .join(RoomMember, RoomMember.room_id == RoomRecord.id)
            .join(RoomPlan, RoomPlan.room_id == RoomRecord.id)
            .outerjoin(User, User.id == RoomRecord.host_user_id)
            .where(RoomMember.classroom_id == classroom_id, RoomRecord.kind == RoomKind.BROADCAST.value,
                   RoomRecord.state != "ended", _on_day(day))
            .order_by(RoomRecord.scheduled_start, RoomRecord.created_at))).all()
    return [_invitation(r, purpose, host) for r, purpose, host in rows]


def feed_key(secret: bytes, user_id: int) -> str:
    """The key in a person's calendar link (calendar apps send no cookie); changing the secret revokes it."""
    return hmac.new(secret, f"ical:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def room_key(secret: bytes, room_id: str) -> str:
    """The key in one room's calendar link (a classroom PC has no personal feed)."""
    return hmac.new(secret, f"ical-room:{room_id}".encode(), hashlib.sha256).hexdigest()[:32]


def _event(r: RoomRecord, purpose: str, url: str) -> Event:
    assert r.scheduled_start is not None
    ev = Event()
    ev.add("uid", f"{r.id}@sanke")
    ev.add("dtstamp", r.created_at)
    ev.add("summary", neutralise(" · ".join(x for x in (r.title, KIND_LABEL.get(r.kind, ""),
                                                          PURPOSE_LABEL.get(purpose, "")) if x)))
    ev.add("dtstart", r.scheduled_start)
    ev.add("dtend", r.scheduled_end or r.scheduled_start + dt.timedelta(minutes=DEFAULT_MINUTES))
    ev.add("url", url)
    ev.add("status", "CANCELLED" if r.state == "ended" and r.live_at is None else "CONFIRMED")
    return ev


async def room_events(db: Database, user_id: int, base_url: str) -> list[Event]:
    """One-off events: the rooms this person hosts or is invited to, with a scheduled time. Rooms the
    timetable made are left out: the weekly series of the published timetable already holds them."""
    async with db.session() as s:
        member_rooms = select(RoomMember.room_id).where(RoomMember.user_id == user_id)
        rooms = list((await s.execute(select(RoomRecord).where(
            or_(RoomRecord.host_user_id == user_id, RoomRecord.id.in_(member_rooms)),
            RoomRecord.timetable_ref.is_(None),
            RoomRecord.scheduled_start.is_not(None)).order_by(RoomRecord.scheduled_start))).scalars())
        plans = {p.room_id: p.purpose for p in (await s.execute(
            select(RoomPlan).where(RoomPlan.room_id.in_([r.id for r in rooms])))).scalars()}
    out = []
    for r in rooms:
        page = "teacher" if r.kind == "delivery" and r.host_user_id == user_id else "coteach"
        out.append(_event(r, plans.get(r.id, ""), f"{base_url}/{page}?room={r.id}"))
    return out


async def room_calendar(db: Database, room_id: str, url: str) -> bytes | None:
    """One room as iCalendar (for an invitation's link), or None when it has no scheduled time."""
    async with db.session() as s:
        r = await s.get(RoomRecord, room_id)
        plan = await s.get(RoomPlan, room_id)
    if r is None or r.scheduled_start is None:
        return None
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add_component(_event(r, plan.purpose if plan else "", url))
    return cal.to_ical()
