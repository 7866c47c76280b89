"""Knowledge-point trees: the documented JSON format (docs/knowledge-format.md), its checks, the import,
and the questions the library asks of the tree (descendants, related points).

The format follows 1EdTech CASE (CFDocument, CFItems, CFAssociations) so that a county can bring a
framework exported from elsewhere; only `isChildOf`, `precedes` and `isRelatedTo` are kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.uploads import check_json
from recorder.models import KnowledgeAssociation, KnowledgeFramework, KnowledgePoint

AssociationType = Literal["isChildOf", "precedes", "isRelatedTo"]
FORMAT = "sanke-knowledge/1"
DATA_DIR = Path(__file__).resolve().parent / "data" / "knowledge"
STAGES = ("小学", "初中", "高中")
MAX_DEPTH = 32  # isChildOf levels: the materialised path (String(400)) and the nested tree stay bounded


class KnowledgeFormatError(ValueError):
    """The file is not a valid framework; `field` names where (e.g. `CFItems[3].identifier`)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.message = message
        self.field = field

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # crosses the upload worker's process boundary
        return (type(self), (self.message, self.field))


class _Node(BaseModel):
    model_config = ConfigDict(extra="ignore")
    identifier: str = Field(min_length=1, max_length=120)


class CFDocument(BaseModel):
    model_config = ConfigDict(extra="ignore")
    identifier: str = Field(min_length=1, max_length=120)
    title: str = Field(min_length=1, max_length=200)
    educationLevel: str = Field(description="学段: 小学, 初中 or 高中")
    subject: str = Field(min_length=1, max_length=32)
    version: str = Field(default="", max_length=40)

    @field_validator("educationLevel", "subject", mode="before")
    @classmethod
    def _first_of_list(cls, v: Any) -> Any:
        return v[0] if isinstance(v, list) and v else v

    @field_validator("educationLevel")
    @classmethod
    def _stage(cls, v: str) -> str:
        if v not in STAGES:
            raise ValueError(f"must be one of {', '.join(STAGES)}")
        return v


class CFItem(BaseModel):
    model_config = ConfigDict(extra="ignore")
    identifier: str = Field(min_length=1, max_length=120)
    fullStatement: str = Field(min_length=1, max_length=200)
    humanCodingScheme: str = Field(default="", max_length=40)
    CFItemType: str = Field(default="", max_length=40)
    notes: str = Field(default="", max_length=2000)


class CFAssociation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    associationType: AssociationType
    originNodeURI: _Node
    destinationNodeURI: _Node

    @field_validator("originNodeURI", "destinationNodeURI", mode="before")
    @classmethod
    def _plain_identifier(cls, v: Any) -> Any:
        return {"identifier": v} if isinstance(v, str) else v


class Framework(BaseModel):
    """A parsed, checked knowledge framework (one 学段 + 学科)."""

    model_config = ConfigDict(extra="ignore")
    format: Literal["sanke-knowledge/1"] = FORMAT
    CFDocument: CFDocument
    CFItems: list[CFItem] = Field(min_length=1, max_length=5000)
    CFAssociations: list[CFAssociation] = Field(default_factory=list, max_length=20000)

    def parents(self) -> dict[str, str]:
        return {
            a.originNodeURI.identifier: a.destinationNodeURI.identifier
            for a in self.CFAssociations
            if a.associationType == "isChildOf"
        }


