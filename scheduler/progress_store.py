"""Teaching progress in the database: plans per teaching group, their items, corrections, and the facts of
each lesson (held, not held, to come) read from the rooms the timetable created. The catalogue's sections
are handed in by the caller (`scheduler` does not read the library's tables)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from scheduler import store
from scheduler.calendar import Move, Occurrence, occurrences
from scheduler.county import County
from scheduler.facts import rooms_by_ref
from scheduler.progress import LessonFact, PlanItem, Section, default_plan
from scheduler.progress_models import ProgressCorrection, ProgressItem, ProgressPlan
from scheduler.timetable import Timetable

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


GroupKey = tuple[str, str, int]  # (hub teacher, subject, grade)


@dataclass(slots=True)
class Context:
    """The term's occurrences, indexed once: by teaching group and by weekly lesson key. Building it is the
    CPU-heavy step (a county's whole term); it runs in a worker thread, and everything after it is a lookup."""

    county: County
    occurrences: list[Occurrence]
    groups: list[Group] = field(default_factory=list)
    by_group: dict[GroupKey, list[Occurrence]] = field(default_factory=dict)
    group_of_lesson: dict[str, Group] = field(default_factory=dict)


def build_context(county: County, timetable: Timetable | None, moves: list[Move]) -> Context:
    """Occurrences of the published timetable and their indexes (pure: runs in a thread)."""
    occ = occurrences(county, timetable, moves) if timetable is not None else []
    names = {t.id: t.name for t in county.teachers}
    found: dict[GroupKey, Group] = {}
    by_group: dict[GroupKey, list[Occurrence]] = {}
    for o in occ:
        ls = o.lesson
        key = (ls.teacher, ls.subject, ls.grade)
        g = found.get(key)
        if g is None:
            g = found[key] = Group(ls.teacher, names.get(ls.teacher, ls.teacher), ls.subject, ls.grade, [], set())
        if ls.key not in g.lesson_keys:
            g.lesson_keys.add(ls.key)
            g.classrooms = sorted(set(g.classrooms) | set(ls.classrooms))
        by_group.setdefault(key, []).append(o)
    ordered = sorted(found.values(), key=lambda g: (g.teacher, g.subject, g.grade))
    of_lesson = {k: g for g in ordered for k in g.lesson_keys}
    return Context(county, occ, ordered, by_group, of_lesson)


async def context(session: AsyncSession) -> Context | None:
    """The current county and the occurrences of its published timetable (with one-off moves)."""
    current = await store.current_county(session)
    if current is None or current[1].term is None:
        return None
    version, county = current
    row = await store.latest_timetable(session, version.id, published=True)
    if row is None:
        return Context(county, [])
    timetable, moves = store.timetable_of(row), await store.moves_of(session, row.id)
    return await asyncio.to_thread(build_context, county, timetable, moves)


def groups(ctx: Context) -> list[Group]:
    return ctx.groups


def group_occurrences(ctx: Context, plan: ProgressPlan) -> list[Occurrence]:
    return ctx.by_group.get((plan.teacher_ref, plan.subject, plan.grade), [])


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
    return ctx.group_of_lesson.get(ref.rsplit("/", 1)[0])
