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

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from recorder import catalogue, fulltext, knowledge, segment
from recorder.access import visible_condition
from recorder.intent import Intent, understand
from recorder.models import Resource, ResourceKnowledge
from recorder.review import Actor

FACETS = ("subject", "grade", "school_name", "teacher_name")
FACET_VALUES = 30  # values shown per facet
# Weights of the combined score; each part is in [0, 1].
WEIGHTS = {"text": 0.45, "knowledge": 0.25, "axes": 0.12, "review": 0.08, "quality": 0.05, "recency": 0.05}
COMMON_SHARE = 0.12  # with some of the words, a word in more than this share of the library is left out
STRICT_ENOUGH = 10  # fewer lessons with every word: also rank those with some of them (`relaxed`)
STATUS_WEIGHT = {"published": 1.0, "approved": 0.6, "submitted": 0.3}


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


def _tagged(points: set[int]) -> ColumnElement[bool]:
    return Resource.id.in_(
        select(ResourceKnowledge.resource_id).where(ResourceKnowledge.knowledge_point_id.in_(points))
    )


def _intent_scores(intent: Intent) -> tuple[ColumnElement[float], ColumnElement[float]]:
    """(knowledge, axes) parts of the score for what the query names."""
    kp: ColumnElement[float] = literal(0.0)
    if intent.named_points:
        below = intent.covered_points - intent.named_points
        whens = [(_tagged(intent.named_points), 1.0)] + ([(_tagged(below), 0.7)] if below else [])
        kp = case(*whens, else_=0.0)
    axes: ColumnElement[float] = literal(0.0)
    if intent.axes:
        hits = []
        if intent.grade is not None:
            hits.append(case((Resource.grade == intent.grade, 1.0), else_=0.0))
        if intent.subject is not None:
            hits.append(case((Resource.subject == intent.subject, 1.0), else_=0.0))
        if intent.stage is not None:
            hits.append(case((Resource.stage == intent.stage, 1.0), else_=0.0))
        if intent.volume_nodes:
            hits.append(case((Resource.textbook_node_id.in_(intent.volume_nodes), 1.0), else_=0.0))
        total = hits[0]
        for h in hits[1:]:
            total = total + h
        axes = total / float(len(hits))
    return kp, axes


def _axes_condition(intent: Intent) -> ColumnElement[bool]:
    conditions = []
    if intent.grade is not None:
        conditions.append(Resource.grade == intent.grade)
    if intent.subject is not None:
        conditions.append(Resource.subject == intent.subject)
    if intent.stage is not None:
        conditions.append(Resource.stage == intent.stage)
    if intent.volume_nodes:
        conditions.append(Resource.textbook_node_id.in_(intent.volume_nodes))
    return and_(*conditions) if conditions else false()


def _score(dialect: str, rel: ColumnElement, intent: Intent) -> ColumnElement[float]:
    kp, axes = _intent_scores(intent)
    review = case(*[(Resource.status == s, w) for s, w in STATUS_WEIGHT.items()], else_=0.0)
    recency = 1.0 / (1.0 + fulltext.days_since(dialect, Resource.lesson_date) / 180.0)
    return cast(
        WEIGHTS["text"] * func.coalesce(rel, 0.0)
        + WEIGHTS["knowledge"] * kp
        + WEIGHTS["axes"] * axes
        + WEIGHTS["review"] * review
        + WEIGHTS["quality"] * (Resource.review_score / 5.0)
        + WEIGHTS["recency"] * recency,
        Float,
    )


async def _facets(session: AsyncSession, stmt: Select) -> tuple[int, dict[str, list[tuple[str, int]]]]:
    sub = stmt.subquery()
    total = (await session.execute(select(func.count()).select_from(sub))).scalar_one()
    facets: dict[str, list[tuple[str, int]]] = {}
    if not total:
        return 0, {name: [] for name in FACETS}
    for name in FACETS:
        col = sub.c[name]
        counted = await session.execute(
            select(col, func.count()).group_by(col).order_by(func.count().desc(), col).limit(30)
        )
        facets[name] = [(str(v), n) for v, n in counted if v not in (None, "", 0)]
    return total, facets


def _page(q: Query) -> tuple[int, int]:
    return max(1, min(q.limit, 100)), max(0, min(q.offset, 10_000))


