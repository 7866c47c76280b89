"""What a query names besides its words: knowledge points (or their ancestors) and the textbook axes.

"四年级英语 天气" names the grade 四年级, the subject 英语 and the knowledge point 天气; the ranking then
prefers lessons tagged with that point (or a point under a named one) and filed under those axes.
Matching is on the query with spaces, punctuation and particles squeezed out, so 有理数加法 names
有理数的加法.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
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


def _names(query: str, name: str) -> bool:
    """The query names this point: the whole name is in the query, or a typed word of ≥ 2 characters
    is a part of the name ("there be" → "there be 句型")."""
    target = squeeze(name)
    if len(target) < 2:
        return False
    if target in squeeze(query):
        return True
    return any(len(w) >= 2 and w in target for w in (squeeze(p) for p in query.split()))


async def understand(session: AsyncSession, text: str) -> Intent:
    intent = Intent(rest=text)
    flat = squeeze(text)
    if not flat:
        return intent
    points = (await session.execute(select(KnowledgePoint.id, KnowledgePoint.name, KnowledgePoint.path))).all()
    named = [(pid, path) for pid, name, path in points if _names(text, name)]
    intent.named_points = {pid for pid, _ in named}
    prefixes = tuple(path for _, path in named if path)
    intent.covered_points = intent.named_points | {
        pid for pid, _, path in points if prefixes and path.startswith(prefixes)
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
        paths = (
            await session.execute(
                select(TextbookNode.path).where(TextbookNode.level == "volume", TextbookNode.name == volume)
            )
        ).scalars()
        prefixes = tuple(paths)
        if prefixes:
            rows = await session.execute(select(TextbookNode.id, TextbookNode.path))
            intent.volume_nodes = {nid for nid, path in rows if path.startswith(prefixes)}
    return intent
