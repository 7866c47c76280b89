"""按教学进度推送: what a remote classroom is offered for a lesson's section. The best-reviewed recordings of
the same section by other teachers, the section's courseware files (by anyone, the lesson's own teacher
included), and 课前复习 items for the prerequisite knowledge points (the graph's
`precedes` links into the section's points). Every list carries `recorder.access`'s visibility, so a
resource outside the viewer's scope or not yet published is never pushed."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recorder.access import visible_condition
from recorder.models import KnowledgeAssociation, KnowledgePoint, Resource, ResourceKnowledge
from recorder.review import Actor

BEST_FIRST = (Resource.review_score.desc(), Resource.published_at.desc(), Resource.id.desc())


@dataclass(slots=True)
class Review:
    point: str  # the prerequisite knowledge point
    resources: list[Resource] = field(default_factory=list)


@dataclass(slots=True)
class Push:
    recordings: list[Resource]
    review: list[Review]
    courseware: list[Resource] = field(default_factory=list)


def _published(actor: Actor):
    return (Resource.status == "published") & visible_condition(actor)


async def for_section(
    session: AsyncSession, actor: Actor, node_id: int, point_ids: list[int], *,
    exclude_teacher: int | None = None, limit: int = 5,
) -> Push:  # fmt: skip
    stmt = select(Resource).where(Resource.textbook_node_id == node_id, Resource.kind == "recording", _published(actor))
    if exclude_teacher is not None:
        stmt = stmt.where((Resource.teacher_user_id != exclude_teacher) | Resource.teacher_user_id.is_(None))
    recordings = list((await session.execute(stmt.order_by(*BEST_FIRST).limit(limit))).scalars())
    files = select(Resource).where(Resource.textbook_node_id == node_id, Resource.kind == "courseware",
                                   _published(actor))
    courseware = list((await session.execute(files.order_by(*BEST_FIRST).limit(limit))).scalars())
    review: list[Review] = []
    if point_ids:
        rows = await session.execute(
            select(KnowledgePoint)
            .join(KnowledgeAssociation, KnowledgeAssociation.origin_id == KnowledgePoint.id)
            .where(KnowledgeAssociation.type == "precedes", KnowledgeAssociation.destination_id.in_(point_ids),
                   KnowledgePoint.id.not_in(point_ids))
            .order_by(KnowledgePoint.position)
        )  # fmt: skip
        for kp in dict.fromkeys(rows.scalars()):
            tagged = select(ResourceKnowledge.resource_id).where(ResourceKnowledge.knowledge_point_id == kp.id)
            found = await session.execute(
                select(Resource).where(Resource.id.in_(tagged), _published(actor)).order_by(*BEST_FIRST).limit(3)
            )
            review.append(Review(kp.name, list(found.scalars())))
    return Push(recordings, review, courseware)


async def recording_of(session: AsyncSession, actor: Actor, room_id: str) -> Resource | None:
    """The room's recording if this viewer may see it (published in their scope)."""
    rows = await session.execute(
        select(Resource).where(Resource.room_id == room_id, Resource.recording_id.is_not(None),
                               Resource.kind == "recording", _published(actor))
    )
    return rows.scalars().first()
