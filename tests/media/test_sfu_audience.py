"""rooms/audience.py: who receives what, per room kind (pure, no media)."""

from __future__ import annotations

import pytest

from rooms import audience
from rooms.roles import Role, RoomKind, grants_for
from rooms.room import Participant, Room, TrackInfo


def _room(kind: RoomKind, people: list[tuple[str, Role, str]], low: bool = True) -> Room:
    room = Room(id="r", kind=kind, title="t")
    for pid, role, side in people:
        room.participants[pid] = Participant(
            id=pid, name=pid, role=role, grants=grants_for(role, kind, "r"), joined_at=0.0, meta={"side": side}
        )
        if grants_for(role, kind, "r").can_publish:
            room.tracks[f"{pid}:cam"] = TrackInfo(f"{pid}:cam", pid, "video", "camera", "high")
            room.tracks[f"{pid}:mic"] = TrackInfo(f"{pid}:mic", pid, "audio", "microphone", "high")
            if low:
                room.tracks[f"{pid}:cam-low"] = TrackInfo(f"{pid}:cam-low", pid, "video", "camera", "low")
    return room


def _delivery(hubs: int, remotes: int) -> Room:
    people = [("hub0", Role.HUB_TEACHER, "hub")] + [(f"hub{i}", Role.CLASSROOM, "hub") for i in range(1, hubs)]
    people += [(f"c{i}", Role.CLASSROOM, "remote") for i in range(remotes)]
    return _room(RoomKind.DELIVERY, people)


def test_delivery_1_plus_n_before_and_with_stage():
    room = _delivery(1, 3)
    room.tracks["hub0:screen"] = TrackInfo("hub0:screen", "hub0", "video", "screen", "high")
    plan = audience.plan(room)
    for c in ("c0", "c1", "c2"):
        assert plan[c] == {"hub0:cam": "high", "hub0:mic": "high", "hub0:screen": "high"}
    # the hub sees every classroom as a thumbnail and hears none of them
    assert plan["hub0"] == {"c0:cam": "low", "c1:cam": "low", "c2:cam": "low"}

    room.stage.invite("c1")
    plan = audience.plan(room)
    assert plan["hub0"] == {"c0:cam": "low", "c1:cam": "high", "c1:mic": "high", "c2:cam": "low"}
    for c in ("c0", "c2"):
        assert plan[c]["c1:cam"] == "high" and plan[c]["c1:mic"] == "high"
        assert not any(k.startswith(("c0:", "c2:")) for k in plan[c])
    assert "c1:cam" not in plan["c1"]


def test_delivery_n_plus_n_caps_other_classrooms(monkeypatch):
    monkeypatch.setattr(audience, "LAST_N", 2)
    room = _delivery(2, 4)
    plan = audience.plan(room)
    for c in ("c0", "c3"):
        videos = [k for k in plan[c] if k.endswith(":cam")]
        assert {"hub0:cam", "hub1:cam"} <= set(videos)
        others = [k for k in videos if k.startswith("c")]
        assert len(others) == 2 and all(plan[c][k] == "low" for k in others)
        assert all(not k.startswith("c") for k in plan[c] if k.endswith(":mic"))  # heard: hubs only
    assert {k for k in plan["hub0"] if k.endswith(":cam")} == {"hub1:cam", "c0:cam", "c1:cam", "c2:cam", "c3:cam"}


def test_coteach_last_n_follows_recent_speakers(monkeypatch):
    monkeypatch.setattr(audience, "LAST_N", 3)
    room = _room(RoomKind.COTEACH, [(f"t{i}", Role.COTEACHER, "") for i in range(6)])
    room.speakers.update({"t4": 100.0, "t2": 90.0, "t5": 80.0})
    plan = audience.plan(room)
    assert {k for k in plan["t0"] if k.endswith(":cam")} == {"t4:cam", "t2:cam", "t5:cam"}
    # a speaker sees the other recent speakers and the next in line; everyone hears everyone
    assert {k for k in plan["t4"] if k.endswith(":cam")} == {"t2:cam", "t5:cam", "t0:cam"}
    for pid in room.participants:
        assert {k for k in plan[pid] if k.endswith(":mic")} == {f"t{i}:mic" for i in range(6)} - {f"{pid}:mic"}


@pytest.mark.parametrize("n", [1, 4])
def test_broadcast_viewers_only_receive(n):
    people = [("hub0", Role.HUB_TEACHER, "hub")] + [(f"v{i}", Role.CLASSROOM, "") for i in range(n)]
    room = _room(RoomKind.BROADCAST, people)
    plan = audience.plan(room)
    assert not any(k.startswith("v") for k in room.tracks)  # viewers cannot publish in a broadcast
    for i in range(n):
        assert plan[f"v{i}"] == {"hub0:cam": "high", "hub0:mic": "high"}


def test_client_preference_turns_a_camera_to_low_or_off():
    room = _delivery(1, 2)
    room.stage.invite("c0")
    plan = audience.plan(room, {"hub0": {"c0": "low", "c1": "off"}})
    assert plan["hub0"] == {"c0:cam": "low", "c0:mic": "high"}
