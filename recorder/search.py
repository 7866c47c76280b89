"""Finding resources: ranked full text for Chinese, facets (subject, grade, school, teacher, knowledge point,
chapter, date) and browsing by chapter or knowledge point.

Text is segmented (`recorder.segment`) and matched in the database's own full-text index
(`recorder.fulltext`): all words first, any word when nothing has them all (`relaxed`). The score combines
text relevance with what the query names (`recorder.intent`: knowledge points or their ancestors, grade,
subject, stage, volume), the review state and score, and recency. Every query carries the visibility
condition of `recorder.access`, so search never reveals a resource its page would refuse.

`substring_search` is the search this replaced (every typed word a substring, newest first), kept as the
baseline of `sanke bench search`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recorder import catalogue, fulltext, knowledge, search_sql, segment
from recorder.access import visible_condition
from recorder.intent import understand
from recorder.models import Resource, ResourceKnowledge
from recorder.review import Actor
from recorder.search_sql import FACET_VALUES, FACETS

COMMON_SHARE = 0.12  # with some of the words, a word in more than this share of the library is left out
STRICT_ENOUGH = 10  # fewer lessons with every word: also rank those with some of them (`relaxed`)


_PAGE = select(Resource).where(Resource.id.in_(bindparam("ids", expanding=True)))  # built once


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
    relaxed: bool = False  # no resource had every word: these have some of them
    terms: list[str] = field(default_factory=list)
    scores: dict[int, float] = field(default_factory=dict)


async def _filtered(session: AsyncSession, q: Query, actor: Actor, stmt: Select) -> Select:
    stmt = stmt.where(visible_condition(actor))
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


def _page(q: Query) -> tuple[int, int]:
    return max(1, min(q.limit, 100)), max(0, min(q.offset, 10_000))


async def _facets(session: AsyncSession, stmt: Select) -> tuple[int, dict[str, list[tuple[str, int]]]]:
    sub = stmt.subquery()
    total = (await session.execute(select(func.count()).select_from(sub))).scalar_one()
    facets: dict[str, list[tuple[str, int]]] = {}
    if not total:
        return 0, {name: [] for name in FACETS}
    for name in FACETS:
        col = sub.c[name]
        counted = await session.execute(
            select(col, func.count()).group_by(col).order_by(func.count().desc(), col).limit(FACET_VALUES)
        )
        facets[name] = [(str(v), n) for v, n in counted if v not in (None, "", 0)]
    return total, facets


def _expression(dialect: str, terms: list[str], mode: fulltext.Mode) -> str:
    """The words as one bound full-text expression (never spliced into the statement)."""
    if dialect == "postgresql":
        return fulltext.tsquery_expression(terms, mode)
    return fulltext.fts5_expression(terms, mode)


async def _filters(session: AsyncSession, q: Query) -> dict[str, Any]:
    """The query's filters by their names in `search_sql.FILTERS` (the ones not set left out)."""
    values: dict[str, Any] = {
        "subject": q.subject or None, "grade": q.grade, "school_id": q.school_id,
        "teacher_user_id": q.teacher_user_id, "status": q.status or None,
        "date_from": q.date_from, "date_to": q.date_to,
    }  # fmt: skip
    if q.knowledge_point_id is not None:
        values["kp"] = sorted(await knowledge.subtree_ids(session, [q.knowledge_point_id]))
    if q.textbook_node_id is not None:
        values["node"] = await catalogue.subtree_ids(session, q.textbook_node_id)
    return {k: v for k, v in values.items() if v is not None}


