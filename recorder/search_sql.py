"""The ranked query as SQL text, one statement per query shape, written once and reused.

Building the ranked statement with SQLAlchemy's expression language cost 10–15 ms of Python per search
(construction, cache key, compilation; every query had a new shape, since the number of words changed it).
Here the text depends only on the shape (which filters, whether points or axes are named, the match mode),
never on the values: words travel as one bound full-text expression and id lists as bound arrays (JSON on
SQLite), so the statement is written once per shape and the driver's prepared statement is reused.

The match reads the table once: PostgreSQL scans the `search_vector` GIN index (with the lessons tagged with
a named point as a second arm of the same bitmap) and ranks each candidate row in place; SQLite joins the
FTS5 match (bm25) to its rows. Page, total and every facet's counts come back in one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import ARRAY, BindParameter, Date, Integer, TextClause, bindparam, text
from sqlalchemy.engine import Dialect

from recorder.access import visible_condition
from recorder.review import Actor

FACETS = ("subject", "grade", "school_name", "teacher_name")
FACET_VALUES = 30  # values shown per facet
# Weights of the combined score; each part is in [0, 1].
WEIGHTS = {"text": 0.45, "knowledge": 0.25, "axes": 0.12, "review": 0.08, "quality": 0.05, "recency": 0.05}
STATUS_WEIGHT = {"published": 1.0, "approved": 0.6, "submitted": 0.3}
BM25 = "bm25(lib_resources_fts, 5.0, 3.0, 1.0)"
LISTS = ("named", "below", "covered", "volume", "f_kp", "f_node")
DATES = ("f_date_from", "f_date_to")


@dataclass(frozen=True, slots=True)
class Shape:
    """What decides the statement's text (values are bound)."""

    dialect: Literal["postgresql", "sqlite"]
    terms: bool  # words to match (else: only axes or points named)
    tagged: bool  # lessons tagged with a named point are candidates too
    named: bool  # the knowledge part of the score
    below: bool  # points under the named ones (0.7)
    axes: tuple[str, ...]  # named axes among grade, subject, stage, volume
    filters: tuple[str, ...]  # the query's filters (`FILTERS`; each bound as f_<name>)


def _num(shape: Shape, x: float) -> str:
    return f"{x!r}::float8" if shape.dialect == "postgresql" else repr(x)


def _in(shape: Shape, column: str, name: str) -> str:
    """`column` is one of the bound list `name`: an array on PostgreSQL, a JSON array on SQLite."""
    if shape.dialect == "postgresql":
        return f"{column} = ANY(:{name})"
    return f"{column} IN (SELECT value FROM json_each(:{name}))"


def _tagged(shape: Shape, name: str) -> str:
    rk = f"SELECT resource_id FROM lib_resource_knowledge WHERE {_in(shape, 'knowledge_point_id', name)}"
    return f"lib_resources.id IN ({rk})"


_AXIS = {
    "grade": "lib_resources.grade = :ax_grade",
    "subject": "lib_resources.subject = :ax_subject",
    "stage": "lib_resources.stage = :ax_stage",
}


def _axis(shape: Shape, name: str) -> str:
    return _in(shape, "lib_resources.textbook_node_id", "volume") if name == "volume" else _AXIS[name]


_FILTER = {
    "subject": "lib_resources.subject = :f_subject",
    "grade": "lib_resources.grade = :f_grade",
    "school_id": "lib_resources.school_id = :f_school_id",
    "teacher_user_id": "lib_resources.teacher_user_id = :f_teacher_user_id",
    "status": "lib_resources.status = :f_status",
    "date_from": "lib_resources.lesson_date >= :f_date_from",
    "date_to": "lib_resources.lesson_date <= :f_date_to",
}
# kp: tagged with a point or one under it; node: filed under a textbook node or one under it
FILTERS = (*_FILTER, "kp", "node")


def _filter(shape: Shape, name: str) -> str:
    if name == "kp":
        return _tagged(shape, "f_kp")
    if name == "node":
        return _in(shape, "lib_resources.textbook_node_id", "f_node")
    return _FILTER[name]


def _score(shape: Shape, rel: str) -> str:
    n = lambda x: _num(shape, x)  # noqa: E731
    parts = [f"{n(WEIGHTS['text'])} * {rel}"]
    if shape.named:
        whens = f"WHEN {_tagged(shape, 'named')} THEN {n(1.0)} "
        if shape.below:
            whens += f"WHEN {_tagged(shape, 'below')} THEN {n(0.7)} "
        parts.append(f"{n(WEIGHTS['knowledge'])} * (CASE {whens}ELSE {n(0.0)} END)")
    if shape.axes:
        hits = " + ".join(f"(CASE WHEN {_axis(shape, a)} THEN {n(1.0)} ELSE {n(0.0)} END)"
                          for a in shape.axes)  # fmt: skip
        parts.append(f"{n(WEIGHTS['axes'])} * ({hits}) / {n(float(len(shape.axes)))}")
    review = " ".join(f"WHEN '{s}' THEN {n(w)}" for s, w in STATUS_WEIGHT.items())
    parts.append(f"{n(WEIGHTS['review'])} * (CASE lib_resources.status {review} ELSE {n(0.0)} END)")
    parts.append(f"{n(WEIGHTS['quality'])} * (lib_resources.review_score / {n(5.0)})")
    if shape.dialect == "postgresql":
        age = f"coalesce(CAST(current_date - lib_resources.lesson_date AS float8), {n(365.0)})"
    else:
        age = f"coalesce(julianday('now') - julianday(lib_resources.lesson_date), {n(365.0)})"
    parts.append(f"{n(WEIGHTS['recency'])} * ({n(1.0)} / ({n(1.0)} + {age} / {n(180.0)}))")
    return " + ".join(parts)


