"""The stage's order and limits, and who receives what in each kind of room."""

from __future__ import annotations

import pytest

from rooms.audience import LAST_N, plan
from rooms.roles import Role, RoomKind, grants_for
from rooms.room import Participant, Room, TrackInfo
from rooms.stage import Stage, StageError


def test_hands_in_order_and_seat_limit() -> None:
    stage = Stage(seats=2)
    assert stage.raise_hand("c3", 3.0) and stage.raise_hand("c1", 1.0) and stage.raise_hand("c2", 2.0)
    assert not stage.raise_hand("c1", 9.0)  # a second raise keeps the first place
    assert stage.queue() == ["c1", "c2", "c3"]
    stage.invite("c2")
    stage.invite("c1")
    assert stage.on_stage == ["c2", "c1"] and stage.queue() == ["c3"]
    with pytest.raises(StageError) as e:
        stage.invite("c3")
    assert e.value.code == "stage_full"
    assert stage.forget("c2") and stage.on_stage == ["c1"]
    stage.invite("c3")
    assert stage.queue() == []


def _room(kind: RoomKind) -> Room:
    return Room(id="r", kind=kind, title="t")


def _add(room: Room, pid: str, role: Role, side: str = "", sources: tuple[str, ...] = ("camera", "microphone"),
         low: bool = False) -> Participant:
    p = Participant(pid, pid, role, grants_for(role, room.kind, room.id), 0.0, meta={"side": side})
    room.participants[pid] = p
    for s in sources:
        kind = "audio" if s == "microphone" else "video"
        room.tracks[f"{pid}:{s}"] = TrackInfo(f"{pid}:{s}", pid, kind, s)
        if low and s == "camera":
            room.tracks[f"{pid}:{s}:low"] = TrackInfo(f"{pid}:{s}:low", pid, kind, s, quality="low")
    return p


def test_delivery_1_plus_n() -> None:
    room = _room(RoomKind.DELIVERY)
    _add(room, "hub", Role.HUB_TEACHER, "hub", ("camera", "microphone", "screen"))
    for c in ("c1", "c2", "c3"):
        _add(room, c, Role.CLASSROOM, "remote", low=True)
    _add(room, "obs", Role.OBSERVER, sources=())
    p = plan(room)
    hub_tracks = {"hub:camera": "high", "hub:microphone": "high", "hub:screen": "high"}
    assert p["c1"] == hub_tracks  # classrooms see and hear the hub only
    # The hub sees every return video small and hears no classroom until one is on stage.
    assert p["hub"] == {"c1:camera": "low", "c2:camera": "low", "c3:camera": "low"}
    assert p["obs"]["c2:camera"] == "low" and "hub:camera" in p["obs"]

    room.stage.invite("c2")
    p = plan(room)
    assert p["c1"] == {**hub_tracks, "c2:camera": "high", "c2:microphone": "high"}
    assert p["hub"]["c2:camera"] == "high" and p["hub"]["c2:microphone"] == "high"
    assert "c1:microphone" not in p["hub"]
    assert "c2:camera" not in p["c2"]  # never oneself

    p = plan(room, {"hub": {"c2": "low", "c3": "off"}})
    assert p["hub"]["c2:camera"] == "low" and "c3:camera" not in p["hub"]


def test_n_plus_n_sees_other_classrooms() -> None:
    room = _room(RoomKind.DELIVERY)
    _add(room, "hub1", Role.HUB_TEACHER, "hub")
    _add(room, "hub2", Role.CLASSROOM, "hub")
    _add(room, "c1", Role.CLASSROOM, "remote")
    _add(room, "c2", Role.CLASSROOM, "remote")
    p = plan(room)
    assert {"hub1:camera", "hub2:camera", "hub1:microphone", "hub2:microphone"} <= p["c1"].keys()
    assert p["c1"]["c2:camera"] == "low" and "c2:microphone" not in p["c1"]


def test_coteach_last_n_by_recent_speakers() -> None:
    room = _room(RoomKind.COTEACH)
    for i in range(12):
        _add(room, f"t{i}", Role.COTEACHER)
    room.speakers = {"t11": 100.0, "t10": 99.0}
    p = plan(room)
    videos = [t for t in p["t0"] if t.endswith(":camera")]
    assert len(videos) == LAST_N  # the N most recent speakers, never oneself
    assert "t11:camera" in p["t0"] and "t10:camera" in p["t0"]


def test_broadcast_viewers_receive_only() -> None:
    room = _room(RoomKind.BROADCAST)
    _add(room, "hub", Role.HUB_TEACHER, "hub")
    viewer = _add(room, "v1", Role.VIEWER, sources=())
    assert not viewer.grants.can_publish
    p = plan(room)
    assert p["v1"] == {"hub:camera": "high", "hub:microphone": "high"}
    assert p["hub"] == {}
