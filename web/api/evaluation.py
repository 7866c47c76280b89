"""名师课堂 评课 over HTTP: the county's rubrics (coordinators edit), an evaluator's scores of a lesson, the
aggregate for the lead teacher and coordinators, and the summary the library shows to those allowed."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from core.audit import audit
from core.directory import User
from rooms.evaluation import EvaluationStore, aggregate, evaluation_json
from rooms.records import RoomMember, RoomRecord
from web.auth import current_user, require_role
from web.errors import ApiError, parse_body
from web.keys import DB
from web.openapi import route

MAX_SECONDS = 6 * 3600


class DimensionBody(BaseModel):
    key: str = Field(default="", max_length=32)
    name: str = Field(min_length=1, max_length=40)
    weight: int = Field(ge=1, le=100)
    description: str = Field(default="", max_length=200)


class RubricBody(BaseModel):
    name: str = Field(default="县域评课量表", min_length=1, max_length=120)
    dimensions: list[DimensionBody] = Field(min_length=1, max_length=10)


class Moment(BaseModel):
    t: float = Field(ge=0, le=MAX_SECONDS, description="seconds into the recording")
    note: str = Field(min_length=1, max_length=200)


class EvaluationBody(BaseModel):
    scores: dict[str, int]
    notes: dict[str, Annotated[str, Field(max_length=500)]] = Field(default_factory=dict)
    comment: str = Field(default="", max_length=2000)
    moments: list[Moment] = Field(default_factory=list, max_length=50)


async def _room(request: web.Request) -> tuple[RoomRecord, list[RoomMember]]:
    async with request.app[DB].session() as s:
        r = await s.get(RoomRecord, request.match_info["id"])
        if r is None:
            raise ApiError(404, "not_found", "no such room", "id")
        members = list((await s.execute(select(RoomMember).where(RoomMember.room_id == r.id))).scalars())
        return r, members


def evaluator_role(user: User, r: RoomRecord, members: list[RoomMember]) -> str | None:
    """Observers, co-teachers, visiting teachers and coordinators score a lesson; its own teacher does not."""
    if user.role in ("observer", "coordinator"):
        return user.role
    if user.role == "teacher" and r.host_user_id != user.id:
        return "coteacher" if any(m.user_id == user.id and m.role == "coteacher" for m in members) else "teacher"
    return None


def sees_aggregate(user: User, r: RoomRecord) -> bool:
    return user.role == "coordinator" or r.host_user_id == user.id


def sees_summary(user: User, r: RoomRecord, members: list[RoomMember]) -> bool:
    return sees_aggregate(user, r) or user.role == "observer" or any(m.user_id == user.id for m in members)


async def list_rubrics(request: web.Request) -> web.Response:
    await current_user(request)
    store = EvaluationStore(request.app[DB])
    return web.json_response({"rubrics": [await store.rubric(k) for k in ("coteach", "delivery", "broadcast")]})


async def put_rubric(request: web.Request) -> web.Response:
    user = await require_role(request, "coordinator")
    body = await parse_body(request, RubricBody)
    kind = request.match_info["kind"]
    rubric = await EvaluationStore(request.app[DB]).set_rubric(
        kind, body.name, [d.model_dump() for d in body.dimensions], user.username)
    async with request.app[DB].session() as s:
        audit(s, user.username, "rubric.update", kind, dimensions=len(body.dimensions))
        await s.commit()
    return web.json_response({"rubric": rubric})


async def get_evaluation(request: web.Request) -> web.Response:
    user = await current_user(request)
    r, members = await _room(request)
    store = EvaluationStore(request.app[DB])
    role = evaluator_role(user, r, members)
    mine = await store.mine(r.id, user.id)
    out: dict[str, Any] = {
        "room": {"id": r.id, "title": r.title, "kind": r.kind, "state": r.state,
                 "live_at": r.live_at.isoformat() if r.live_at else None},
        "rubric": {"dimensions": mine.rubric} if mine else await store.rubric(r.kind),
        "can_evaluate": role is not None, "can_see_aggregate": sees_aggregate(user, r),
        "mine": evaluation_json(mine) if mine else None,
    }
    if sees_aggregate(user, r):
        evaluations = await store.for_room(r.id)
        out["aggregate"] = aggregate(evaluations)
        out["evaluations"] = [evaluation_json(e) for e in evaluations]
    elif role is None and not sees_summary(user, r, members):
        raise ApiError(403, "forbidden", "评课 is for observers, co-teachers, the lead teacher and coordinators")
    return web.json_response(out)


async def put_evaluation(request: web.Request) -> web.Response:
    user = await current_user(request)
    r, members = await _room(request)
    role = evaluator_role(user, r, members)
    if role is None:
        raise ApiError(403, "forbidden", "observers and co-teachers evaluate a lesson, not its own teacher")
    if r.state == "scheduled":
        raise ApiError(409, "too_early", "a lesson is evaluated during or after it", "id")
    body = await parse_body(request, EvaluationBody)
    e = await EvaluationStore(request.app[DB]).submit(
        r.id, r.kind, user.id, user.display_name, role, body.scores, body.notes, body.comment.strip(),
        [m.model_dump() for m in body.moments])
    return web.json_response({"evaluation": evaluation_json(e)})


async def summary(request: web.Request) -> web.Response:
    """What the library shows beside a recording: mean scores and the moments, for those allowed."""
    user = await current_user(request)
    r, members = await _room(request)
    if not (sees_summary(user, r, members) or evaluator_role(user, r, members) == "teacher"):
        raise ApiError(403, "forbidden", "the evaluation summary is for the lesson's teachers and supervisors")
    evaluations = await EvaluationStore(request.app[DB]).for_room(r.id)
    return web.json_response({"room_id": r.id, "summary": aggregate(evaluations, with_comments=sees_summary(user, r, members))})


def setup(app: web.Application) -> None:
    tag = "evaluation"
    route(app, "GET", "/api/rubrics", list_rubrics, "评课: the county's rubric per room kind", tag=tag)
    route(app, "PUT", "/api/rubrics/{kind}", put_rubric, "Edit a rubric (coordinator)", RubricBody, tag)
    route(app, "GET", "/api/rooms/{id}/evaluation", get_evaluation, "评课 of a lesson: rubric, mine, aggregate", tag=tag)
    route(app, "PUT", "/api/rooms/{id}/evaluation", put_evaluation, "Submit or change my 评课", EvaluationBody, tag)
    route(app, "GET", "/api/rooms/{id}/evaluation/summary", summary, "评课 summary for the library", tag=tag)
