"""The textbook catalogue: the national axes 学段 → 年级 → 学科 → 版本 → 册次 → 章 → 节 as one tree.

Loaded from `data/textbooks.json` (format `sanke-textbooks/1`, see docs/knowledge-format.md): each book is
one 册 of one edition, with its chapters and sections and the knowledge points each one teaches, which is
what lets the library suggest tags for a lesson filed under a chapter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recorder.knowledge import KnowledgeFormatError
from recorder.models import TEXTBOOK_LEVELS, TextbookNode

DATA_FILE = Path(__file__).resolve().parent / "data" / "textbooks.json"
GRADE_NAMES = {
    1: "一年级", 2: "二年级", 3: "三年级", 4: "四年级", 5: "五年级", 6: "六年级",
    7: "七年级", 8: "八年级", 9: "九年级", 10: "高一", 11: "高二", 12: "高三",
}  # fmt: skip
LEVEL_NAMES = {
    "stage": "学段", "grade": "年级", "subject": "学科", "edition": "版本",
    "volume": "册次", "chapter": "章", "section": "节",
}  # fmt: skip


def stage_of(grade: int) -> str:
    """学段 of a grade (1–6 小学, 7–9 初中, 10–12 高中)."""
    if 1 <= grade <= 6:
        return "小学"
    if 7 <= grade <= 9:
        return "初中"
    if 10 <= grade <= 12:
        return "高中"
    return ""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    knowledge: list[str] = Field(default_factory=list)


class Chapter(Section):
    sections: list[Section] = Field(default_factory=list)


class Book(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: Literal["小学", "初中", "高中"]
    grade: int = Field(ge=1, le=12)
    subject: str = Field(min_length=1, max_length=32)
    edition: str = Field(min_length=1, max_length=80)
    volume: str = Field(min_length=1, max_length=40)
    chapters: list[Chapter] = Field(min_length=1)


class Textbooks(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["sanke-textbooks/1"]
    books: list[Book]


def parse_textbooks(data: dict | str | bytes) -> Textbooks:
    try:
        raw = json.loads(data) if isinstance(data, str | bytes) else data
        return Textbooks.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise KnowledgeFormatError(err["msg"], ".".join(str(p) for p in err["loc"])) from exc
    except ValueError as exc:
        raise KnowledgeFormatError(f"not valid JSON: {exc}", "") from exc


async def import_textbooks(session: AsyncSession, books: Textbooks) -> int:
    """Upsert the tree by each node's key (its names joined by '/'); returns how many nodes it has.

    Nodes are inserted a level at a time (one flush per level), which keeps a first start quick.
    """
    wanted: dict[
        str, tuple[str | None, str, str, int, list[str] | None]
    ] = {}  # key → parent, level, name, pos, kps

    def put(parent: str | None, level: str, name: str, position: int, kps: list[str] | None) -> str:
        key = f"{parent}/{name}" if parent else name
        wanted[key] = (parent, level, name, position, kps)
        return key

    for b_pos, book in enumerate(books.books):
        stage = put(None, "stage", book.stage, ("小学", "初中", "高中").index(book.stage), None)
        grade = put(stage, "grade", GRADE_NAMES[book.grade], book.grade, None)
        subject = put(grade, "subject", book.subject, b_pos, None)
        edition = put(subject, "edition", book.edition, b_pos, None)
        volume = put(edition, "volume", book.volume, b_pos, None)
        for c_pos, chapter in enumerate(book.chapters):
            ch = put(volume, "chapter", chapter.name, c_pos, chapter.knowledge)
            for s_pos, section in enumerate(chapter.sections):
                put(ch, "section", section.name, s_pos, section.knowledge)
    existing = {n.key: n for n in (await session.execute(select(TextbookNode))).scalars()}
    for level in TEXTBOOK_LEVELS:
        for key, (parent, lvl, name, position, kps) in wanted.items():
            if lvl != level:
                continue
            row = existing.get(key)
            if row is None:
                row = existing[key] = TextbookNode(key=key, level=lvl, name=name)
                session.add(row)
            row.parent_id = existing[parent].id if parent else None
            row.position = position
            if kps is not None:
                row.knowledge = json.dumps(kps, ensure_ascii=False)
        await session.flush()
    for key, (parent, *_rest) in wanted.items():
        row = existing[key]
        row.path = f"{existing[parent].path if parent else '/'}{row.id}/"
    await session.flush()
    return len(wanted)


async def import_sample_textbooks(session: AsyncSession) -> int:
    return await import_textbooks(session, parse_textbooks(DATA_FILE.read_text(encoding="utf-8")))


async def lineage(session: AsyncSession, node_id: int) -> list[TextbookNode]:
    """The node and its ancestors, top (学段) first."""
    node = await session.get(TextbookNode, node_id)
    if node is None:
        return []
    ids = [int(i) for i in node.path.strip("/").split("/") if i]
    rows = {
        n.id: n
        for n in (await session.execute(select(TextbookNode).where(TextbookNode.id.in_(ids)))).scalars()
    }
    return [rows[i] for i in ids if i in rows]


def axes(nodes: list[TextbookNode]) -> dict[str, str]:
    """level → name for a lineage, e.g. {'stage': '初中', 'grade': '七年级', …, 'chapter': '第三章 …'}."""
    return {n.level: n.name for n in nodes}


async def children(session: AsyncSession, parent_id: int | None) -> list[TextbookNode]:
    q = select(TextbookNode).where(
        TextbookNode.parent_id.is_(None) if parent_id is None else TextbookNode.parent_id == parent_id
    )
    return list((await session.execute(q.order_by(TextbookNode.position, TextbookNode.id))).scalars())


async def subtree_ids(session: AsyncSession, node_id: int) -> list[int]:
    node = await session.get(TextbookNode, node_id)
    if node is None:
        return []
    return list(
        (
            await session.execute(select(TextbookNode.id).where(TextbookNode.path.startswith(node.path)))
        ).scalars()
    )


def node_json(n: TextbookNode) -> dict:
    return {
        "id": n.id,
        "level": n.level,
        "level_name": LEVEL_NAMES.get(n.level, n.level),
        "name": n.name,
        "parent_id": n.parent_id,
        "knowledge": json.loads(n.knowledge or "[]"),
        "leaf": n.level == TEXTBOOK_LEVELS[-1],
    }


async def _volume_rows(session: AsyncSession, vol: TextbookNode) -> list[tuple[int, str, str, list[str]]]:
    from recorder.models import KnowledgePoint

    names = dict((await session.execute(select(KnowledgePoint.identifier, KnowledgePoint.name))).all())
    out = []
    for chapter in await children(session, vol.id):
        sections = await children(session, chapter.id) or [chapter]
        for sec in sections:
            idents = json.loads(sec.knowledge or "[]") or json.loads(chapter.knowledge or "[]")
            name = sec.name if sec is not chapter else ""
            out.append((sec.id, chapter.name, name, [names[i] for i in idents if i in names]))
    return out


async def volumes(session: AsyncSession, grade: int, subject: str) -> list[tuple[int, str]]:
    """Every edition's 册 of a grade and subject: (volume node id, "人教版 四年级英语 上册"), in catalogue order."""
    out = []
    grade_nodes = (await session.execute(select(TextbookNode).where(
        TextbookNode.level == "grade", TextbookNode.name == GRADE_NAMES.get(grade, "")))).scalars()  # fmt: skip
    for g in grade_nodes:
        for subj in await children(session, g.id):
            if subj.name != subject:
                continue
            for edition in await children(session, subj.id):
                out += [(v.id, f"{edition.name} {g.name}{subject} {v.name}") for v in await children(session, edition.id)]
    return out


