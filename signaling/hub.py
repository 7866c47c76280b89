"""The node's signaling hub: the sessions on this node, the rooms they join, and the SFU behind them.

It is the MediaListener of the SFU and the observer of the room service, so that the media plan
(who receives what) follows every room change in one place. It sees sessions only as an `Outbox` (a
`send`), so it does not import `signaling.session`; plans are applied one at a time per room, so a plan
computed from an older room state can never land after a newer one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, cast

from core.contracts import MediaSeam, MediaTrack, Outbox, Quality
from core.tokens import TokenSigner
from rooms.audience import Plan, plan
from rooms.room import Room, TrackInfo
from rooms.service import RoomService

log = logging.getLogger(__name__)


class SignalingHub:
    def __init__(
        self, rooms: RoomService, tokens: TokenSigner, media: MediaSeam | None = None,
        ice_servers: Callable[[str], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.rooms = rooms
        self.ice_servers = ice_servers  # identity → iceServers with fresh TURN credentials (core/turn.py)
        self.tokens = tokens
        self.media = media
        self.sessions: dict[tuple[str, str], Outbox] = {}
        self.preferences: dict[str, dict[str, dict[str, str]]] = {}  # room → subscriber → publisher → q
        self._plans: dict[str, Plan] = {}
        self.track_stats: dict[str, list[dict[str, Any]]] = {}
        self._plan_locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # room → (lock, [callers in it])
        rooms.add_observer(self.apply_plan)
        if media is not None:
            media.set_listener(self)

    def register(self, room_id: str, pid: str, session: Outbox) -> Outbox | None:
        """Make `session` the participant's connection; return the one it replaces, if any."""
        old = self.sessions.get((room_id, pid))
        self.sessions[(room_id, pid)] = session
        return old if old is not session else None

    def unregister(self, room_id: str, pid: str, session: Outbox) -> bool:
        if self.sessions.get((room_id, pid)) is session:
            del self.sessions[(room_id, pid)]
            return True
        return False

    def set_preference(self, room_id: str, subscriber: str, publisher: str, quality: str) -> None:
        self.preferences.setdefault(room_id, {}).setdefault(subscriber, {})[publisher] = quality

    async def apply_plan(self, room: Room) -> None:
        """Tell the SFU each subscriber's tracks when they changed; release those who left.

        One at a time per room: the plan is computed under the room's lock from the room as it is then,
        and `_plans` (read before the SFU calls, written after them) is never interleaved with another
        call's. A caller that waited computes from the newer state, so the newest plan is the last applied.
        """
        if self.media is None:
            return
        entry = self._plan_locks.get(room.id)
        if entry is None:
            entry = self._plan_locks[room.id] = (asyncio.Lock(), [0])
        lock, callers = entry
        callers[0] += 1
        try:
            async with lock:
                await self._apply_plan(room, self.media)
        finally:
            callers[0] -= 1
            if not callers[0] and self._plan_locks.get(room.id) is entry:
                del self._plan_locks[room.id]  # nobody applying or waiting: a closed room leaves nothing

    async def _apply_plan(self, room: Room, media: MediaSeam) -> None:
        new = plan(room, self.preferences.get(room.id)) if room.participants else {}
        old = self._plans.get(room.id, {})
        for pid in old.keys() - new.keys():
            await media.leave(room.id, pid)
        for pid, tracks in new.items():
            if old.get(pid) != tracks:
                # rooms.audience plans only "high"/"low"/"off" (its own Literal is a plain str alias)
                await media.set_subscriptions(room.id, pid, cast(dict[str, Quality], tracks))
        if new:
            self._plans[room.id] = new
        else:
            self._plans.pop(room.id, None)
            self.preferences.pop(room.id, None)
            await media.close_room(room.id)

    def forget_plan(self, room_id: str, pid: str) -> None:
        """The participant's media is gone (dropped connection): its next plan must be sent again."""
        self._plans.get(room_id, {}).pop(pid, None)

    # MediaListener -----------------------------------------------------------------------------

    async def on_track_published(self, room_id: str, track: MediaTrack) -> None:
        await self.rooms.track_published(
            room_id,
            TrackInfo(track.track_id, track.participant_id, track.kind, track.source, track.quality, track.codec),
        )

    async def on_track_unpublished(self, room_id: str, track: MediaTrack) -> None:
        await self.rooms.track_unpublished(room_id, track.track_id)

    async def on_subscriber_offer(self, room_id: str, participant_id: str, sdp: str) -> None:
        session = self.sessions.get((room_id, participant_id))
        if session is not None:
            await session.send({"type": "subscriber.offer", "sdp": sdp})

    async def on_audio_levels(self, room_id: str, levels: dict[str, float]) -> None:
        await self.rooms.speaking(room_id, levels)

    async def on_track_stats(self, room_id: str, stats: list[dict[str, Any]]) -> None:
        self.track_stats[room_id] = stats
        room = self.rooms.get(room_id)
        if room is not None:
            await self.rooms.bus.publish(f"room:{room_id}", {"type": "stats", "room": room_id, "tracks": stats})
