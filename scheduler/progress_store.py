"""Teaching progress in the database: plans per teaching group, their items, corrections, and the facts of
each lesson (held, not held, to come) read from the rooms the timetable created. The catalogue's sections
are handed in by the caller (`scheduler` does not read the library's tables)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from scheduler import store
from scheduler.calendar import Occurrence, occurrences
from scheduler.county import County
from scheduler.facts import rooms_by_ref
from scheduler.progress import LessonFact, PlanItem, Section, default_plan
from scheduler.progress_models import ProgressCorrection, ProgressItem, ProgressPlan

# (grade, subject key, term start) → the volume's label, node id and ordered sections; from the library
SectionSource = Callable[[int, str, dt.date], Awaitable[tuple[str, int | None, list[Section]]]]


@dataclass(slots=True)
class Group:
    """A teaching group as the timetable has it: hub teacher, subject, grade, receiving classes."""

    teacher: str
    teacher_name: str
    subject: str
    grade: int
    classrooms: list[str]
    lesson_keys: set[str]


@dataclass(slots=True)
class Context:
    county: County
    occurrences: list[Occurrence]


async def context(session: AsyncSession) -> Context | None:
    """The current county and the occurrences of its published timetable (with one-off moves)."""
    current = await store.current_county(session)
    if current is None or current[1].term is None:
        return None
    version, county = current
    row = await store.latest_timetable(session, version.id, published=True)
    if row is None:
        return Context(county, [])
    return Context(county, occurrences(county, store.timetable_of(row), await store.moves_of(session, row.id)))


def groups(ctx: Context) -> list[Group]:
    names = {t.id: t.name for t in ctx.county.teachers}
    out: dict[tuple[str, str, int], Group] = {}
    for o in ctx.occurrences:
        ls = o.lesson
        g = out.setdefault(
            (ls.teacher, ls.subject, ls.grade),
            Group(ls.teacher, names.get(ls.teacher, ls.teacher), ls.subject, ls.grade, [], set()),
        )
        g.lesson_keys.add(ls.key)
        g.classrooms = sorted(set(g.classrooms) | set(ls.classrooms))
    return sorted(out.values(), key=lambda g: (g.teacher, g.subject, g.grade))


def group_occurrences(ctx: Context, plan: ProgressPlan) -> list[Occurrence]:
    return [
        o for o in ctx.occurrences
        if (o.lesson.teacher, o.lesson.subject, o.lesson.grade) == (plan.teacher_ref, plan.subject, plan.grade)
    ]  # fmt: skip


async def items_of(session: AsyncSession, plan_id: int) -> list[ProgressItem]:
    rows = await session.execute(
        select(ProgressItem).where(ProgressItem.plan_id == plan_id).order_by(ProgressItem.position)
    )
    return list(rows.scalars())


def plan_items(rows: list[ProgressItem]) -> list[PlanItem]:
    return [
        PlanItem(Section(r.node_id, r.chapter, r.section, tuple(json.loads(r.knowledge or "[]"))), r.lessons, r.week)
        for r in rows
    ]


async def replace_items(session: AsyncSession, plan: ProgressPlan, items: list[PlanItem], by: str) -> None:
    await session.execute(delete(ProgressItem).where(ProgressItem.plan_id == plan.id))
    for pos, item in enumerate(items):
        s = item.section
        session.add(ProgressItem(
            plan_id=plan.id, position=pos, node_id=s.node_id, chapter=s.chapter, section=s.section,
            knowledge=json.dumps(list(s.knowledge), ensure_ascii=False), lessons=item.lessons, week=item.week,
        ))  # fmt: skip
    plan.updated_by, plan.updated_at = by, utcnow()
    await session.flush()


async def ensure_plan(session: AsyncSession, ctx: Context, group: Group, sections: SectionSource) -> ProgressPlan:
    """The group's plan for the current term, made from the catalogue the first time it is asked for."""
    term = ctx.county.term
    assert term is not None
    plan = (
        await session.execute(
            select(ProgressPlan).where(
                ProgressPlan.teacher_ref == group.teacher, ProgressPlan.subject == group.subject,
                ProgressPlan.grade == group.grade, ProgressPlan.term_start == term.start,
            )
        )
    ).scalar_one_or_none()  # fmt: skip
    if plan is not None:
        return plan
    label, volume_id, found = await sections(group.grade, group.subject, term.start)
    plan = ProgressPlan(
        teacher_ref=group.teacher, teacher_name=group.teacher_name, subject=group.subject, grade=group.grade,
        classrooms=json.dumps(group.classrooms), term_start=term.start, term_end=term.end,
        volume_node_id=volume_id, volume_label=label,
    )  # fmt: skip
    session.add(plan)
    await session.flush()
    dates = sorted({o.date for o in group_occurrences(ctx, plan)})
    await replace_items(session, plan, default_plan(found, dates, term), "catalogue")
    return plan


async def lesson_facts(session: AsyncSession, ctx: Context, plan: ProgressPlan, now: dt.datetime) -> list[LessonFact]:
    """Each of the group's lessons: held (its room went live and ended), not held (its time passed without
    a live room), or to come (including the one running now), with the teacher's correction if any."""
    occ = group_occurrences(ctx, plan)
    rooms = await rooms_by_ref(session, [o.ref for o in occ])
    corrections = await corrections_of(session, plan.id)
    out = []
    for o in occ:
        room = rooms.get(o.ref)
        held: bool | None
        if room is not None and room.live_at is not None:
            held = True if room.ended_at is not None else None
        else:
            held = False if o.end.astimezone(dt.UTC) < now and (room is None or room.state != "open") else None
        out.append(LessonFact(o.ref, o.date, held, corrections.get(o.ref)))
    return out


async def corrections_of(session: AsyncSession, plan_id: int) -> dict[str, int]:
    rows = await session.execute(select(ProgressCorrection).where(ProgressCorrection.plan_id == plan_id))
    return {c.lesson_ref: c.node_id for c in rows.scalars()}


async def correct(session: AsyncSession, plan: ProgressPlan, lesson_ref: str, node_id: int, by: str) -> None:
    row = (
        await session.execute(
            select(ProgressCorrection).where(
                ProgressCorrection.plan_id == plan.id, ProgressCorrection.lesson_ref == lesson_ref
            )
        )
    ).scalar_one_or_none()
    if row is None:
        session.add(ProgressCorrection(plan_id=plan.id, lesson_ref=lesson_ref, node_id=node_id, by=by))
    else:
        row.node_id, row.by, row.at = node_id, by, utcnow()
    await session.flush()


def plan_for_ref(ctx: Context, ref: str) -> Group | None:
    """The teaching group of a timetabled lesson occurrence (a room's `timetable_ref`)."""
    key = ref.rsplit("/", 1)[0]
    return next((g for g in groups(ctx) if key in g.lesson_keys), None)
