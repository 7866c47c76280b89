"""The live device board: each classroom PC's last seen time, connection state, network quality and current
lesson; a classroom that should be in a lesson now and is not is flagged (缺课预警) and, once the coordinator
gives the reason (停电, 网络故障, 调课, 其他), counted in supervision.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, func, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Database, UTCDateTime, utcnow
from core.directory import Classroom, School
from rooms.device_checks import DeviceCheckRecord, check_json
from rooms.records import PresenceRecord, RoomMember, RoomRecord
from rooms.room import Room

REASONS = ("power", "network", "reschedule", "other")  # 停电 / 网络故障 / 调课 / 其他
REASON_LABEL = {"power": "停电", "network": "网络故障", "reschedule": "调课", "other": "其他"}
GRACE = dt.timedelta(minutes=5)  # a classroom counts as missing this long after the lesson should start


class AbsenceRecord(Base):
    """Why a classroom missed a lesson it should have been in (one per room and classroom)."""

    __tablename__ = "absence_reasons"
    __table_args__ = (UniqueConstraint("room_id", "classroom_id", name="uq_absence_reasons_room_classroom"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    classroom_id: Mapped[int] = mapped_column(ForeignKey("classrooms.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(200), default="")
    by: Mapped[str] = mapped_column(String(120))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(slots=True)
class Device:
    classroom_id: int
    school: str
    name: str
    state: str  # online | reconnecting | offline
    last_seen: dt.datetime | None
    quality: str  # good | fair | poor | "" (no live figures)
    lesson: dict[str, Any] | None
    missing: bool
    reason: str
    check: dict[str, Any] | None = None  # the PC's last device check (rooms.device_checks)

    def to_dict(self) -> dict[str, Any]:
        return {"classroom_id": self.classroom_id, "school": self.school, "name": self.name, "state": self.state,
                "last_seen": self.last_seen.isoformat() if self.last_seen else None, "quality": self.quality,
                "lesson": self.lesson, "missing": self.missing, "reason": self.reason,
                "check": self.check}


def quality_of(stats: list[dict[str, Any]]) -> str:
    """From the SFU's last figures for a classroom's camera: loss from it to the SFU and the bitrate."""
    video = [s for s in stats if s.get("kind") == "video" and s.get("source") == "camera"]
    if not video:
        return ""
    s = max(video, key=lambda x: x.get("bitrate_bps", 0))
    sent = s.get("packets", 0) + s.get("packets_lost", 0)
    loss = s.get("packets_lost", 0) / sent if sent else 0.0
    if loss < 0.02 and s.get("bitrate_bps", 0) >= 150_000:
        return "good"
    return "fair" if loss < 0.08 else "poor"


async def device_board(db: Database, live: dict[str, Room], stats: dict[str, list[dict[str, Any]]],
                       now: dt.datetime | None = None) -> list[Device]:
    now = now or utcnow()
    async with db.session() as s:
        classes = (await s.execute(select(Classroom, School).join(School, School.id == Classroom.school_id)
                                   .order_by(School.name, Classroom.name))).all()
        seen = dict((await s.execute(select(PresenceRecord.classroom_id, func.max(
            func.coalesce(PresenceRecord.left_at, PresenceRecord.joined_at))).where(
            PresenceRecord.classroom_id.is_not(None)).group_by(PresenceRecord.classroom_id))).all())
        due = (await s.execute(select(RoomRecord, RoomMember.classroom_id)
                               .join(RoomMember, RoomMember.room_id == RoomRecord.id)
                               .where(RoomMember.classroom_id.is_not(None), RoomRecord.state != "ended",
                                      or_(RoomRecord.state == "live",
                                          (RoomRecord.scheduled_start <= now - GRACE)
                                          & (RoomRecord.scheduled_end > now))))).all()
        reasons = {(a.room_id, a.classroom_id): a.reason for a in (await s.execute(
            select(AbsenceRecord).where(AbsenceRecord.room_id.in_({r.id for r, _ in due})))).scalars()}
        checks = {r.classroom_id: check_json(r) for r in (await s.execute(select(DeviceCheckRecord))).scalars()}
    expected: dict[int, RoomRecord] = {cid: r for r, cid in due if cid is not None}
    where: dict[int, tuple[Room, Any]] = {}
    for room in live.values():
        for p in room.participants.values():
            cid = p.meta.get("classroom_id")
            if cid is not None and (cid not in where or p.connected):
                where[cid] = (room, p)
    out = []
    for c, school in classes:
        room_p = where.get(c.id)
        state = "offline" if room_p is None else ("online" if room_p[1].connected else "reconnecting")
        lesson: dict[str, Any] | None = None
        if room_p is not None:
            lesson = {"room_id": room_p[0].id, "title": room_p[0].title, "state": room_p[0].state.value}
        elif c.id in expected:
            r = expected[c.id]
            lesson = {"room_id": r.id, "title": r.title, "state": r.state}
        missing = state == "offline" and c.id in expected
        mine = [x for x in stats.get(room_p[0].id, []) if x.get("participant_id") == room_p[1].id] if room_p else []
        out.append(Device(
            classroom_id=c.id, school=school.name, name=c.name, state=state,
            last_seen=now if state == "online" else seen.get(c.id), quality=quality_of(mine), lesson=lesson,
            missing=missing, reason=reasons.get((expected[c.id].id, c.id), "") if missing else "",
            check=checks.get(c.id),
        ))
    return out


async def set_reason(db: Database, room_id: str, classroom_id: int, reason: str, note: str, by: str) -> None:
    async with db.session() as s:
        row = (await s.execute(select(AbsenceRecord).where(
            AbsenceRecord.room_id == room_id, AbsenceRecord.classroom_id == classroom_id))).scalar_one_or_none()
        if row is None:
            s.add(AbsenceRecord(room_id=room_id, classroom_id=classroom_id, reason=reason, note=note, by=by))
        else:
            row.reason, row.note, row.by, row.at = reason, note, by, utcnow()
        await s.commit()


async def absences(db: Database, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Missed lessons with a reason, counted by reason (for 督导)."""
    async with db.session() as s:
        rows = (await s.execute(select(AbsenceRecord, RoomRecord.title, Classroom.name, School.name)
                                .join(RoomRecord, RoomRecord.id == AbsenceRecord.room_id)
                                .join(Classroom, Classroom.id == AbsenceRecord.classroom_id)
                                .join(School, School.id == Classroom.school_id)
                                .where(AbsenceRecord.at >= start, AbsenceRecord.at < end)
                                .order_by(AbsenceRecord.at))).all()
    counts = Counter(a.reason for a, *_ in rows)
    return {
        "total": len(rows),
        "by_reason": [{"reason": k, "label": REASON_LABEL[k], "count": counts.get(k, 0)} for k in REASONS],
        "items": [{"room_id": a.room_id, "title": title, "classroom": f"{school} {name}", "reason": a.reason,
                   "label": REASON_LABEL[a.reason], "note": a.note, "at": a.at.isoformat()}
                  for a, title, name, school in rows],
    }