async def volume_by_id(
    session: AsyncSession, volume_id: int
) -> tuple[str, int | None, list[tuple[int, str, str, list[str]]]]:
    """A chosen 册's label and sections (as `volume_sections`); empty when the node is not a volume."""
    vol = await session.get(TextbookNode, volume_id)
    if vol is None or vol.level != "volume":
        return "", None, []
    names = axes(await lineage(session, vol.id))
    label = f"{names.get('edition', '')} {names.get('grade', '')}{names.get('subject', '')} {vol.name}"
    return label, vol.id, await _volume_rows(session, vol)


async def volume_sections(
    session: AsyncSession, grade: int, subject: str, volume: str
) -> tuple[str, int | None, list[tuple[int, str, str, list[str]]]]:
    """A 册's sections in teaching order: (label, volume node id, [(node id, chapter, section, knowledge-point
    names)]); a chapter without sections stands for itself. The first edition found is taken."""
    grade_nodes = (
        await session.execute(
            select(TextbookNode).where(TextbookNode.level == "grade", TextbookNode.name == GRADE_NAMES.get(grade, ""))
        )
    ).scalars()
    for g in grade_nodes:
        for subj in await children(session, g.id):
            if subj.name != subject:
                continue
            for edition in await children(session, subj.id):
                vol = next((v for v in await children(session, edition.id) if v.name == volume), None)
                if vol is None:
                    continue
                return f"{edition.name} {g.name}{subject} {vol.name}", vol.id, await _volume_rows(session, vol)
    return "", None, []
