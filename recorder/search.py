"""Finding resources: text and facets (subject, grade, school, teacher, knowledge point, chapter, date),
browsing by chapter or knowledge point, and related resources through the knowledge associations.

Every query carries the visibility condition of `recorder.access`, so search never reveals a resource
its page would refuse. Text matching is a case-insensitive substring test on a denormalised column, with
function characters (的, 之, 与, 和, 及) left out on both sides: it needs no tokeniser for Chinese and
behaves the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recorder import catalogue, knowledge
from recorder.access import visible_condition
from recorder.models import Resource, ResourceKnowledge
from recorder.review import Actor

FACETS = ("subject", "grade", "school_name", "teacher_name")


@dataclass(slots=True)
class Query:
    text: str = ""
    subject: str | None = None
    grade: int | None = None
    school_id: int | None = None
    teacher_user_id: int | None = None
    knowledge_point_id: int | None = None
    textbook_node_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    status: str | None = None
    limit: int = 20
    offset: int = 0


@dataclass(slots=True)
class Result:
    total: int
    resources: list[Resource]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


PARTICLES = "的之与和及"  # function characters people leave out when they type: 有理数加法 → 有理数的加法


def _squeeze(text: str) -> str:
    return "".join(c for c in text if c not in PARTICLES)


def _squeezed(column: ColumnElement[str]) -> ColumnElement[str]:
    for ch in PARTICLES:
        column = func.replace(column, ch, "")
    return column


def _terms(text: str) -> list[str]:
    words = text.lower().replace("，", " ").replace("、", " ").split()
    return [w for w in (_squeeze(w) for w in words) if w][:8]


async def _filtered(session: AsyncSession, q: Query, actor: Actor) -> Select:
    stmt = select(Resource).where(visible_condition(actor))
    text = _squeezed(Resource.search_text)
    for term in _terms(q.text):
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(text.like(f"%{escaped}%", escape="\\"))
    if q.subject:
        stmt = stmt.where(Resource.subject == q.subject)
    if q.grade is not None:
        stmt = stmt.where(Resource.grade == q.grade)
    if q.school_id is not None:
        stmt = stmt.where(Resource.school_id == q.school_id)
    if q.teacher_user_id is not None:
        stmt = stmt.where(Resource.teacher_user_id == q.teacher_user_id)
    if q.status:
        stmt = stmt.where(Resource.status == q.status)
    if q.date_from:
        stmt = stmt.where(Resource.lesson_date >= q.date_from)
    if q.date_to:
        stmt = stmt.where(Resource.lesson_date <= q.date_to)
    if q.knowledge_point_id is not None:
        points = await knowledge.subtree_ids(session, [q.knowledge_point_id])
        tagged = select(ResourceKnowledge.resource_id).where(ResourceKnowledge.knowledge_point_id.in_(points))
        stmt = stmt.where(Resource.id.in_(tagged))
    if q.textbook_node_id is not None:
        nodes = await catalogue.subtree_ids(session, q.textbook_node_id)
        stmt = stmt.where(Resource.textbook_node_id.in_(nodes))
    return stmt


async def search(session: AsyncSession, q: Query, actor: Actor) -> Result:
    stmt = await _filtered(session, q, actor)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    page = stmt.order_by(Resource.lesson_date.desc(), Resource.id.desc()).limit(max(1, min(q.limit, 100)))
    rows = list((await session.execute(page.offset(max(0, q.offset)))).scalars())
    facets: dict[str, list[tuple[str, int]]] = {}
    sub = stmt.subquery()
    for name in FACETS:
        col = sub.c[name]
        counted = await session.execute(
            select(col, func.count()).group_by(col).order_by(func.count().desc(), col).limit(30)
        )
        facets[name] = [(str(v), n) for v, n in counted if v not in (None, "", 0)]
    return Result(total, rows, facets)


@dataclass(slots=True)
class Related:
    resource: Resource
    reason: str  # same_knowledge | isRelatedTo | precedes | precededBy | same_chapter
    via: list[str]


async def related(session: AsyncSession, resource: Resource, actor: Actor, limit: int = 8) -> list[Related]:
    """Other lessons on the same points first, then on associated points, then in the same chapter."""
    own = set(
        (
            await session.execute(
                select(ResourceKnowledge.knowledge_point_id).where(
                    ResourceKnowledge.resource_id == resource.id
                )
            )
        ).scalars()
    )
    linked = await knowledge.related_ids(session, own)
    candidates: dict[int, tuple[int, str, list[int]]] = {}
    wanted = own | set(linked)
    if wanted:
        rows = await session.execute(
            select(ResourceKnowledge.resource_id, ResourceKnowledge.knowledge_point_id)
            .join(Resource, Resource.id == ResourceKnowledge.resource_id)
            .where(
                ResourceKnowledge.knowledge_point_id.in_(wanted),
                Resource.id != resource.id,
                visible_condition(actor),
            )
        )
        for rid, kp in rows:
            rank, reason = (0, "same_knowledge") if kp in own else (1, linked[kp])
            best = candidates.get(rid)
            if best is None or rank < best[0]:
                candidates[rid] = (rank, reason, [kp])
            elif rank == best[0]:
                best[2].append(kp)
    if resource.textbook_node_id:
        rows = await session.execute(
            select(Resource.id).where(
                Resource.textbook_node_id == resource.textbook_node_id,
                Resource.id != resource.id,
                visible_condition(actor),
            )
        )
        for (rid,) in rows:
            candidates.setdefault(rid, (2, "same_chapter", []))
    ordered = sorted(candidates.items(), key=lambda kv: (kv[1][0], -len(kv[1][2]), -kv[0]))[:limit]
    if not ordered:
        return []
    resources = {
        r.id: r
        for r in (
            await session.execute(select(Resource).where(Resource.id.in_([k for k, _ in ordered])))
        ).scalars()
    }
    names = dict(
        (await session.execute(select(knowledge.KnowledgePoint.id, knowledge.KnowledgePoint.name).where(
            knowledge.KnowledgePoint.id.in_({kp for _, (_, _, kps) in ordered for kp in kps})
        ))).all()
    )  # fmt: skip
    return [
        Related(resources[rid], reason, [names.get(kp, "") for kp in kps])
        for rid, (_, reason, kps) in ordered
    ]
