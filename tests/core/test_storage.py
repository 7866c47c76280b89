"""The schema and the domain rows on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.audit import AuditEntry, audit
from core.db import Database
from core.directory import Classroom, School, User
from rooms.records import PresenceRecord, RoomMember, RoomRecord
from rooms.roles import RoomKind
from rooms.room import RoomState
from rooms.store import RoomSpec, RoomStore, create_room


async def test_schema_and_rows_round_trip(db_url: str) -> None:
    db = Database(db_url)
    try:
        await db.migrate()
        await db.migrate()  # idempotent on restart
        start = datetime(2026, 9, 1, 0, 40, tzinfo=UTC)
        async with db.session() as s:
            school = School(name="白石村小学", kind="remote")
            s.add(school)
            await s.flush()
            c = Classroom(school_id=school.id, name="四年级", grade=4, students=14, join_code="ABCD2345")
            u = User(username="wang", display_name="王老师", password_hash="x", role="teacher")
            s.add_all([c, u])
            await s.flush()
            room = await create_room(s, RoomSpec(
                kind=RoomKind.DELIVERY, title="英语", host_user_id=u.id, remote_classroom_ids=[c.id],
                scheduled_start=start, scheduled_end=start + timedelta(minutes=40),
            ))
            audit(s, "wang", "room.create", room.id, title="英语")
            await s.commit()
            room_id = room.id

        store = RoomStore(db)
        definition = await store.load(room_id)
        assert definition is not None and definition.kind == RoomKind.DELIVERY
        assert definition.state == RoomState.SCHEDULED
        at = start.timestamp() + 60
        pid = await store.presence_join(room_id, "classroom:1", "classroom", at, None, c.id)
        await store.set_state(room_id, RoomState.LIVE, at)
        await store.presence_leave(pid, at + 1800)
        await store.audit("wang", "room.end", room_id)

        async with db.session() as s:
            r = await s.get(RoomRecord, room_id)
            assert r is not None and r.state == "live"
            assert r.scheduled_start == start and r.live_at == datetime.fromtimestamp(at, UTC)
            span = (await s.execute(select(PresenceRecord))).scalar_one()
            assert (span.left_at - span.joined_at) == timedelta(minutes=30)
            members = (await s.execute(select(RoomMember).order_by(RoomMember.id))).scalars().all()
            assert [(m.role, m.user_id, m.classroom_id) for m in members] == [
                ("hub_teacher", u.id, None), ("classroom", None, c.id)]
            assert [a.action for a in (await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()] == [
                "room.create", "room.end"]

        async with db.session() as s:  # join codes are unique
            s.add(Classroom(school_id=school.id, name="五年级", join_code="ABCD2345"))
            with pytest.raises(IntegrityError):
                await s.commit()
    finally:
        await db.close()


async def test_naive_datetimes_are_refused(db_url: str) -> None:
    db = Database(db_url)
    try:
        await db.migrate()
        async with db.session() as s:
            s.add(AuditEntry(actor="x", action="y", at=datetime(2026, 1, 1)))
            with pytest.raises(Exception, match="naive"):
                await s.commit()
    finally:
        await db.close()
