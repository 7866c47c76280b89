"""名师课堂 评课: the county's rubric per room kind (dimensions, weights, 1–5 scales), evaluations by observers
and co-teachers attached to moments of the recording, and the aggregate the lead teacher and coordinator see.

A score is 1–5 per dimension; an evaluation's total is the weighted mean scaled to 100 (5 everywhere = 100).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.db import Database, utcnow
from core.errors import SankeError
from rooms.evaluation_records import EvaluationRecord, RubricRecord

KINDS = ("coteach", "delivery", "broadcast")
MAX_DIMENSIONS = 10
DEFAULT_DIMENSIONS = [
    ("goals", "教学目标", 15, "目标明确，符合课标与学情"),
    ("content", "教学内容", 20, "内容准确，重点突出，难点突破"),
    ("method", "教学方法", 20, "方法得当，信息技术运用合理"),
    ("interaction", "师生互动", 25, "主讲与各听讲教室互动充分，关注远端学生"),
    ("effect", "教学效果", 20, "目标达成，学生参与度高"),
]


class EvaluationError(SankeError):
    """A rubric or evaluation the county's rules refuse (code + field)."""


@dataclass(slots=True, frozen=True)
class Dimension:
    key: str
    name: str
    weight: int
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "weight": self.weight, "description": self.description}


def default_rubric(kind: str) -> list[dict[str, Any]]:
    return [Dimension(k, n, w, d).to_dict() for k, n, w, d in DEFAULT_DIMENSIONS]


