"""Who receives what: a pure function of the room's state, applied to the SFU by signaling.

The plan maps a subscriber to the tracks it should receive and at which quality. Keys are primary tracks
(audio, screen, and the high version of a camera); `low` asks for the camera's smaller version, which
the SFU swaps in on a keyframe.
"""

from __future__ import annotations

from collections.abc import Iterable

from rooms.roles import Role, RoomKind
from rooms.room import Participant, Room, TrackInfo

Plan = dict[str, dict[str, str]]  # subscriber → track_id → high | low
LAST_N = 8  # videos a subscriber receives at most in coteach and among remote classrooms in N+N


def is_hub(p: Participant) -> bool:
    return p.role == Role.HUB_TEACHER or p.meta.get("side") == "hub"


def _primary(tracks: Iterable[TrackInfo]) -> list[TrackInfo]:
    return [t for t in tracks if t.quality == "high"]


def plan(
    room: Room, preferences: dict[str, dict[str, str]] | None = None,
    subscribers: Iterable[Participant] | None = None,
) -> Plan:
    """preferences: subscriber → publisher → high | low | off, as asked by the client. `subscribers`: plan
    only these (the newcomers of a join burst; another's plan depends on the tracks, not on who else is in)."""
    preferences = preferences or {}
    by_owner: dict[str, list[TrackInfo]] = {}
    for t in _primary(room.tracks.values()):
        by_owner.setdefault(t.participant_id, []).append(t)
    publishers = [room.participants[pid] for pid in by_owner if pid in room.participants]
    stage = set(room.stage.on_stage)
    hubs = [p for p in publishers if is_hub(p)]
    remotes = [p for p in publishers if not is_hub(p)]
    recent = sorted(publishers, key=lambda p: -room.speakers.get(p.id, 0.0))  # stable: join order on ties

    out: Plan = {}
    for sub in room.participants.values() if subscribers is None else subscribers:
        if not sub.grants.can_subscribe:
            continue
        wanted: dict[str, str] = {}  # publisher → default camera quality
        heard_only: list[str] = []  # publishers whose audio only this subscriber receives

        if room.kind == RoomKind.BROADCAST:
            wanted = {p.id: "high" for p in hubs or publishers}
        elif room.kind == RoomKind.COTEACH:
            # everyone is heard; video from everyone up to LAST_N, past it from the most recent speakers
            for p in [p for p in recent if p.id != sub.id][:LAST_N]:
                wanted[p.id] = "high"
            heard_only = [p.id for p in publishers if p.id not in wanted and p.id != sub.id]
        elif is_hub(sub) or sub.hidden:
            wanted = {p.id: "high" for p in hubs}
            wanted.update({p.id: "high" if p.id in stage else "low" for p in remotes})
        else:
            wanted = {p.id: "high" for p in hubs}
            wanted.update({pid: "high" for pid in stage if pid in by_owner})
            if len(hubs) > 1:  # N+N: the other classrooms too, up to a limit
                others = [p for p in remotes if p.id not in wanted and p.id != sub.id]
                wanted.update({p.id: "low" for p in others[:LAST_N]})
        wanted.pop(sub.id, None)

        tracks: dict[str, str] = {}
        prefs = preferences.get(sub.id, {})
        for pub_id, quality in wanted.items():
            quality = prefs.get(pub_id, quality)
            if quality == "off":
                continue
            for t in by_owner[pub_id]:
                if t.kind == "audio" and not _hears(room, pub_id, stage):
                    continue
                tracks[t.track_id] = quality if (t.kind == "video" and t.source == "camera") else "high"
        for pub_id in heard_only:
            if prefs.get(pub_id) == "off":
                continue
            for t in by_owner[pub_id]:
                if t.kind == "audio":
                    tracks[t.track_id] = "high"
        out[sub.id] = tracks
    return out


def _hears(room: Room, pub_id: str, stage: set[str]) -> bool:
    """In a delivery room the hub hears only the classrooms on stage; everyone hears the hubs."""
    if room.kind != RoomKind.DELIVERY:
        return True
    pub = room.participants[pub_id]
    return is_hub(pub) or pub_id in stage
