"""A finished lesson files itself: its recording, a draft resource, goes under the section the lesson
taught, tagged with that section's knowledge points and titled from the lesson's facts
("四年级英语 Unit 3 Part A · 王老师 · 2026-12-03"). A teacher's correction re-files it.

The recorder learns what was taught through the small `TaughtSections` interface, implemented by the
web layer from the teaching progress; the recorder imports neither the web nor the scheduler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recorder.catalogue import GRADE_NAMES
from recorder.models import KnowledgePoint, Resource, TextbookNode
from recorder.resources import set_catalogue


@dataclass(frozen=True, slots=True)
class Taught:
    node_id: int  # the textbook section (or chapter) the lesson taught
    chapter: str
    section: str


class TaughtSections(Protocol):
    async def taught(self, room_id: str) -> Taught | None: ...


def short_label(chapter: str, section: str) -> str:
    """"Unit 3 Weather" + "Part A" → "Unit 3 Part A"; "第一章 有理数" + "1.3 有理数的加减法" → the section."""
    if not section:
        return chapter
    words = chapter.split()
    if len(words) >= 2 and words[0].lower() == "unit":
        return f"{words[0]} {words[1]} {section}"
    return section if section[:1].isdigit() or section.startswith("第") else f"{chapter} {section}"


def filing_title(resource: Resource, taught: Taught) -> str:
    parts = [f"{GRADE_NAMES.get(resource.grade, '')}{resource.subject} {short_label(taught.chapter, taught.section)}"]
    if resource.teacher_name:
        parts.append(resource.teacher_name)
    if resource.lesson_date:
        parts.append(resource.lesson_date.isoformat())
    return " · ".join(p.strip() for p in parts)[:200]


async def section_points(session: AsyncSession, node_id: int) -> list[int]:
    """Knowledge points a section teaches (its chapter's when it names none)."""
    node = await session.get(TextbookNode, node_id)
    if node is None:
        return []
    idents = json.loads(node.knowledge or "[]")
    if not idents and node.parent_id is not None:
        parent = await session.get(TextbookNode, node.parent_id)
        idents = json.loads(parent.knowledge or "[]") if parent is not None else []
    if not idents:
        return []
    rows = await session.execute(select(KnowledgePoint.id).where(KnowledgePoint.identifier.in_(idents)))
    return list(rows.scalars())


async def file_taught(session: AsyncSession, resource: Resource, sections: TaughtSections) -> bool:
    """File a draft under what its lesson taught; False when the lesson had no planned section (or the
    resource has left the draft state: then a reviewer's filing stands)."""
    if resource.status != "draft" or not resource.room_id:
        return False
    taught = await sections.taught(resource.room_id)
    if taught is None or await session.get(TextbookNode, taught.node_id) is None:
        return False
    await set_catalogue(
        session, resource, textbook_node_id=taught.node_id,
        knowledge_point_ids=await section_points(session, taught.node_id), title=filing_title(resource, taught),
    )  # fmt: skip
    return True


async def refile_room(session: AsyncSession, room_id: str, sections: TaughtSections) -> list[int]:
    """After a correction: re-file the room's recorded drafts; returns the resources re-filed."""
    rows = await session.execute(
        select(Resource).where(Resource.room_id == room_id, Resource.recording_id.is_not(None))
    )
    return [r.id for r in rows.scalars() if await file_taught(session, r, sections)]