def check_dimensions(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keys unique and simple, names present, weights whole numbers summing to 100."""
    if not 1 <= len(raw) <= MAX_DIMENSIONS:
        raise EvaluationError("invalid_field", f"a rubric has 1 to {MAX_DIMENSIONS} dimensions", "dimensions")
    out, seen = [], set()
    for i, d in enumerate(raw):
        key = str(d.get("key") or f"d{i + 1}")
        if not re.fullmatch(r"[a-z0-9_]{1,32}", key) or key in seen:
            raise EvaluationError("invalid_field", "each dimension needs its own short key (a-z, 0-9, _)",
                                  f"dimensions.{i}.key")
        seen.add(key)
        name = str(d.get("name") or "").strip()
        if not 1 <= len(name) <= 40:
            raise EvaluationError("invalid_field", "a dimension needs a name (up to 40 characters)",
                                  f"dimensions.{i}.name")
        weight = d.get("weight")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
            raise EvaluationError("invalid_field", "a weight is a whole number 1–100", f"dimensions.{i}.weight")
        out.append(Dimension(key, name, weight, str(d.get("description") or "")[:200]).to_dict())
    if sum(d["weight"] for d in out) != 100:
        raise EvaluationError("invalid_field", "the weights must add up to 100", "dimensions")
    return out


def weighted_total(rubric: list[dict[str, Any]], scores: dict[str, int]) -> float:
    return round(sum(d["weight"] * scores[d["key"]] / 5 for d in rubric), 1)


def evaluation_json(e: EvaluationRecord) -> dict[str, Any]:
    return {
        "id": e.id, "room_id": e.room_id, "user_id": e.user_id, "evaluator": e.evaluator, "role": e.role,
        "rubric": e.rubric, "scores": e.scores, "notes": e.notes, "comment": e.comment, "moments": e.moments,
        "total": e.total, "updated_at": e.updated_at.isoformat(),
    }


class EvaluationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def rubric(self, kind: str) -> dict[str, Any]:
        if kind not in KINDS:
            raise EvaluationError("not_found", "no such room kind", "kind")
        async with self.db.session() as s:
            r = (await s.execute(select(RubricRecord).where(RubricRecord.kind == kind))).scalar_one_or_none()
        if r is None:
            return {"kind": kind, "name": "县域评课量表", "dimensions": default_rubric(kind), "default": True}
        return {"kind": kind, "name": r.name, "dimensions": r.dimensions, "default": False,
                "updated_by": r.updated_by, "updated_at": r.updated_at.isoformat()}

    async def set_rubric(self, kind: str, name: str, dimensions: list[dict[str, Any]], by: str) -> dict[str, Any]:
        if kind not in KINDS:
            raise EvaluationError("not_found", "no such room kind", "kind")
        dims = check_dimensions(dimensions)
        async with self.db.session() as s:
            r = (await s.execute(select(RubricRecord).where(RubricRecord.kind == kind))).scalar_one_or_none()
            if r is None:
                s.add(RubricRecord(kind=kind, name=name, dimensions=dims, updated_by=by))
            else:
                r.name, r.dimensions, r.updated_by, r.updated_at = name, dims, by, utcnow()
            await s.commit()
        return await self.rubric(kind)

    async def submit(self, room_id: str, kind: str, user_id: int, evaluator: str, role: str,
                     scores: dict[str, int], notes: dict[str, str], comment: str,
                     moments: list[dict[str, Any]]) -> EvaluationRecord:
        """Add or replace this evaluator's 评课 of the lesson (during or after it)."""
        async with self.db.session() as s:
            e = (await s.execute(select(EvaluationRecord).where(
                EvaluationRecord.room_id == room_id, EvaluationRecord.user_id == user_id))).scalar_one_or_none()
        rubric = e.rubric if e is not None else (await self.rubric(kind))["dimensions"]
        keys = [d["key"] for d in rubric]
        for key in scores:
            if key not in keys:
                raise EvaluationError("invalid_field", "this rubric has no such dimension", f"scores.{key}")
        for key in keys:
            v = scores.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 5:
                raise EvaluationError("invalid_field", "score every dimension from 1 to 5", f"scores.{key}")
        notes = {k: v for k, v in notes.items() if k in keys and v.strip()}
        total = weighted_total(rubric, scores)
        async with self.db.session() as s:
            e = (await s.execute(select(EvaluationRecord).where(
                EvaluationRecord.room_id == room_id, EvaluationRecord.user_id == user_id))).scalar_one_or_none()
            if e is None:
                e = EvaluationRecord(room_id=room_id, user_id=user_id, evaluator=evaluator, role=role,
                                     rubric=rubric, scores=scores, notes=notes, comment=comment, moments=moments,
                                     total=total)
                s.add(e)
            else:
                e.scores, e.notes, e.comment, e.moments, e.total = scores, notes, comment, moments, total
                e.updated_at = utcnow()
            await s.commit()
            return e

    async def mine(self, room_id: str, user_id: int) -> EvaluationRecord | None:
        async with self.db.session() as s:
            return (await s.execute(select(EvaluationRecord).where(
                EvaluationRecord.room_id == room_id, EvaluationRecord.user_id == user_id))).scalar_one_or_none()

    async def for_room(self, room_id: str) -> list[EvaluationRecord]:
        async with self.db.session() as s:
            return list((await s.execute(select(EvaluationRecord).where(EvaluationRecord.room_id == room_id)
                                         .order_by(EvaluationRecord.id))).scalars())


def aggregate(evaluations: list[EvaluationRecord], with_comments: bool = True) -> dict[str, Any]:
    """Mean per dimension and of the totals; comments and moments (sorted by time) when asked for."""
    if not evaluations:
        return {"count": 0, "total": None, "dimensions": [], "comments": [], "moments": []}
    names: dict[str, str] = {}
    per: dict[str, list[int]] = defaultdict(list)
    for e in evaluations:
        for d in e.rubric:
            names.setdefault(d["key"], d["name"])
            if d["key"] in e.scores:
                per[d["key"]].append(e.scores[d["key"]])
    out: dict[str, Any] = {
        "count": len(evaluations),
        "total": round(sum(e.total for e in evaluations) / len(evaluations), 1),
        "dimensions": [{"key": k, "name": names[k], "mean": round(sum(v) / len(v), 2), "count": len(v)}
                       for k, v in per.items()],
    }
    if with_comments:
        out["comments"] = [{"evaluator": e.evaluator, "role": e.role, "comment": e.comment, "notes": e.notes,
                            "total": e.total} for e in evaluations if e.comment or e.notes]
        out["moments"] = sorted(({"t": m["t"], "note": m["note"], "evaluator": e.evaluator}
                                 for e in evaluations for m in e.moments), key=lambda m: m["t"])
    return out
