"""The review workflow of a resource: draft → submitted → approved → published, and who may do each step.

Rules live here as data and pure functions so the HTTP layer, the tests and the page all read one table;
`apply_review` performs a step and writes it to the resource's history and to the audit log together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import audit
from core.db import utcnow
from core.errors import SankeError
from recorder.models import Resource, ReviewStep

Status = Literal["draft", "submitted", "approved", "published"]
Scope = Literal["school", "county", "public"]
Action = Literal["submit", "return", "approve", "publish", "unpublish"]
SCOPES: tuple[Scope, ...] = ("school", "county", "public")

# action → (from, to, roles allowed; "owner" is the resource's own teacher)
STEPS: dict[str, tuple[str, str, frozenset[str]]] = {
    "submit": ("draft", "submitted", frozenset({"owner", "coordinator"})),
    "return": ("submitted", "draft", frozenset({"coordinator"})),
    "approve": ("submitted", "approved", frozenset({"coordinator"})),
    "publish": ("approved", "published", frozenset({"coordinator"})),
    "unpublish": ("published", "approved", frozenset({"owner", "coordinator"})),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: a logged-in user (role from the directory) or nobody (user_id None)."""

    user_id: int | None
    username: str
    role: str  # coordinator | teacher | observer | viewer | "" for anonymous
    school_id: int | None = None

    @property
    def logged_in(self) -> bool:
        return self.user_id is not None


ANONYMOUS = Actor(None, "", "")


class ReviewError(SankeError):
    """A review step the actor may not take or the resource's status does not allow (status: web/errors.py)."""


def capacities(actor: Actor, resource: Resource) -> set[str]:
    out = {actor.role} if actor.role else set()
    if actor.logged_in and actor.role == "teacher" and resource.teacher_user_id == actor.user_id:
        out.add("owner")
    return out


def allowed_actions(actor: Actor, resource: Resource) -> list[str]:
    """The steps this actor may take now (what the page offers as buttons)."""
    caps = capacities(actor, resource)
    return [a for a, (src, _, roles) in STEPS.items() if resource.status == src and caps & roles]


def check_step(
    actor: Actor, resource: Resource, action: str, scope: str | None, submitter: int | None
) -> str:
    """Validate one step; return the status it leads to, or raise ReviewError saying why not."""
    if action not in STEPS:
        raise ReviewError("invalid_field", f"unknown action {action!r}", "action")
    src, dst, roles = STEPS[action]
    if not capacities(actor, resource) & roles:
        who = " or ".join(sorted("the resource's teacher" if r == "owner" else r for r in roles))
        raise ReviewError("forbidden", f"only {who} may {action}", "action")
    if resource.status != src:
        raise ReviewError(
            "wrong_status", f"cannot {action} a resource that is {resource.status}", "action"
        )
    if action == "approve" and submitter is not None and submitter == actor.user_id:
        raise ReviewError(
            "forbidden", "a resource is approved by someone other than who submitted it", "action"
        )
    if action == "publish" and scope not in SCOPES:
        raise ReviewError("invalid_field", f"scope must be one of {', '.join(SCOPES)}", "scope")
    return dst


async def last_submitter(session: AsyncSession, resource_id: int) -> int | None:
    row = (
        await session.execute(
            select(ReviewStep.actor_user_id)
            .where(ReviewStep.resource_id == resource_id, ReviewStep.action == "submit")
            .order_by(ReviewStep.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return row


async def apply_review(
    session: AsyncSession,
    actor: Actor,
    resource: Resource,
    action: str,
    scope: str | None = None,
    comment: str = "",
) -> ReviewStep:
    """Take one review step; the caller commits (the step, the resource and the audit entry together)."""
    submitter = await last_submitter(session, resource.id) if action == "approve" else None
    dst = check_step(actor, resource, action, scope, submitter)
    step = ReviewStep(
        resource_id=resource.id,
        action=action,
        from_status=resource.status,
        to_status=dst,
        actor_user_id=actor.user_id,
        actor=actor.username,
        scope=scope or "",
        comment=comment,
    )
    session.add(step)
    resource.status = dst
    resource.updated_at = utcnow()
    if action == "publish":
        resource.scope = scope or resource.scope
        resource.published_at = utcnow()
    audit(session, actor.username, f"library.{action}", f"resource:{resource.id}", title=resource.title,
          from_status=step.from_status, to_status=dst, scope=scope or "", comment=comment)  # fmt: skip
    await session.flush()
    return step


def step_json(s: ReviewStep) -> dict:
    return {
        "action": s.action,
        "from": s.from_status,
        "to": s.to_status,
        "actor": s.actor,
        "scope": s.scope,
        "comment": s.comment,
        "at": s.at.isoformat() if s.at else None,
    }
