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

from sqlalchemy import ColumnElement, Float, Select, and_, case, cast, false, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from recorder import catalogue, fulltext, knowledge, segment
from recorder.access import visible_condition
from recorder.intent import Intent, understand
from recorder.models import Resource, ResourceKnowledge
from recorder.review import Actor

FACETS = ("subject", "grade", "school_name", "teacher_name")
# Weights of the combined score; each part is in [0, 1].
WEIGHTS = {"text": 0.45, "knowledge": 0.25, "axes": 0.12, "review": 0.08, "quality": 0.05, "recency": 0.05}
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
    dialect = session.bind.dialect.name
    intent = await understand(session, q.text)
    terms = segment.query_terms(intent.rest)
    facet_cols = [Resource.__table__.c[name] for name in FACETS]
    rows: list = []
    relaxed = False
    for mode in ("all", "any"):
        if terms:
            fts = fulltext.match(dialect, terms, mode)
            score = _score(dialect, fts.c.rel, intent).label("score")
            found = fts.c.rid.is_not(None)
            base = select(Resource.id, score, *facet_cols).outerjoin(fts, fts.c.rid == Resource.id)
        else:  # only axes named ("四年级英语"): the lessons on those axes
            score = _score(dialect, literal(0.0), intent).label("score")
            found = _axes_condition(intent)
            base = select(Resource.id, score, *facet_cols)
        if intent.named_points and (mode == "any" or not terms):
            found = found | _tagged(intent.covered_points)
        base = base.where(found)
        stmt = await _filtered(session, q, actor, base)
        # One pass gives the order, the total and the facet counts (no second trip per facet).
        rows = (await session.execute(stmt.order_by(score.desc(), Resource.lesson_date.desc()))).all()
        if len(rows) >= STRICT_ENOUGH or mode == "any" or len(terms) <= 1:
            break
        relaxed = True
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    for row in rows:
        for name in FACETS:
            value = getattr(row, name)
            if value not in (None, "", 0):
                facets[name][str(value)] = facets[name].get(str(value), 0) + 1
    chosen = rows[offset : offset + limit]
    by_id = {
        r.id: r
        for r in (await session.execute(select(Resource).where(Resource.id.in_([c.id for c in chosen])))).scalars()
    }
    return Result(
        len(rows),
        [by_id[c.id] for c in chosen if c.id in by_id],
        {k: sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))[:30] for k, v in facets.items()},
        relaxed and bool(rows),
        terms,
        {c.id: round(c.score, 4) for c in chosen},
    )


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
