"""The recorder in a running node: it follows every room that records (a room observer hands it the room;
events come over the bus), sits in the room as "录制中", and when a lesson ends files its recording as a
draft resource with the lesson's facts, under the section the lesson taught (`recorder.filing`), and
queues its MP4. `running()` is the whole service as one context: what it started, it stops, in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.audit import audit
from core.bus import Bus
from core.db import Database
from core.directory import Classroom, School, User
from core.settings import Settings
from core.spool import Spool
from core.storage_url import open_storage
from core.tokens import Claims
from recorder.archive import Archive
from recorder.filing import TaughtSections, file_taught
from recorder.index import RecordingIndex
from recorder.jobs import CompositeJob, CompositeQueue
from recorder.models import Resource
from recorder.resources import LessonFacts, create_from_recording
from recorder.service import RECORDER_IDENTITY, RECORDER_NAME, RecorderService
from rooms.records import PresenceRecord, RoomMember, RoomRecord
from rooms.roles import Role, RoomKind, grants_for
from rooms.room import Room
from rooms.service import RoomService, room_channel
from scheduler.county import subject_label

log = logging.getLogger(__name__)
FINALISE_WITHIN = 5.0  # at shutdown; what is not finalised by then, the next start finalises from its journal


@dataclass(slots=True)
class Library:
    recorder: RecorderService
    composites: CompositeQueue
    root: Path
    archive: Archive
    storage: Any  # a core.storage.Storage
    spool: Spool
    curriculum_ready: bool = False
    curriculum_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

class RoomSeat:
    """The recorder as a room participant everyone sees ("录制中"), without a media subscription."""

    def __init__(self, rooms: RoomService) -> None:
        self.rooms = rooms

    async def take(self, room_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        grants = replace(grants_for(Role.RECORDER, RoomKind(room.kind), room_id), can_subscribe=False)
        claims = Claims(RECORDER_IDENTITY, RECORDER_NAME, Role.RECORDER.value, grants, time.time() + 600, {})
        await self.rooms.join(room_id, claims)

    async def release(self, room_id: str) -> None:
        await self.rooms.leave(room_id, RECORDER_IDENTITY)


async def lesson_facts(db: Database, room_id: str, index: RecordingIndex) -> LessonFacts:
    """What the room and its timetable entry say about the lesson: the metadata a resource starts with."""
    async with db.session() as s:
        room = await s.get(RoomRecord, room_id)
        if room is None:
            return LessonFacts(room_id=room_id, title=index.title or room_id, room_kind=index.room_kind)
        host = await s.get(User, room.host_user_id) if room.host_user_id else None
        school = await s.get(School, host.school_id) if host and host.school_id else None
        member_ids = select(RoomMember.classroom_id).where(RoomMember.room_id == room_id)
        present_ids = select(PresenceRecord.classroom_id).where(PresenceRecord.room_id == room_id)
        rows = await s.execute(
            select(School.name, Classroom.name, RoomMember.role)
            .join(Classroom, Classroom.school_id == School.id)
            .outerjoin(
                RoomMember, (RoomMember.classroom_id == Classroom.id) & (RoomMember.room_id == room_id)
            )
            .where(Classroom.id.in_(member_ids) | Classroom.id.in_(present_ids))
            .order_by(RoomMember.role.desc(), School.name)
        )
        classrooms = list(dict.fromkeys(f"{sch} {name}".strip() for sch, name, _ in rows))
        if school is None:
            hub = (
                await s.execute(
                    select(School)
                    .join(Classroom, Classroom.school_id == School.id)
                    .join(RoomMember, RoomMember.classroom_id == Classroom.id)
                    .where(RoomMember.room_id == room_id, RoomMember.role == "hub_classroom")
                    .limit(1)
                )
            ).scalar_one_or_none()
            school = hub
        return LessonFacts(
            room_id=room_id,
            title=room.title,
            room_kind=room.kind,
            subject=subject_label(room.subject),  # timetable rooms carry a key ("english"): file as 英语
            grade=room.grade,
            teacher_user_id=host.id if host else None,
            teacher_name=host.display_name if host else "",
            school_id=school.id if school else None,
            school_name=school.name if school else "",
            classrooms=classrooms,
            started_at=room.live_at or room.scheduled_start,
            timetable_ref=room.timetable_ref or "",
        )


@contextlib.asynccontextmanager
async def running(
    settings: Settings, db: Database, bus: Bus, media: Any, rooms: RoomService, taught: TaughtSections
) -> AsyncIterator[Library]:
    """Start storage upload spool, MP4 queue and recorder; on exit stop each one that was started."""
    root = settings.media_dir / "recordings"
    storage = open_storage(settings.storage_url, settings.media_dir)
    async with contextlib.AsyncExitStack() as stack:
        spool = Spool(storage, settings.spool_dir, retry_max=settings.storage_retry_max)
        spool.start()
        stack.push_async_callback(spool.close)  # what is not uploaded yet stays spooled for the next start
        archive = Archive(storage, spool, root)
        holder: list[Library] = []

        async def filed(index: RecordingIndex, directory: Path) -> None:
            facts = await lesson_facts(db, index.room_id, index)
            async with db.session() as s:
                if not index.tracks and (await s.execute(
                    select(Resource.id).where(Resource.room_id == index.room_id).limit(1)
                )).first() is not None:
                    # Nothing recorded (the part of a lesson after a restart in which nobody published) and
                    # the lesson is filed already: a second, empty draft would only be noise in the library.
                    log.info("recording %s of %s is empty; the lesson is filed already", index.recording_id,
                             index.room_id)
                    return
                resource = await create_from_recording(s, facts, index.recording_id, index)
                await file_taught(s, resource, taught)  # under the section its lesson taught
                audit(s, RECORDER_IDENTITY, "library.record", f"resource:{resource.id}", title=resource.title,
                      recording=index.recording_id, recovered=index.recovered, lost_seconds=index.lost_seconds)  # fmt: skip
                await s.commit()
            if index.tracks and not index.lesson_is_hls:  # the broadcast alone: its segments are the MP4
                holder[0].composites.submit(directory)

        async def composited(job: CompositeJob) -> None:
            archive.composited(job.directory)

        recorder = RecorderService(root, bus, media, RoomSeat(rooms), filed, archive=archive)
        composites = CompositeQueue(on_done=composited)
        library = Library(recorder, composites, root, archive, storage, spool)
        holder.append(library)

        async def observe(room: Room) -> None:
            if room.record and room.state.value in ("open", "live") and not recorder.watching(room.id):
                await recorder.watch(room.id, room_channel(room.id), room.snapshot())

        rooms.add_observer(observe)
        composites.start()
        stack.push_async_callback(composites.stop)
        await recorder.start()
        stack.push_async_callback(recorder.close, FINALISE_WITHIN)
        composites.requeue_missing(root)
        yield library
