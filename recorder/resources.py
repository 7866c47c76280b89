"""Resources: a finished recording filed in the library with its lesson's metadata, chapter and tags.

The lesson's facts (school, teacher, subject, grade, date, classrooms) come from the room and its
timetable entry; the web layer gathers them (the recorder does not read other packages' tables) and
hands them over as `LessonFacts`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.errors import SankeError
from recorder import segment
from recorder.catalogue import GRADE_NAMES, lineage, stage_of
from recorder.index import RecordingIndex
from recorder.models import KnowledgePoint, Resource, ResourceKnowledge, TextbookNode

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
BODY_TEXT = 4000  # characters of a courseware file's text that are indexed


@dataclass(slots=True)
class LessonFacts:
    room_id: str
    title: str
    room_kind: str = ""
    subject: str = ""
    grade: int = 0
    teacher_user_id: int | None = None
    teacher_name: str = ""
    school_id: int | None = None
    school_name: str = ""
    classrooms: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    timetable_ref: str = ""


class ResourceError(SankeError):
    """A catalogue change naming a node or knowledge point that cannot hold it (HTTP status: web/errors.py)."""


async def create_from_recording(
    session: AsyncSession, facts: LessonFacts, recording_id: str, index: RecordingIndex | None = None
) -> Resource:
    """File a recording as a draft resource; calling it again for the same recording returns the same row."""
    existing = (
        await session.execute(select(Resource).where(Resource.recording_id == recording_id))
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    started = facts.started_at
    if started is None and index is not None:
        started = datetime.fromisoformat(index.started_at)
    resource = Resource(
        recording_id=recording_id,
        room_id=facts.room_id,
        room_kind=facts.room_kind,
        timetable_ref=facts.timetable_ref,
        title=facts.title,
        school_id=facts.school_id,
        school_name=facts.school_name,
        teacher_user_id=facts.teacher_user_id,
        teacher_name=facts.teacher_name,
        stage=stage_of(facts.grade),
        grade=facts.grade,
        subject=facts.subject,
        started_at=started,
        lesson_date=started.astimezone(CHINA).date() if started else None,
        duration=index.duration if index else 0.0,
        classrooms=json.dumps(facts.classrooms, ensure_ascii=False),
        status="draft",
        scope="school",
    )
    session.add(resource)
    await session.flush()
    await refresh_search_text(session, resource)
    return resource


async def set_catalogue(
    session: AsyncSession,
    resource: Resource,
    *,
    textbook_node_id: int | None = None,
    knowledge_point_ids: list[int] | None = None,
    title: str | None = None,
    description: str | None = None,
) -> Resource:
    """File under a chapter/section and tag with knowledge points (None leaves a field as it is)."""
    if textbook_node_id is not None:
        node = await session.get(TextbookNode, textbook_node_id)
        if node is None or node.level not in ("chapter", "section"):
            raise ResourceError(
                "invalid_field", "file a lesson under a chapter or a section", "textbook_node_id"
            )
        resource.textbook_node_id = node.id
    if knowledge_point_ids is not None:
        found = set(
            (
                await session.execute(
                    select(KnowledgePoint.id).where(KnowledgePoint.id.in_(knowledge_point_ids))
                )
            ).scalars()
        )
        if missing := [i for i in knowledge_point_ids if i not in found]:
            raise ResourceError("not_found", f"no knowledge point {missing[0]}", "knowledge_point_ids")
        await session.execute(delete(ResourceKnowledge).where(ResourceKnowledge.resource_id == resource.id))
        for kp in dict.fromkeys(knowledge_point_ids):
            session.add(ResourceKnowledge(resource_id=resource.id, knowledge_point_id=kp))
    if title is not None:
        resource.title = title
    if description is not None:
        resource.description = description
    resource.updated_at = utcnow()
    await session.flush()
    await refresh_search_text(session, resource)
    return resource


async def knowledge_of(session: AsyncSession, resource_ids: list[int]) -> dict[int, list[KnowledgePoint]]:
    rows = await session.execute(
        select(ResourceKnowledge.resource_id, KnowledgePoint)
        .join(KnowledgePoint, KnowledgePoint.id == ResourceKnowledge.knowledge_point_id)
        .where(ResourceKnowledge.resource_id.in_(resource_ids))
        .order_by(KnowledgePoint.position)
    )
    out: dict[int, list[KnowledgePoint]] = {i: [] for i in resource_ids}
    for rid, kp in rows:
        out[rid].append(kp)
    return out


def index_fields(resource: Resource, chapter_names: list[str], point_names: list[str]) -> None:
    """Fill the search columns: the substring column, and the segmented title / topic / body the full-text
    index ranks (title weighs most, then the chapter, section and knowledge points, then the rest)."""
    body = [
        resource.description, resource.teacher_name, resource.school_name, resource.subject,
        resource.stage, GRADE_NAMES.get(resource.grade, ""), " ".join(json.loads(resource.classrooms or "[]")),
        (resource.content_text or "")[:BODY_TEXT],  # a courseware file's own words (recorder.courseware)
    ]  # fmt: skip
    parts = [resource.title, *body, *chapter_names, *point_names]
    resource.search_text = " ".join(p for p in parts if p).lower()
    resource.search_title = segment.index_text(resource.title)
    resource.search_topic = segment.index_text(" ".join([*chapter_names, *point_names]))
    resource.search_body = segment.index_text(" ".join(p for p in body if p))


async def refresh_search_text(session: AsyncSession, resource: Resource) -> None:
    """Re-index a resource after its metadata, chapter or tags changed."""
    chapters = []
    if resource.textbook_node_id:
        chapters = [n.name for n in await lineage(session, resource.textbook_node_id)]
    points = [kp.name for kp in (await knowledge_of(session, [resource.id]))[resource.id]]
    index_fields(resource, chapters, points)
    await session.flush()


def suggested_knowledge(node: TextbookNode | None) -> list[str]:
    """Knowledge-point identifiers the chapter/section teaches, offered as tags."""
    return json.loads(node.knowledge or "[]") if node is not None else []


async def resource_json(session: AsyncSession, r: Resource, *, detail: bool = False) -> dict:
    out = {
        "id": r.id,
        "kind": r.kind,
        "recording_id": r.recording_id,
        "room_id": r.room_id,
        "title": r.title,
        "school": {"id": r.school_id, "name": r.school_name},
        "teacher": {"id": r.teacher_user_id, "name": r.teacher_name},
        "stage": r.stage,
        "grade": r.grade,
        "grade_name": GRADE_NAMES.get(r.grade, ""),
        "subject": r.subject,
        "date": r.lesson_date.isoformat() if r.lesson_date else None,
        "duration": r.duration,
        "status": r.status,
        "scope": r.scope,
        "classrooms": json.loads(r.classrooms or "[]"),
        "knowledge_points": [
            {"id": kp.id, "identifier": kp.identifier, "name": kp.name}
            for kp in (await knowledge_of(session, [r.id]))[r.id]
        ],
    }
    if r.kind == "courseware":
        out["file"] = {"name": r.file_name, "type": r.file_type, "size": r.file_size, "pages": r.pages}
    nodes = await lineage(session, r.textbook_node_id) if r.textbook_node_id else []
    out["textbook"] = [{"id": n.id, "level": n.level, "name": n.name} for n in nodes]
    if detail:
        out.update(
            description=r.description,
            room_kind=r.room_kind,
            timetable_ref=r.timetable_ref,
            started_at=r.started_at.isoformat() if r.started_at else None,
            published_at=r.published_at.isoformat() if r.published_at else None,
        )
    return out
