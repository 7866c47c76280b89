"""The full-text expression on each database, over the same segmented columns (migration 0014), and how
common a word is.

SQLite: FTS5 `lib_resources_fts` ranked by `bm25` with column weights (title 5, topic 3, body 1).
PostgreSQL: the generated `search_vector` (weights A/B/D) ranked by `ts_rank_cd` with normalisation 32
(rank / (rank + 1)). Both give a relevance in [0, 1) so the combined score weighs them alike
(`recorder.search_sql`). Terms come from `recorder.segment` (letters and digits only) and are bound as
quoted words: a query can never be full-text syntax.
"""

from __future__ import annotations

import json
import time
import weakref
from typing import Any, Literal

from sqlalchemy import ARRAY, Text, bindparam
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession

Mode = Literal["all", "any"]
COMMON_MIN_LIBRARY = 1000  # below this many resources no word is left out as common


def fts5_expression(terms: list[str], mode: Mode) -> str:
    joiner = " AND " if mode == "all" else " OR "
    return joiner.join('"' + t.replace('"', '""') + '"' for t in terms)


def tsquery_expression(terms: list[str], mode: Mode) -> str:
    """The words as a `to_tsquery` input: each one quoted (a quote doubled, a backslash escaped)."""
    quoted = ("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in terms)
    return (" & " if mode == "all" else " | ").join(quoted)


# One statement per database, whatever the words: "" stands for the library's size.
_COUNT_PG = sql_text(
    "SELECT t.term, CASE WHEN t.term = '' THEN (SELECT count(*) FROM lib_resources) ELSE (SELECT count(*) "
    "FROM lib_resources WHERE search_vector @@ plainto_tsquery('simple', t.term)) END "
    "FROM unnest(:terms) AS t(term)"
).bindparams(bindparam("terms", type_=ARRAY(Text())))
_COUNT_SQLITE = sql_text(
    "SELECT j.value, CASE WHEN j.value = '' THEN (SELECT count(*) FROM lib_resources) ELSE (SELECT count(*) "
    "FROM lib_resources_fts WHERE lib_resources_fts MATCH '\"' || replace(j.value, '\"', '\"\"') || '\"') END "
    "FROM json_each(:terms) AS j"
)

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
    wanted = [t for t in ["", *terms] if t not in fresh]
    if wanted:
        if dialect == "postgresql":
            rows = await session.execute(_COUNT_PG, {"terms": wanted})
        else:
            rows = await session.execute(_COUNT_SQLITE, {"terms": json.dumps(wanted, ensure_ascii=False)})
        for t, n in rows:
            fresh[t] = int(n or 0)
            cache[t] = (fresh[t], now)
    total, found = fresh[""], {t: fresh.get(t, 0) for t in terms}
    if total < COMMON_MIN_LIBRARY:
        return set()  # a small library: every word counts
    common = {t for t, n in found.items() if n > share * total}
    return common if any(found[t] for t in terms if t not in common) else set()