def _source(shape: Shape) -> tuple[str, str, list[str]]:
    """(FROM clause, relevance expression, conditions that choose the candidates)."""
    if not shape.terms:
        found = [" AND ".join(_axis(shape, a) for a in shape.axes)] if shape.axes else []
        if shape.tagged:
            found.append(_tagged(shape, "covered"))
        return "lib_resources", _num(shape, 0.0), [" OR ".join(f"({c})" for c in found) or "1 = 0"]
    if shape.dialect == "postgresql":
        rel = "CAST(ts_rank_cd(lib_resources.search_vector, to_tsquery('simple', :tsq), 32) AS float8)"
        match = "lib_resources.search_vector @@ to_tsquery('simple', :tsq)"
        if shape.tagged:  # an index arm of its own: the GIN bitmap OR the primary key bitmap
            rk = "SELECT resource_id FROM lib_resource_knowledge WHERE knowledge_point_id = ANY(:covered)"
            match = f"({match} OR lib_resources.id = ANY(ARRAY({rk})))"
        return "lib_resources", rel, [match]
    fts = f"SELECT rowid AS rid, -{BM25} AS b FROM lib_resources_fts WHERE lib_resources_fts MATCH :tsq"
    if shape.tagged:
        rk = f"SELECT resource_id, NULL FROM lib_resource_knowledge WHERE {_in(shape, 'knowledge_point_id', 'covered')}"
        fts = f"SELECT rid, max(b) AS b FROM ({fts} UNION ALL {rk}) GROUP BY rid"
    # bm25 grows without bound: b / (b + 1) maps it into [0, 1) like ts_rank_cd's normalisation 32.
    rel = "coalesce(fts.b / (fts.b + 1.0), 0.0)"
    return f"({fts}) AS fts JOIN lib_resources ON lib_resources.id = fts.rid", rel, []


def _sql(shape: Shape, visible: str) -> str:
    source, rel, where = _source(shape)
    where = where + [f"({visible})"] + [_filter(shape, f) for f in shape.filters]
    facet_cols = ", ".join(f"lib_resources.{c}" for c in FACETS)
    matched = (f"SELECT lib_resources.id AS id, {_score(shape, rel)} AS score, lib_resources.lesson_date AS lesson_date, "
               f"{facet_cols} FROM {source} WHERE {' AND '.join(where)}")  # fmt: skip
    order = "score DESC, lesson_date DESC, id DESC"
    parts = [
        "SELECT 'page' AS k, page.id AS id, CAST(NULL AS TEXT) AS v, page.score AS score, page.rn AS n FROM "
        f"(SELECT id, score, row_number() OVER (ORDER BY {order}) AS rn FROM matched ORDER BY {order} "
        "LIMIT :limit OFFSET :offset) AS page",
        "SELECT 'total', NULL, NULL, NULL, count(*) FROM matched",
    ]
    for c in FACETS:
        parts.append(f"SELECT '{c}', NULL, f.v, NULL, f.n FROM (SELECT CAST({c} AS TEXT) AS v, count(*) AS n "
                     f"FROM matched WHERE {c} IS NOT NULL GROUP BY CAST({c} AS TEXT) "
                     f"ORDER BY count(*) DESC, CAST({c} AS TEXT) LIMIT {FACET_VALUES + 2}) AS f")  # fmt: skip
    return f"WITH matched AS MATERIALIZED ({matched}) " + " UNION ALL ".join(parts)


@lru_cache(maxsize=256)
def statement(shape: Shape, visible: str) -> TextClause:
    """The statement of a shape, typed binds included; kept, as nothing in it depends on a value."""
    stmt = text(_sql(shape, visible))
    binds: list[BindParameter[Any]] = [bindparam(d, type_=Date()) for d in DATES if f":{d}" in stmt.text]
    if shape.dialect == "postgresql":
        binds += [bindparam(name, type_=ARRAY(Integer())) for name in LISTS if f":{name}" in stmt.text]
    return stmt.bindparams(*binds) if binds else stmt


@lru_cache(maxsize=1024)
def _visible(dialect: Dialect, role: str, user_id: int | None, school_id: int | None) -> str:
    cond = visible_condition(Actor(user_id, "", role, school_id))
    return str(cond.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def visible_sql(dialect: Dialect, actor: Actor) -> str:
    """`recorder.access.visible_condition` as SQL text: the one rule set, written out once per asker. Its
    values are the asker's ids (integers) and fixed words, so they are written into the text."""
    return _visible(dialect, actor.role, actor.user_id, actor.school_id)
