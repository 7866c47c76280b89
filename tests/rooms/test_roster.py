"""rooms/roster.py: the staff index and hidden count stay right however the participants change, and a
broadcast viewer's snapshot shows what it showed when it was computed over the whole room."""

from __future__ import annotations

import random

from rooms.roles import Role, RoomKind, grants_for
from rooms.room import Participant, Room, _staff


def _person(i: int, role: Role, side: str = "") -> Participant:
    return Participant(f"{role.value}:{i}", f"p{i}", role, grants_for(role, RoomKind.BROADCAST, "r"), float(i),
                       meta={"side": side})  # fmt: skip


def _check(room: Room) -> None:
    people = list(room.participants.values())
    roster = room.participants
    assert set(roster.staff) == {p.id for p in people if _staff(p)}  # type: ignore[attr-defined]
    assert roster.hidden == sum(p.hidden for p in people)  # type: ignore[attr-defined]


def test_index_follows_every_kind_of_change() -> None:
    rng = random.Random(9)
    roles = [Role.VIEWER] * 6 + [Role.HUB_TEACHER, Role.OBSERVER, Role.COORDINATOR]
    room = Room(id="r", kind=RoomKind.BROADCAST, title="t",
                participants={"hub_teacher:0": _person(0, Role.HUB_TEACHER)})  # a plain dict becomes a roster
    _check(room)
    for _ in range(1, 600):
        p = _person(rng.randrange(40), rng.choice(roles))
        op = rng.randrange(7)
        if op <= 2:
            room.participants[p.id] = p
        elif op == 3:
            room.participants.pop(p.id, None)
        elif op == 4 and p.id in room.participants:
            del room.participants[p.id]
        elif op == 5:
            room.participants.setdefault(p.id, p)
        else:
            room.participants.update({p.id: p})
        _check(room)
    while room.participants:
        room.participants.popitem()
        _check(room)
    room.participants[p.id] = p
    room.participants.clear()
    _check(room)


def test_a_viewers_snapshot_names_staff_stage_and_itself_and_counts_the_rest() -> None:
    room = Room(id="r", kind=RoomKind.BROADCAST, title="t")
    teacher = _person(0, Role.HUB_TEACHER, "hub")
    observer = _person(1, Role.OBSERVER)
    viewers = [_person(i, Role.VIEWER) for i in range(2, 50)]
    for p in (teacher, observer, *viewers):
        room.participants[p.id] = p
    room.stage.invite(viewers[3].id)
    me = viewers[10]
    snap = room.snapshot(me)
    assert [p["id"] for p in snap["participants"]] == [teacher.id, viewers[3].id, me.id]  # not the observer
    assert snap["audience"] == 1 + len(viewers)  # the hidden observer is not counted for a viewer
    assert room.snapshot(observer)["audience"] == 2 + len(viewers)
    assert {p["id"] for p in room.snapshot(teacher)["participants"]} == {teacher.id, *(v.id for v in viewers)}
