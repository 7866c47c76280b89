"""Who may see, edit, play and download a resource: the sharing scope applied to the asking user.

One rule set used twice: as a Python check on one resource and as a SQL condition for lists and search,
so a resource never shows in a list that its own page would refuse.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, true

from recorder.models import Resource
from recorder.review import Actor

STAFF = ("coordinator", "teacher", "observer")


def can_view(actor: Actor, r: Resource) -> bool:
    if actor.role == "coordinator":
        return True
    if actor.logged_in and r.teacher_user_id == actor.user_id:
        return True
    if r.status != "published":
        return False
    if r.scope == "public":
        return True
    if r.scope == "county":
        return actor.role in STAFF
    # school scope: the school's own staff, and the county's supervisors
    return actor.role == "observer" or (actor.role == "teacher" and actor.school_id == r.school_id)


def can_download(actor: Actor, r: Resource) -> bool:
    """The MP4 file leaves the platform: staff only (teachers, coordinators), never anonymous or viewers."""
    if not can_view(actor, r):
        return False
    return actor.role == "coordinator" or (actor.role == "teacher" and (
        r.teacher_user_id == actor.user_id or r.school_id == actor.school_id or r.scope in ("county", "public")
    ))  # fmt: skip


def can_edit(actor: Actor, r: Resource) -> bool:
    """Metadata and tags: coordinators always; the teacher while the resource is a draft."""
    if actor.role == "coordinator":
        return True
    return actor.role == "teacher" and r.teacher_user_id == actor.user_id and r.status == "draft"


def visible_condition(actor: Actor) -> ColumnElement[bool]:
    """`can_view` as a WHERE clause."""
    if actor.role == "coordinator":
        return true()
    published = Resource.status == "published"
    scopes = [Resource.scope == "public"]
    if actor.role in STAFF:
        scopes.append(Resource.scope == "county")
    if actor.role == "observer":
        scopes.append(Resource.scope == "school")
    elif actor.role == "teacher" and actor.school_id is not None:
        scopes.append(and_(Resource.scope == "school", Resource.school_id == actor.school_id))
    own = Resource.teacher_user_id == actor.user_id if actor.logged_in else false()
    return or_(and_(published, or_(*scopes)), own)