async def search(session: AsyncSession, q: Query, actor: Actor) -> Result:
    """Ranked search; without text, the filters alone, newest first."""
    limit, offset = _page(q)
    if not segment.query_terms(q.text):
        stmt = await _filtered(session, q, actor, select(Resource))
        total, facets = await _facets(session, stmt)
        page = stmt.order_by(Resource.lesson_date.desc(), Resource.id.desc()).limit(limit).offset(offset)
        return Result(total, list((await session.execute(page)).scalars()), facets)
    dialect = session.get_bind().dialect
    name = "postgresql" if dialect.name == "postgresql" else "sqlite"
    intent = await understand(session, q.text)
    typed = terms = segment.query_terms(intent.rest)
    filters = await _filters(session, q)
    below = intent.covered_points - intent.named_points
    axes = {"grade": intent.grade, "subject": intent.subject, "stage": intent.stage}
    values: dict[str, Any] = {f"ax_{k}": v for k, v in axes.items() if v is not None}
    values |= {f"f_{k}": v for k, v in filters.items()}
    lists = {"named": intent.named_points, "below": below, "covered": intent.covered_points,
             "volume": intent.volume_nodes}  # fmt: skip
    values |= {k: sorted(v) for k, v in lists.items() if v}
    values |= {"limit": limit, "offset": offset}
    if name == "sqlite":  # id lists travel as JSON arrays (json_each)
        values = {k: json.dumps(v) if isinstance(v, list) else v for k, v in values.items()}
    visible = search_sql.visible_sql(dialect, actor)
    relaxed = False
    for mode in ("all", "any"):
        if terms and mode == "any":  # the rarer words (all of them when every word is common)
            common = await fulltext.common_terms(session, name, terms, COMMON_SHARE)
            terms = [t for t in terms if t not in common] or terms
        shape = search_sql.Shape(
            name, bool(terms), bool(intent.named_points) and (mode == "any" or not terms),
            bool(intent.named_points), bool(below),
            tuple(k for k, v in axes.items() if v is not None) + (("volume",) if intent.volume_nodes else ()),
            tuple(k for k in search_sql.FILTERS if k in filters),
        )  # fmt: skip
        if terms:
            values["tsq"] = _expression(name, terms, mode)
        rows = (await session.execute(search_sql.statement(shape, visible), values)).all()
        total, page, facets = _read(rows)
        if total >= STRICT_ENOUGH or mode == "any" or len(terms) <= 1:
            break
        relaxed = True
    by_id = {r.id: r for r in (await session.execute(_PAGE, {"ids": [rid for rid, _ in page]})).scalars()}
    return Result(
        total,
        [by_id[rid] for rid, _ in page if rid in by_id],
        facets,
        relaxed and total > 0,
        typed,
        {rid: round(sc, 4) for rid, sc in page},
    )


def _read(rows: Sequence[Row]) -> tuple[int, list[tuple[int, float]], dict[str, list[tuple[str, int]]]]:
    """Page, total and facets from the ranked statement's one result (UNION ALL keeps no order: the page's
    own order is its row number)."""
    total = 0
    page_rows: list[tuple[int, float, int]] = []
    facets: dict[str, list[tuple[str, int]]] = {name: [] for name in FACETS}
    for k, rid, value, sc, n in rows:
        if k == "page":
            page_rows.append((int(rid), float(sc), int(n)))
        elif k == "total":
            total = int(n)
        elif value not in (None, "", "0") and len(facets[k]) < FACET_VALUES:
            facets[k].append((str(value), int(n)))
    page_rows.sort(key=lambda x: x[2])
    return total, [(rid, sc) for rid, sc, _ in page_rows], facets


async def substring_search(session: AsyncSession, q: Query, actor: Actor) -> Result:
    """The search before ranking: every typed word a case-insensitive substring, newest first (baseline)."""
    stmt = await _filtered(session, q, actor, select(Resource))
    text = Resource.search_text
    for ch in "的之与和及":
        text = func.replace(text, ch, "")
    words = [w for w in ("".join(c for c in w if c not in "的之与和及") for w in q.text.lower().split()) if w]
    for term in words[:8]:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(text.like(f"%{escaped}%", escape="\\"))
    limit, offset = _page(q)
    total, facets = await _facets(session, stmt)
    page = stmt.order_by(Resource.lesson_date.desc(), Resource.id.desc()).limit(limit).offset(offset)
    return Result(total, list((await session.execute(page)).scalars()), facets)