def _loc(err: dict) -> str:
    out = ""
    for part in err["loc"]:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_framework(data: dict | str | bytes) -> Framework:
    """Parse and check a framework; the first problem found is raised with the field it concerns."""
    if isinstance(data, str | bytes):
        check_json(data, "knowledge.json")  # depth and item count before json.loads recurses
    try:
        raw = json.loads(data) if isinstance(data, str | bytes) else data
    except ValueError as exc:
        raise KnowledgeFormatError(f"not valid JSON: {exc}", "") from exc
    try:
        fw = Framework.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise KnowledgeFormatError(err["msg"], _loc(err)) from exc
    seen: set[str] = set()
    for i, item in enumerate(fw.CFItems):
        if item.identifier in seen:
            raise KnowledgeFormatError(
                f"identifier {item.identifier!r} is used twice", f"CFItems[{i}].identifier"
            )
        seen.add(item.identifier)
    parents: dict[str, str] = {}
    for i, a in enumerate(fw.CFAssociations):
        for end in ("originNodeURI", "destinationNodeURI"):
            ident = getattr(a, end).identifier
            if ident not in seen:
                raise KnowledgeFormatError(f"no item {ident!r} in CFItems", f"CFAssociations[{i}].{end}")
        origin, dest = a.originNodeURI.identifier, a.destinationNodeURI.identifier
        if origin == dest:
            raise KnowledgeFormatError("an item cannot be associated with itself", f"CFAssociations[{i}]")
        if a.associationType == "isChildOf":
            if parents.get(origin, dest) != dest:
                raise KnowledgeFormatError(f"{origin!r} has two parents", f"CFAssociations[{i}]")
            parents[origin] = dest
    _check_acyclic(fw, parents)
    return fw


def _check_acyclic(fw: Framework, parents: dict[str, str]) -> None:
    """Cycles and depth, iteratively in O(items): a 5,000-deep isChildOf or 3,000-long precedes chain is
    answered in milliseconds, never by recursion."""
    depth: dict[str, int] = {}
    for start in parents:
        chain: list[str] = []
        on_chain: set[str] = set()
        node = start
        while node in parents and node not in depth:
            if node in on_chain:
                raise KnowledgeFormatError(f"isChildOf forms a cycle through {node!r}", "CFAssociations")
            on_chain.add(node)
            chain.append(node)
            node = parents[node]
        d = depth.get(node, 0)
        for n in reversed(chain):
            d += 1
            depth[n] = d
            if d > MAX_DEPTH:
                raise KnowledgeFormatError(
                    f"isChildOf nests {n!r} deeper than {MAX_DEPTH} levels (知识点层级不能超过 {MAX_DEPTH} 层)",
                    "CFAssociations",
                )
    follows: dict[str, list[str]] = {}
    for a in fw.CFAssociations:
        if a.associationType == "precedes":
            follows.setdefault(a.originNodeURI.identifier, []).append(a.destinationNodeURI.identifier)
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for root in follows:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(follows.get(root, ())))]
        while stack:
            node, children = stack[-1]
            for m in children:
                if state.get(m) == 1:
                    raise KnowledgeFormatError(f"precedes forms a cycle through {m!r}", "CFAssociations")
                if m not in state:
                    state[m] = 1
                    stack.append((m, iter(follows.get(m, ()))))
                    break
            else:
                state[node] = 2
                stack.pop()


async def import_framework(session: AsyncSession, fw: Framework) -> KnowledgeFramework:
    """Create or update a framework by its identifier; its points are upserted, associations replaced."""
    doc = fw.CFDocument
    row = (
        await session.execute(
            select(KnowledgeFramework).where(KnowledgeFramework.identifier == doc.identifier)
        )
    ).scalar_one_or_none()
    if row is None:
        row = KnowledgeFramework(identifier=doc.identifier)
        session.add(row)
    row.title, row.stage, row.subject, row.version = doc.title, doc.educationLevel, doc.subject, doc.version
    await session.flush()
    existing = {
        p.identifier: p
        for p in (
            await session.execute(select(KnowledgePoint).where(KnowledgePoint.framework_id == row.id))
        ).scalars()
    }
    points: dict[str, KnowledgePoint] = {}
    elsewhere: dict[str, KnowledgePoint] = {}  # one query per 500 identifiers, not one per item
    new = [item.identifier for item in fw.CFItems if item.identifier not in existing]
    for i in range(0, len(new), 500):
        rows = await session.execute(select(KnowledgePoint).where(KnowledgePoint.identifier.in_(new[i:i + 500])))
        elsewhere.update((p.identifier, p) for p in rows.scalars())
    for position, item in enumerate(fw.CFItems):
        point = existing.get(item.identifier)
        if point is None:
            point = elsewhere.get(item.identifier)
            if point is not None and point.framework_id != row.id:
                raise KnowledgeFormatError(
                    f"identifier {item.identifier!r} belongs to another framework", f"CFItems[{position}]"
                )
        if point is None:
            point = KnowledgePoint(framework_id=row.id, identifier=item.identifier)
            session.add(point)
        point.name, point.code, point.item_type = item.fullStatement, item.humanCodingScheme, item.CFItemType
        point.description, point.position, point.parent_id = item.notes, position, None
        points[item.identifier] = point
    await session.flush()
    ids = [p.id for p in points.values()]
    await session.execute(delete(KnowledgeAssociation).where(KnowledgeAssociation.origin_id.in_(ids)))
    parents = fw.parents()
    for a in fw.CFAssociations:
        origin, dest = points[a.originNodeURI.identifier], points[a.destinationNodeURI.identifier]
        session.add(KnowledgeAssociation(type=a.associationType, origin_id=origin.id, destination_id=dest.id))
    for ident, point in points.items():
        parent = parents.get(ident)
        point.parent_id = points[parent].id if parent else None
    for point in points.values():
        point.path = _path(point, points, parents)
    await session.flush()
    return row


