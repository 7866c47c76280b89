"""The full-text match on each database, over the same segmented columns (migration 0014).

SQLite: FTS5 `lib_resources_fts` ranked by `bm25` with column weights (title 5, topic 3, body 1).
PostgreSQL: the generated `search_vector` (weights A/B/D) ranked by `ts_rank_cd` with normalisation 32
(rank / (rank + 1)). Both give a relevance in [0, 1) so the combined score weighs them alike. Terms come
from `recorder.segment` (letters and digits only) and are bound or quoted as plain phrases: a query can
never be FTS syntax.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, Literal

from sqlalchemy import ColumnElement, Date, Float, Integer, Subquery, cast, func, literal_column, select
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession

from recorder.models import Resource

Mode = Literal["all", "any"]
BM25 = "bm25(lib_resources_fts, 5.0, 3.0, 1.0)"
COMMON_MIN_LIBRARY = 1000  # below this many resources no word is left out as common


def fts5_expression(terms: list[str], mode: Mode) -> str:
    joiner = " AND " if mode == "all" else " OR "
    return joiner.join('"' + t.replace('"', '""') + '"' for t in terms)


def match(dialect: str, terms: list[str], mode: Mode, name: str = "fts") -> Subquery:
    """Rows matching the terms: a subquery with `rid` (resource id) and `rel` (relevance in [0, 1))."""
    if dialect == "postgresql":
        vector = literal_column("lib_resources.search_vector")
        parts = [func.plainto_tsquery("simple", t) for t in terms]
        query = parts[0]
        for p in parts[1:]:
            query = query.op("&&" if mode == "all" else "||")(p)
        rank = func.ts_rank_cd(vector, query, 32)
        return (
            select(Resource.id.label("rid"), cast(rank, Float).label("rel"))
            .where(vector.op("@@")(query))
            .subquery(name)
        )
    raw = sql_text(
        f"SELECT rowid AS rid, -{BM25} AS b FROM lib_resources_fts WHERE lib_resources_fts MATCH :expr"
    ).bindparams(expr=fts5_expression(terms, mode))
    inner = raw.columns(rid=Integer, b=Float).subquery(f"{name}_raw")
    # bm25 grows without bound: b / (b + 1) maps it into [0, 1) like ts_rank_cd's normalisation 32.
    return select(inner.c.rid, (inner.c.b / (inner.c.b + 1.0)).label("rel")).subquery(name)


_COUNTS: weakref.WeakKeyDictionary[Any, dict[str, tuple[int, float]]] = weakref.WeakKeyDictionary()
COUNT_SECONDS = 60.0  # how long a word's document count is reused (a teacher's next query often repeats words)


async def common_terms(session: AsyncSession, dialect: str, terms: list[str], share: float) -> set[str]:
    """Terms found in more than `share` of all resources. Ranking any-of-the-words over such a term (课时, a
    stray "s") costs a relevance computation per matching row — thousands — for words that barely rank.
    Document counts are kept per database for a minute, so a repeated word costs no second count."""
    if len(terms) < 2:
        return set()
    cache = _COUNTS.setdefault(session.get_bind(), {})
    now = time.monotonic()
    fresh = {t: n for t, (n, at) in cache.items() if now - at < COUNT_SECONDS}
    wanted = [t for t in ["", *terms] if t not in fresh]  # "" is the library's size
    if wanted:
        counts = []
        for i, t in enumerate(wanted):
            if not t:
                counts.append(select(func.count(Resource.id)).scalar_subquery())
            elif dialect == "postgresql":
                vector = literal_column("lib_resources.search_vector")
                counts.append(select(func.count()).select_from(Resource).where(
                    vector.op("@@")(func.plainto_tsquery("simple", t))).scalar_subquery())  # fmt: skip
            else:
                counts.append(sql_text(f"(SELECT count(*) FROM lib_resources_fts WHERE lib_resources_fts MATCH :t{i})")
                              .bindparams(**{f"t{i}": fts5_expression([t], "all")}).columns(n=Integer)
                              .scalar_subquery())  # fmt: skip
        row = (await session.execute(select(*counts))).one()
        for t, n in zip(wanted, row, strict=True):
            fresh[t] = int(n or 0)
            cache[t] = (fresh[t], now)
    total, found = fresh[""], {t: fresh[t] for t in terms}
    if total < COMMON_MIN_LIBRARY:
        return set()  # a small library: every word counts
    common = {t for t, n in found.items() if n > share * total}
    return common if any(found[t] for t in terms if t not in common) else set()


def days_since(dialect: str, column: ColumnElement) -> ColumnElement[float]:
    """Age of a date column in days, 365 when unknown."""
    if dialect == "postgresql":
        age = cast(func.current_date() - cast(column, Date), Float)
    else:
        age = func.julianday("now") - func.julianday(column)
    return func.coalesce(age, 365.0)
