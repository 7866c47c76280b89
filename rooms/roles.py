"""Roles in a room and the grants each one carries, per room kind."""

from __future__ import annotations

import functools
from enum import StrEnum

from core.tokens import Grants, Source


class RoomKind(StrEnum):
    DELIVERY = "delivery"  # 专递课堂: 1+N and N+N
    COTEACH = "coteach"  # 名师课堂: co-teaching, collective preparation, observation
    BROADCAST = "broadcast"  # 名校网络课堂: watch-only audience


class Role(StrEnum):
    COORDINATOR = "coordinator"
    HUB_TEACHER = "hub_teacher"
    CLASSROOM = "classroom"  # the remote classroom PC, run by the assistant teacher
    COTEACHER = "coteacher"
    OBSERVER = "observer"  # silent and hidden
    VIEWER = "viewer"
    RECORDER = "recorder"  # the recording service


ALL_SOURCES: tuple[Source, ...] = ("camera", "microphone", "screen")
RETURN_SOURCES: tuple[Source, ...] = ("camera", "microphone")


def grants_for(role: Role, kind: RoomKind, room_id: str) -> Grants:
    """The one table of who may do what; tokens carry its result and every message is checked against it."""
    base = functools.partial(Grants, room=room_id, room_join=True, can_subscribe=True)
    match role:
        case Role.HUB_TEACHER:
            return base(can_publish=True, can_publish_sources=ALL_SOURCES, room_admin=True, room_record=True)
        case Role.COTEACHER:
            return base(can_publish=True, can_publish_sources=ALL_SOURCES)
        case Role.CLASSROOM if kind != RoomKind.BROADCAST:
            return base(can_publish=True, can_publish_sources=RETURN_SOURCES)
        case Role.COORDINATOR:
            return base(room_admin=True, hidden=True)
        case Role.OBSERVER:
            return base(hidden=True)
        case Role.RECORDER:  # takes encoded frames in-process from the SFU; subscribes to nothing
            return Grants(room=room_id, room_join=True, room_record=True)
        case _:
            return base()
