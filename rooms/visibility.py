"""Which lessons a user sees, and how much of each: the county's line between schools applied to rooms.

Who is in a lesson (its members, who is present now, the live roster) is the business of the schools
taking part: a school sees its own lessons (hosted by its teachers) and those its classrooms or teachers
are in; the county's coordinators and observers see every lesson. Anyone else sees only what they need
to join: a broadcast (名校网络课堂) is open to every viewer, so it is listed — title, kind, state and
times, never who is in it. One rule, written once as SQL, so the listing and a room's own page agree.
"""

from __future__ import annotations

from enum import Enum

from sqlalchemy import ColumnElement, exists, false, or_, select, true

from core.directory import Classroom, User
from rooms.records import RoomMember, RoomRecord
from rooms.roles import RoomKind

COUNTY_WIDE = ("coordinator", "observer")


class Sight(Enum):
    NONE = 0  # not listed; its page answers 404 (never confirm what one may not see)
    JOIN = 1  # what joining needs, not who is in it
    FULL = 2  # members and who is present


def full_view(user: User) -> ColumnElement[bool]:
    """The rooms whose members and presence `user` may see, as a WHERE clause on RoomRecord."""
    if user.role in COUNTY_WIDE:
        return true()
    if user.role != "teacher":
        return false()
    mine = [RoomRecord.host_user_id == user.id, exists().where(
        RoomMember.room_id == RoomRecord.id, RoomMember.user_id == user.id)]
    if user.school_id is not None:
        colleagues = select(User.id).where(User.school_id == user.school_id)
        classrooms = select(Classroom.id).where(Classroom.school_id == user.school_id)
        mine += [RoomRecord.host_user_id.in_(colleagues), exists().where(
            RoomMember.room_id == RoomRecord.id,
            or_(RoomMember.user_id.in_(colleagues), RoomMember.classroom_id.in_(classrooms)))]
    return or_(*mine)


def listed(user: User) -> ColumnElement[bool]:
    """The rooms `user` sees at all: those seen in full, and every broadcast (open to any viewer)."""
    return or_(full_view(user), RoomRecord.kind == RoomKind.BROADCAST.value)


def sight(full: bool, kind: str) -> Sight:
    if full:
        return Sight.FULL
    return Sight.JOIN if kind == RoomKind.BROADCAST.value else Sight.NONE
