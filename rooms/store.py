"""The rooms' database side: definitions, lifecycle times, presence spans and audited actions."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import audit
from core.db import Database
from rooms.records import PresenceRecord, RoomMember, RoomRecord
from rooms.roles import RoomKind
from rooms.room import RoomState


@dataclass(slots=True, frozen=True)
class RoomDefinition:
    id: str
    kind: RoomKind
    title: str
    state: RoomState
    record: bool
    stage_seats: int


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class RoomStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._joins: list[tuple[PresenceRecord, asyncio.Future[int]]] = []
        self._join_writer: asyncio.Task[None] | None = None
        self._leaves: list[tuple[dict[str, object], asyncio.Future[None]]] = []
        self._leave_writer: asyncio.Task[None] | None = None

    async def load(self, room_id: str) -> RoomDefinition | None:
        async with self.db.session() as s:
            r = await s.get(RoomRecord, room_id)
            if r is None:
                return None
            return RoomDefinition(r.id, RoomKind(r.kind), r.title, RoomState(r.state), r.record, r.stage_seats)

    async def set_state(self, room_id: str, state: RoomState, at: float) -> None:
        column = {"open": "opened_at", "live": "live_at", "ended": "ended_at"}.get(state.value)
        values: dict[str, object] = {"state": state.value}
        if column:
            values[column] = _dt(at)
        async with self.db.session() as s:
            await s.execute(update(RoomRecord).where(RoomRecord.id == room_id).values(**values))
            await s.commit()

    def presence_join(
        self, room_id: str, identity: str, role: str, at: float, user_id: int | None, classroom_id: int | None
    ) -> asyncio.Future[int]:
        """The presence span's id, once written. Joins that arrive together are written in one transaction:
        a class of a thousand joining at once costs a few commits (fsyncs), not a thousand in a row. A future,
        not a coroutine, so that a join does not cost a task; shield it where the waiter may be cancelled."""
        rec = PresenceRecord(
            room_id=room_id, identity=identity, role=role, user_id=user_id,
            classroom_id=classroom_id, joined_at=_dt(at),
        )
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._joins.append((rec, done))
        if self._join_writer is None or self._join_writer.done():
            self._join_writer = asyncio.create_task(self._write_joins(), name="presence-joins")
        return done

    async def _write_joins(self) -> None:
        while self._joins:
            batch, self._joins = self._joins, []
            try:
                async with self.db.session() as s:
                    s.add_all([rec for rec, _ in batch])
                    await s.commit()
                for rec, done in batch:
                    if not done.done():
                        done.set_result(rec.id)
            except Exception as e:  # each waiting join fails with the cause, as it would alone
                for _, done in batch:
                    if not done.done():
                        done.set_exception(e)

    async def presence_leave(self, presence_id: int, at: float) -> None:
        """Leaves that arrive together (a class's resume grace running out at once) are written in one
        statement, as joins are: a thousand do not queue a thousand commits on the loop."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._leaves.append(({"id": presence_id, "left_at": _dt(at)}, done))
        if self._leave_writer is None or self._leave_writer.done():
            self._leave_writer = asyncio.create_task(self._write_leaves(), name="presence-leaves")
        await asyncio.shield(done)

    async def _write_leaves(self) -> None:
        while self._leaves:
            batch, self._leaves = self._leaves, []
            try:
                async with self.db.session() as s:
                    await s.execute(update(PresenceRecord), [row for row, _ in batch])  # bulk, by primary key
                    await s.commit()
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
            except Exception as e:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(e)

    async def close_open_presence(self, room_id: str, at: float) -> None:
        async with self.db.session() as s:
            await s.execute(
                update(PresenceRecord)
                .where(PresenceRecord.room_id == room_id, PresenceRecord.left_at.is_(None))
                .values(left_at=_dt(at))
            )
            await s.commit()

    async def presence(self, room_id: str) -> list[PresenceRecord]:
        async with self.db.session() as s:
            rows = await s.execute(
                select(PresenceRecord).where(PresenceRecord.room_id == room_id).order_by(PresenceRecord.id)
            )
            return list(rows.scalars())

    async def audit(self, actor: str, action: str, target: str, **detail: object) -> None:
        async with self.db.session() as s:
            audit(s, actor, action, target, **detail)
            await s.commit()


@dataclass(slots=True)
class RoomSpec:
    """A room to create: by a coordinator or teacher by hand, or by the timetable job ahead of a lesson."""

    kind: RoomKind
    title: str
    subject: str = ""
    grade: int = 0
    host_user_id: int | None = None
    hub_classroom_ids: list[int] = field(default_factory=list)
    remote_classroom_ids: list[int] = field(default_factory=list)
    coteacher_ids: list[int] = field(default_factory=list)
    scheduled_start: datetime | None = None
    scheduled_end: datetime | None = None
    record: bool = True
    stage_seats: int = 6
    timetable_ref: str | None = None


async def create_room(session: AsyncSession, spec: RoomSpec) -> RoomRecord:
    """Add the room and its expected members to the caller's transaction."""
    record = RoomRecord(
        id=f"r-{secrets.token_hex(5)}", kind=spec.kind.value, title=spec.title, state=RoomState.SCHEDULED.value,
        subject=spec.subject, grade=spec.grade, host_user_id=spec.host_user_id, record=spec.record,
        stage_seats=spec.stage_seats, timetable_ref=spec.timetable_ref,
        scheduled_start=spec.scheduled_start, scheduled_end=spec.scheduled_end,
    )
    session.add(record)
    await session.flush()
    if spec.host_user_id is not None:
        session.add(RoomMember(room_id=record.id, role="hub_teacher", user_id=spec.host_user_id))
    for cid in spec.hub_classroom_ids:
        session.add(RoomMember(room_id=record.id, role="hub_classroom", classroom_id=cid))
    for cid in spec.remote_classroom_ids:
        session.add(RoomMember(room_id=record.id, role="classroom", classroom_id=cid))
    for uid in spec.coteacher_ids:
        session.add(RoomMember(room_id=record.id, role="coteacher", user_id=uid))
    return record