async def search(session: AsyncSession, q: Query, actor: Actor) -> Result:
    """Ranked search; without text, the filters alone, newest first."""
    limit, offset = _page(q)
    if not segment.query_terms(q.text):
        stmt = await _filtered(session, q, actor, select(Resource))
        total, facets = await _facets(session, stmt)
        page = stmt.order_by(Resource.lesson_date.desc(), Resource.id.desc()).limit(limit).offset(offset)
        return Result(total, list((await session.execute(page)).scalars()), facets)
    dialect = session.get_bind().dialect.name
    intent = await understand(session, q.text)
    typed = terms = segment.query_terms(intent.rest)
    facet_cols = [Resource.__table__.c[name] for name in FACETS]
    relaxed = False
    for mode in ("all", "any"):
        if terms and mode == "any":  # some of the words: the rarer ones (all of them when every word is common)
            common = await fulltext.common_terms(session, dialect, terms, COMMON_SHARE)
            terms = [t for t in terms if t not in common] or terms
        if terms:
            fts = fulltext.match(dialect, terms, mode)
            score = _score(dialect, fts.c.rel, intent).label("score")
            found = fts.c.rid.is_not(None)
            base = select(Resource.id, score, Resource.lesson_date, *facet_cols).join(fts, fts.c.rid == Resource.id)
        else:  # only axes named ("四年级英语"): the lessons on those axes
            score = _score(dialect, literal(0.0), intent).label("score")
            found = _axes_condition(intent)
            base = select(Resource.id, score, Resource.lesson_date, *facet_cols)
        if intent.named_points and (mode == "any" or not terms):
            tagged = select(ResourceKnowledge.resource_id.label("rid")).where(
                ResourceKnowledge.knowledge_point_id.in_(intent.covered_points))
            if terms:  # a lesson tagged with a named point counts even without the words: the candidates are
                # the matches and the tagged, so the database starts from them, not from every visible lesson
                again = fulltext.match(dialect, terms, mode, name="fts_ids")
                cand = union(select(again.c.rid), tagged).subquery("cand")
                base = (select(Resource.id, score, Resource.lesson_date, *facet_cols)
                        .select_from(cand).join(Resource, Resource.id == cand.c.rid)
                        .outerjoin(fts, fts.c.rid == Resource.id))  # fmt: skip
                found = true()
            else:
                found = found | Resource.id.in_(tagged)
        stmt = await _filtered(session, q, actor, base.where(found))
        total, page, facets = await _ranked(session, stmt, limit, offset)
        if total >= STRICT_ENOUGH or mode == "any" or len(terms) <= 1:
            break
        relaxed = True
    by_id = {
        r.id: r
        for r in (await session.execute(select(Resource).where(Resource.id.in_([rid for rid, _ in page])))).scalars()
    }
    return Result(
        total,
        [by_id[rid] for rid, _ in page if rid in by_id],
        facets,
        relaxed and total > 0,
        typed,
        {rid: round(sc, 4) for rid, sc in page},
    )


async def _ranked(
    session: AsyncSession, stmt: Select, limit: int, offset: int
) -> tuple[int, list[tuple[int, float]], dict[str, list[tuple[str, int]]]]:
    """One round trip for the page, the total and every facet's counts: the matches are computed once
    (a MATERIALIZED CTE on SQLite ≥ 3.35 and PostgreSQL ≥ 12) and counted in SQL, so no row past the page
    and the facets' top values ever reaches Python."""
    m = stmt.cte("matched").prefix_with("MATERIALIZED")
    none_s, none_f = null().cast(String), null().cast(Float)
    order = (m.c.score.desc(), m.c.lesson_date.desc(), m.c.id.desc())
    page = (select(m.c.id, m.c.score, func.row_number().over(order_by=order).label("rn"))
            .order_by(*order).limit(limit).offset(offset).subquery("page"))  # fmt: skip
    parts = [
        select(literal("page").label("k"), page.c.id, none_s.label("v"), page.c.score, page.c.rn.label("n")),
        select(literal("total"), null().cast(Integer), none_s, none_f, func.count()).select_from(m),
    ]
    for name in FACETS:
        col = m.c[name]
        text = cast(col, String)
        counted = (select(text.label("v"), func.count().label("n")).where(col.is_not(None))
                   .group_by(text).order_by(func.count().desc(), text).limit(FACET_VALUES + 2).subquery(f"f_{name}"))
        parts.append(select(literal(name), null().cast(Integer), counted.c.v, none_f, counted.c.n))
    rows = (await session.execute(union_all(*parts))).all()
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
    page_rows.sort(key=lambda x: x[2])  # UNION ALL keeps no order: the page's own order is its row number
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
