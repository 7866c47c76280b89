"""A live room's state on its node: participants, published tracks, the stage, the lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from core.tokens import Grants
from rooms.roles import Role, RoomKind
from rooms.roster import Roster
from rooms.stage import Stage


class RoomState(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    LIVE = "live"
    ENDED = "ended"


@dataclass(slots=True)
class TrackInfo:
    track_id: str
    participant_id: str
    kind: str  # audio | video
    source: str  # camera | microphone | screen
    quality: str = "high"  # high | low (a second, smaller camera track)
    codec: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "participant_id": self.participant_id,
            "kind": self.kind,
            "source": self.source,
            "quality": self.quality,
            "codec": self.codec,
        }


@dataclass(slots=True)
class Participant:
    id: str
    name: str
    role: Role
    grants: Grants
    joined_at: float
    meta: dict[str, Any] = field(default_factory=dict)
    connected: bool = True
    resume_hash: str = ""
    presence_id: int | None = None

    @property
    def hidden(self) -> bool:
        return self.grants.hidden

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "joined_at": self.joined_at,
            "connected": self.connected,
            "school": self.meta.get("school", ""),
            "classroom": self.meta.get("classroom", ""),
            "side": self.meta.get("side", ""),
        }


@dataclass(slots=True)
class Room:
    id: str
    kind: RoomKind
    title: str
    state: RoomState = RoomState.OPEN
    stage: Stage = field(default_factory=Stage)
    participants: dict[str, Participant] = field(default_factory=lambda: Roster(_staff))
    tracks: dict[str, TrackInfo] = field(default_factory=dict)
    speakers: dict[str, float] = field(default_factory=dict)  # participant → last time heard
    record: bool = True
    times: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.participants, Roster):
            self.participants = Roster(_staff, self.participants)

    def visible_to(self, viewer: Participant | None, other: Participant) -> bool:
        """Hidden participants (observers, patrolling coordinators) are seen only by other hidden ones."""
        return not other.hidden or (viewer is not None and viewer.hidden)

    def snapshot(self, viewer: Participant | None = None) -> dict[str, Any]:
        roster = cast(Roster[Participant], self.participants)
        sees_hidden = viewer is not None and viewer.hidden
        # The recorder sits in the room (so that everyone sees "录制中") but is nobody's audience; it is
        # staff, so counting it costs O(staff).
        system = sum(1 for p in roster.staff.values() if p.role == Role.RECORDER and not p.hidden)
        audience = len(roster) - (0 if sees_hidden else roster.hidden) - system
        if self.kind == RoomKind.BROADCAST and viewer is not None and not _staff(viewer):
            # A viewer among a thousand is sent the people it watches (the roster's staff, the stage and
            # itself), not the thousand: O(staff) per join, not O(n), as it is sent no other viewer's
            # comings and goings.
            picked = dict(roster.staff)
            for pid in (*self.stage.on_stage, viewer.id):
                if pid in roster:
                    picked[pid] = roster[pid]
            shown = [p for p in picked.values() if sees_hidden or not p.hidden]
        else:
            shown = [p for p in roster.values() if sees_hidden or not p.hidden]
        visible = {p.id for p in shown}
        return {
            "id": self.id,
            "kind": self.kind.value,
            "title": self.title,
            "state": self.state.value,
            "record": self.record,
            "participants": [p.to_dict() for p in shown],
            "tracks": [t.to_dict() for t in self.tracks.values() if t.participant_id in visible],
            "stage": list(self.stage.on_stage),
            "hands": self.stage.queue(),
            "seats": self.stage.seats,
            "times": dict(self.times),
            "audience": audience,
        }

    def tracks_of(self, pid: str) -> list[TrackInfo]:
        return [t for t in self.tracks.values() if t.participant_id == pid]


def _staff(p: Participant) -> bool:
    """Those a broadcast's audience sees: the hub side, moderators, the recorder (not other viewers)."""
    return p.role != Role.VIEWER or p.meta.get("side") == "hub" or p.grants.room_admin
