"""Related resources from the knowledge graph: the same points, associated points, the same chapter.

Every query carries the visibility condition of `recorder.access`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recorder import knowledge
from recorder.access import visible_condition
from recorder.models import Resource, ResourceKnowledge
from recorder.review import Actor


@dataclass(slots=True)
class Related:
    resource: Resource
    reason: str  # same_knowledge | isRelatedTo | precedes | precededBy | same_chapter
    via: list[str]


async def related(session: AsyncSession, resource: Resource, actor: Actor, limit: int = 8) -> list[Related]:
    """Other lessons on the same points first, then on associated points, then in the same chapter."""
    own = set(
        (
            await session.execute(
                select(ResourceKnowledge.knowledge_point_id).where(
                    ResourceKnowledge.resource_id == resource.id
                )
            )
        ).scalars()
    )
    linked = await knowledge.related_ids(session, own)
    candidates: dict[int, tuple[int, str, list[int]]] = {}
    wanted = own | set(linked)
    if wanted:
        rows = await session.execute(
            select(ResourceKnowledge.resource_id, ResourceKnowledge.knowledge_point_id)
            .join(Resource, Resource.id == ResourceKnowledge.resource_id)
            .where(
                ResourceKnowledge.knowledge_point_id.in_(wanted),
                Resource.id != resource.id,
                visible_condition(actor),
            )
        )
        for rid, kp in rows:
            rank, reason = (0, "same_knowledge") if kp in own else (1, linked[kp])
            best = candidates.get(rid)
            if best is None or rank < best[0]:
                candidates[rid] = (rank, reason, [kp])
            elif rank == best[0]:
                best[2].append(kp)
    if resource.textbook_node_id:
        rows = await session.execute(
            select(Resource.id).where(
                Resource.textbook_node_id == resource.textbook_node_id,
                Resource.id != resource.id,
                visible_condition(actor),
            )
        )
        for (rid,) in rows:
            candidates.setdefault(rid, (2, "same_chapter", []))
    ordered = sorted(candidates.items(), key=lambda kv: (kv[1][0], -len(kv[1][2]), -kv[0]))[:limit]
    if not ordered:
        return []
    resources = {
        r.id: r
        for r in (
            await session.execute(select(Resource).where(Resource.id.in_([k for k, _ in ordered])))
        ).scalars()
    }
    names = dict(
        (await session.execute(select(knowledge.KnowledgePoint.id, knowledge.KnowledgePoint.name).where(
            knowledge.KnowledgePoint.id.in_({kp for _, (_, _, kps) in ordered for kp in kps})
        ))).all()
    )  # fmt: skip
    return [
        Related(resources[rid], reason, [names.get(kp, "") for kp in kps])
        for rid, (_, reason, kps) in ordered
    ]
