"""What a query names besides its words: knowledge points (or their ancestors) and the textbook axes.

"四年级英语 天气" names the grade 四年级, the subject 英语 and the knowledge point 天气; the ranking then
prefers lessons tagged with that point (or a point under a named one) and filed under those axes.
Matching is on the query with spaces, punctuation and particles squeezed out, so 有理数加法 names
有理数的加法.
"""

from __future__ import annotations

import re
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recorder.catalogue import GRADE_NAMES
from recorder.models import KnowledgePoint, TextbookNode
from recorder.segment import squeeze

GRADES = {name: grade for grade, name in GRADE_NAMES.items()} | {"初一": 7, "初二": 8, "初三": 9}
SUBJECTS = ("语文", "数学", "英语", "音乐", "美术", "体育", "科学", "信息技术", "书法", "心理健康", "道德与法治")
STAGES = ("小学", "初中", "高中")
VOLUMES = {"上册": "上册", "下册": "下册", "上学期": "上册", "下学期": "下册"}
# Teachers' shorthand for grade + volume: 七上 = 七年级上册, 四下 = 四年级下册.
SHORTHAND = re.compile(r"([一二三四五六七八九])([上下])(?!课|午|学|周|次|面|来|去)")


@dataclass(slots=True)
class Intent:
    named_points: set[int] = field(default_factory=set)  # points the query names
    covered_points: set[int] = field(default_factory=set)  # those and every point under them
    grade: int | None = None
    subject: str | None = None
    stage: str | None = None
    volume_nodes: set[int] = field(default_factory=set)  # textbook nodes under a named 册次
    rest: str = ""  # the query without the axis words: what the full-text match looks for

    @property
    def axes(self) -> int:
        return sum(x is not None for x in (self.grade, self.subject, self.stage)) + bool(self.volume_nodes)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """What queries are matched against, read once and kept per database for a while: every knowledge point
    (id, squeezed name, path) and, per volume name (上册, 下册), the textbook nodes under such volumes."""

    key: tuple[int, int, int, int]
    loaded: float
    points: list[tuple[int, str, str]]
    volume_nodes: dict[str, frozenset[int]]


_KEY = select(  # built once: it runs with every search
    select(func.count(KnowledgePoint.id)).scalar_subquery(), select(func.max(KnowledgePoint.id)).scalar_subquery(),
    select(func.count(TextbookNode.id)).scalar_subquery(), select(func.max(TextbookNode.id)).scalar_subquery(),
)
_VOCABULARY: weakref.WeakKeyDictionary[Any, Vocabulary] = weakref.WeakKeyDictionary()
FRESH_SECONDS = 60.0  # a knowledge or textbook import shows in search within this (and at once on another count)


async def vocabulary(session: AsyncSession) -> Vocabulary:
    """The cached vocabulary, reloaded when the tables' row count or highest id changed, or it got old."""
    engine = session.get_bind()
    key_row = (await session.execute(_KEY)).one()
    key = tuple(int(x or 0) for x in key_row)
    found = _VOCABULARY.get(engine)
    if found is not None and found.key == key and time.monotonic() - found.loaded < FRESH_SECONDS:
        return found
    rows = (await session.execute(select(KnowledgePoint.id, KnowledgePoint.name, KnowledgePoint.path))).all()
    points = [(pid, squeeze(name), path) for pid, name, path in rows]
    nodes = (await session.execute(select(TextbookNode.id, TextbookNode.path, TextbookNode.level,
                                          TextbookNode.name))).all()  # fmt: skip
    volumes: dict[str, list[str]] = {}
    for _, path, level, name in nodes:
        if level == "volume":
            volumes.setdefault(name, []).append(path)
    under = {name: frozenset(nid for nid, path, _, _ in nodes if path.startswith(tuple(prefixes)))
             for name, prefixes in volumes.items()}  # fmt: skip
    made = Vocabulary((key[0], key[1], key[2], key[3]), time.monotonic(), points, under)
    _VOCABULARY[engine] = made
    return made


def _names(flat_query: str, typed: list[str], target: str) -> bool:
    """The query names this point: the whole (squeezed) name is in the query, or a typed word of ≥ 2
    characters is a part of the name ("there be" → "there be 句型")."""
    if len(target) < 2:
        return False
    if target in flat_query:
        return True
    return any(len(w) >= 2 and w in target for w in typed)


async def understand(session: AsyncSession, text: str) -> Intent:
    intent = Intent(rest=text)
    flat = squeeze(text)
    if not flat:
        return intent
    vocab = await vocabulary(session)
    typed = [squeeze(p) for p in text.split()]
    named = [(pid, path) for pid, name, path in vocab.points if _names(flat, typed, name)]
    intent.named_points = {pid for pid, _ in named}
    prefixes = tuple(path for _, path in named if path)
    intent.covered_points = intent.named_points | {
        pid for pid, _, path in vocab.points if prefixes and path.startswith(prefixes)
    }
    said: list[str] = []
    for name, grade in GRADES.items():
        if name in flat:
            intent.grade = grade
            said.append(name)
    intent.subject = next((s for s in SUBJECTS if s in flat), None)
    intent.stage = next((s for s in STAGES if s in flat), None)
    volume = next((v for k, v in VOLUMES.items() if k in flat), None)
    said += [w for w in (intent.subject, intent.stage) if w] + [k for k in VOLUMES if k in flat]
    if short := SHORTHAND.search(flat):
        intent.grade = "一二三四五六七八九".index(short.group(1)) + 1
        volume = f"{short.group(2)}册"
        said.append(short.group(0))
    # Axis words are scored as axes: as text they would match nearly every lesson of the grade/subject.
    for word in sorted(said, key=len, reverse=True):
        intent.rest = intent.rest.replace(word, " ")
    if volume:
        intent.volume_nodes = set(vocab.volume_nodes.get(volume, frozenset()))
    return intent
