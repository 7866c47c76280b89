"""What the teaching progress says a lesson teaches, apart from the HTTP routes: the catalogue's sections
of a term's 册, a plan row as JSON, the walked lesson of a timetabled room, and the recorder's
`TaughtSections` from it. The library (filing recordings) and the progress routes both use these, so neither
imports the other's routes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database, utcnow
from recorder.catalogue import volume_by_id, volume_sections
from recorder.filing import Taught
from rooms.records import RoomRecord
from scheduler import progress_store
from scheduler.county import subject_label
from scheduler.progress import Assigned, PlanItem, Section, walk
from scheduler.progress_models import ProgressPlan


def library_sections(s: AsyncSession) -> progress_store.SectionSource:
    """The catalogue's sections of the 册 a term teaches (autumn term → 上册, spring term → 下册)."""

    async def source(grade: int, subject: str, term_start: dt.date) -> tuple[str, int | None, list[Section]]:
        volume = "上册" if term_start.month >= 8 or term_start.month == 1 else "下册"
        label, vid, rows = await volume_sections(s, grade, subject_label(subject), volume)
        return label, vid, [Section(n, ch, sec, tuple(kps)) for n, ch, sec, kps in rows]

    return source


async def plan_sections(s: AsyncSession, plan: ProgressPlan) -> list[Section]:
    """The sections of the plan's chosen 册 (the volume picker), or of the term's when none was chosen."""
    if plan.volume_node_id is not None:
        _, vid, rows = await volume_by_id(s, plan.volume_node_id)
        if vid is not None:
            return [Section(n, ch, sec, tuple(kps)) for n, ch, sec, kps in rows]
    _, _, found = await library_sections(s)(plan.grade, plan.subject, plan.term_start)
    return found


def section_json(item: PlanItem | None) -> dict | None:
    if item is None:
        return None
    sec = item.section
    return {"node_id": sec.node_id, "chapter": sec.chapter, "section": sec.section,
            "knowledge": list(sec.knowledge), "label": f"{sec.chapter} {sec.section}".strip()}  # fmt: skip


@dataclass(slots=True)
class LessonSection:
    plan: ProgressPlan
    lesson: Assigned
    items: list[PlanItem]

    def item(self, node_id: int | None) -> PlanItem | None:
        return next((i for i in self.items if i.section.node_id == node_id), None)


async def lesson_section(s: AsyncSession, room_id: str) -> LessonSection | None:
    """The plan and the walked lesson of a timetabled room; None for a room outside any plan."""
    room = await s.get(RoomRecord, room_id)
    if room is None or not room.timetable_ref:
        return None
    ctx = await progress_store.context(s)
    if ctx is None:
        return None
    group = progress_store.plan_for_ref(ctx, room.timetable_ref)
    if group is None:
        return None
    plan = await progress_store.ensure_plan(s, ctx, group, library_sections(s))
    items = progress_store.plan_items(await progress_store.items_of(s, plan.id))
    facts = await progress_store.lesson_facts(s, ctx, plan, utcnow())
    lesson = next((a for a in walk(items, facts).lessons if a.ref == room.timetable_ref), None)
    return LessonSection(plan, lesson, items) if lesson is not None else None


class ProgressTaught:
    """`TaughtSections` from the teaching progress: what the room's lesson taught (planned or corrected)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def taught(self, room_id: str) -> Taught | None:
        async with self.db.session() as s:
            found = await lesson_section(s, room_id)
            await s.commit()  # a plan made on first use is kept
        if found is None or found.lesson.node_id is None:
            return None
        item = found.item(found.lesson.node_id)
        return Taught(found.lesson.node_id, item.section.chapter, item.section.section) if item else None