def _path(point: KnowledgePoint, points: dict[str, KnowledgePoint], parents: dict[str, str]) -> str:
    chain = [point.id]
    ident = point.identifier
    while ident in parents:
        ident = parents[ident]
        chain.append(points[ident].id)
    return "/" + "/".join(str(i) for i in reversed(chain)) + "/"


def sample_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.json"))


async def import_samples(session: AsyncSession) -> list[KnowledgeFramework]:
    return [
        await import_framework(session, parse_framework(p.read_text(encoding="utf-8")))
        for p in sample_files()
    ]


async def subtree_ids(session: AsyncSession, point_ids: list[int]) -> set[int]:
    """The points and everything under them (a tag on a unit covers its points and vice versa)."""
    if not point_ids:
        return set()
    paths = (
        await session.execute(select(KnowledgePoint.path).where(KnowledgePoint.id.in_(point_ids)))
    ).scalars()
    out: set[int] = set(point_ids)
    for path in paths:
        out.update(
            (
                await session.execute(select(KnowledgePoint.id).where(KnowledgePoint.path.startswith(path)))
            ).scalars()
        )
    return out


async def related_ids(session: AsyncSession, point_ids: set[int]) -> dict[int, str]:
    """Points linked to these by `isRelatedTo` (either way) or `precedes` (either way), with the link."""
    if not point_ids:
        return {}
    rows = (
        await session.execute(
            select(KnowledgeAssociation).where(
                KnowledgeAssociation.type.in_(("isRelatedTo", "precedes")),
                (KnowledgeAssociation.origin_id.in_(point_ids))
                | (KnowledgeAssociation.destination_id.in_(point_ids)),
            )
        )
    ).scalars()
    out: dict[int, str] = {}
    for a in rows:
        if a.origin_id in point_ids and a.destination_id not in point_ids:
            out.setdefault(a.destination_id, "precedes" if a.type == "precedes" else a.type)
        if a.destination_id in point_ids and a.origin_id not in point_ids:
            out.setdefault(a.origin_id, "precededBy" if a.type == "precedes" else a.type)
    return out


async def tree(session: AsyncSession, framework_id: int) -> list[dict]:
    """The framework's points as nested dicts, in file order, for the browse page."""
    points = list(
        (
            await session.execute(
                select(KnowledgePoint)
                .where(KnowledgePoint.framework_id == framework_id)
                .order_by(KnowledgePoint.position)
            )
        ).scalars()
    )
    nodes = {
        p.id: {"id": p.id, "identifier": p.identifier, "code": p.code, "name": p.name, "children": []}
        for p in points
    }
    roots = []
    for p in points:
        (nodes[p.parent_id]["children"] if p.parent_id in nodes else roots).append(nodes[p.id])
    return roots
