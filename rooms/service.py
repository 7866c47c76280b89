"""The room service: every change to a live room goes through here, is persisted where it must be,
and is told to the room over the bus.

A room lives on one node (the node that first activated it records itself under `room-node:<id>`);
this service holds its state in memory and is the only writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from core.bus import Bus, BusUnavailable
from core.errors import SankeError
from core.tokens import Claims
from rooms.audience import is_hub
from rooms.roles import Role, RoomKind
from rooms.room import Participant, Room, RoomState, TrackInfo
from rooms.stage import Stage, StageError
from rooms.store import RoomStore

log = logging.getLogger(__name__)
Observer = Callable[[Room], Awaitable[None]]
PRESENCE_TTL = 30.0


class RoomError(SankeError):
    """A join/leave/stage request the room refuses (code + field)."""


def room_channel(room_id: str) -> str:
    return f"room:{room_id}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RoomService:
    def __init__(self, bus: Bus, store: RoomStore, node_id: str, resume_grace: float = 20.0) -> None:
        self.bus = bus
        self.store = store
        self.node_id = node_id
        self.resume_grace = resume_grace
        self.rooms: dict[str, Room] = {}
        self._grace: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._presence: dict[tuple[str, str], asyncio.Future[int]] = {}  # spans being written
        self._observers: list[Observer] = []
        self._activation = asyncio.Lock()

    def add_observer(self, observer: Observer) -> None:
        """Called after every change that may alter who should receive what (the media plan)."""
        self._observers.append(observer)

    def get(self, room_id: str) -> Room | None:
        return self.rooms.get(room_id)

    def _room(self, room_id: str) -> Room:
        room = self.rooms.get(room_id)
        if room is None:
            raise RoomError("not_found", "room is not active on this node", "room")
        return room

    def _participant(self, room: Room, pid: str, field: str = "participant_id") -> Participant:
        p = room.participants.get(pid)
        if p is None:
            raise RoomError("not_found", "no such participant in this room", field)
        return p

    # lifecycle ---------------------------------------------------------------------------------

    async def activate(self, room_id: str) -> Room:
        room = self.rooms.get(room_id)
        if room is not None:  # the common case, without queueing behind another room's activation
            return room
        async with self._activation:
            room = self.rooms.get(room_id)
            if room is not None:
                return room
            definition = await self.store.load(room_id)
            if definition is None:
                raise RoomError("not_found", "no such room", "room")
            if definition.state == RoomState.ENDED:
                raise RoomError("room_ended", "this lesson has ended", "room")
            async with self.bus.lock(f"room-create:{room_id}"):
                owner = await self.bus.get(f"room-node:{room_id}")
                if owner not in (None, self.node_id) and await self.bus.get(f"node-alive:{owner}") is not None:
                    raise RoomError("wrong_node", f"room is hosted on {owner}", "room")
                await self.bus.set(f"room-node:{room_id}", self.node_id)
            room = Room(
                id=room_id, kind=definition.kind, title=definition.title, state=definition.state,
                stage=Stage(seats=definition.stage_seats), record=definition.record,
            )
            if room.state == RoomState.SCHEDULED:
                await self._set_state(room, RoomState.OPEN)
            self.rooms[room_id] = room
            return room

    async def _set_state(self, room: Room, state: RoomState) -> None:
        at = time.time()
        room.state = state
        room.times[state.value] = at
        await self.store.set_state(room.id, state, at)

    async def go_live(self, room_id: str, actor_id: str) -> None:
        room = self._room(room_id)
        self._require_admin(room, actor_id)
        if room.state == RoomState.LIVE:
            return
        await self._set_state(room, RoomState.LIVE)
        await self._emit(room, {"type": "room.state", "state": room.state.value, "times": room.times})

    async def end(self, room_id: str, actor_id: str, authorised: bool = False) -> None:
        """End the lesson. `authorised`: the caller (the HTTP layer) has checked the actor's rights."""
        room = self._room(room_id)
        if not authorised:
            self._require_admin(room, actor_id)
        await self._set_state(room, RoomState.ENDED)
        for task in [t for (rid, _), t in self._grace.items() if rid == room_id]:
            task.cancel()
        at = time.time()
        for p in list(room.participants.values()):
            await self._presence_id(room_id, p)
        await self.store.close_open_presence(room_id, at)
        await self.store.audit(actor_id, "room.end", room_id, title=room.title)
        await self._emit(room, {"type": "room.ended", "by": actor_id, "times": room.times})
        await self.bus.delete(f"room-node:{room_id}")
        await self.bus.delete(f"room:{room_id}:participants")
        del self.rooms[room_id]
        room.participants.clear()
        room.tracks.clear()
        await self._notify(room)

    # joining and leaving -----------------------------------------------------------------------

    async def join(self, room_id: str, claims: Claims) -> tuple[Participant, str, bool]:
        """Join with a verified token. Returns the participant, a resume token, and whether an
        earlier connection of the same identity was replaced (its seat and hand are kept)."""
        if claims.grants.room != room_id or not claims.grants.room_join:
            raise RoomError("forbidden", "token does not grant joining this room", "token")
        if claims.role not in Role.__members__.values():
            raise RoomError("token_invalid", f"unknown role {claims.role[:40]!r}", "token")
        room = await self.activate(room_id)
        resume = secrets.token_urlsafe(24)
        existing = room.participants.get(claims.identity)
        if existing is not None:
            self._cancel_grace(room_id, existing.id)
            existing.connected = True
            existing.resume_hash = _hash(resume)
            await self._emit_participant(room, "participant.reconnected", existing)
            await self._notify(room)
            return existing, resume, True
        p = Participant(
            id=claims.identity, name=claims.name, role=Role(claims.role), grants=claims.grants,
            joined_at=time.time(), meta=dict(claims.meta), resume_hash=_hash(resume),
        )
        # The presence span is written behind the join (batched with the joins around it): a burst of a
        # thousand does not wait a thousand commits. Leaving and ending wait for it (`_presence_id`).
        self._presence[(room_id, p.id)] = self.store.presence_join(
            room_id, p.id, p.role.value, p.joined_at, p.meta.get("user_id"), p.meta.get("classroom_id")
        )
        room.participants[p.id] = p
        await self.bus.hset(
            f"room:{room_id}:participants", p.id, json.dumps(dict(p.to_dict(), hidden=p.hidden), ensure_ascii=False)
        )
        await self.heartbeat(room_id, p.id)
        await self._emit_participant(room, "participant.joined", p)
        await self._notify(room)
        return p, resume, False

    def opens(self, room_id: str, pid: str, resume_token: str) -> bool:
        """Whether `resume_token` opens this kept seat now (nothing changes: signaling asks before acting)."""
        room = self.rooms.get(room_id)
        p = room.participants.get(pid) if room else None
        return p is not None and hmac.compare_digest(p.resume_hash, _hash(resume_token))

    async def resume(self, room_id: str, pid: str, resume_token: str) -> tuple[Participant, str]:
        room = self.rooms.get(room_id)
        p = room.participants.get(pid) if room else None
        if room is None or p is None or not self.opens(room_id, pid, resume_token):
            raise RoomError("resume_failed", "the seat was not kept; join again", "resume_token")
        self._cancel_grace(room_id, pid)
        p.connected = True
        new = secrets.token_urlsafe(24)
        p.resume_hash = _hash(new)
        await self._emit_participant(room, "participant.reconnected", p)
        await self._notify(room)
        return p, new

    async def disconnect(self, room_id: str, pid: str) -> None:
        """The connection dropped: keep the seat for the grace period, then the participant is gone."""
        room = self.rooms.get(room_id)
        if room is None or pid not in room.participants:
            return
        p = room.participants[pid]
        p.connected = False
        await self._emit_participant(room, "participant.disconnected", p)
        self._cancel_grace(room_id, pid)
        self._grace[(room_id, pid)] = asyncio.create_task(self._expire(room_id, pid), name=f"grace-{pid}")

    async def _expire(self, room_id: str, pid: str) -> None:
        await asyncio.sleep(self.resume_grace)
        self._grace.pop((room_id, pid), None)
        await self.leave(room_id, pid, reason="timeout")

    def _cancel_grace(self, room_id: str, pid: str) -> None:
        task = self._grace.pop((room_id, pid), None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def leave(self, room_id: str, pid: str, reason: str = "left") -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        p = room.participants.pop(pid, None)
        if p is None:
            return
        self._cancel_grace(room_id, pid)
        stage_changed = pid in room.stage.on_stage
        room.stage.forget(pid)
        for t in room.tracks_of(pid):
            del room.tracks[t.track_id]
        room.speakers.pop(pid, None)
        presence_id = await self._presence_id(room_id, p)
        if presence_id is not None:
            await self.store.presence_leave(presence_id, time.time())
        with contextlib.suppress(BusUnavailable):  # Redis away: the seat is gone here all the same
            await self.bus.hdel(f"room:{room_id}:participants", pid)
            await self.bus.delete(f"presence:{room_id}:{pid}")
        await self._emit(room, {"type": "participant.left", "participant_id": pid, "reason": reason}, about=p)
        if stage_changed:
            await self._emit_stage(room)
        await self._notify(room)

    async def _presence_id(self, room_id: str, p: Participant) -> int | None:
        pending = self._presence.pop((room_id, p.id), None)
        if pending is not None:
            try:
                p.presence_id = await asyncio.shield(pending)  # a cancelled leave must not cancel the write
            except Exception:
                log.exception("presence span of %s in %s was not written", p.id, room_id)
        return p.presence_id

    async def heartbeat(self, room_id: str, pid: str) -> None:
        with contextlib.suppress(BusUnavailable):  # Redis away: the key is refreshed by the next ping
            await self.bus.set(f"presence:{room_id}:{pid}", self.node_id, ttl=PRESENCE_TTL)

    # hands and stage ---------------------------------------------------------------------------

    async def raise_hand(self, room_id: str, pid: str) -> None:
        room = self._room(room_id)
        self._participant(room, pid)
        if room.stage.raise_hand(pid, time.time()):
            await self._emit(
                room, {"type": "hand.raised", "participant_id": pid, "hands": room.stage.queue()},
                about=room.participants[pid],
            )

    async def lower_hand(self, room_id: str, actor_id: str, target: str | None = None) -> None:
        room = self._room(room_id)
        target = target or actor_id
        if target != actor_id:
            self._require_admin(room, actor_id)
        if room.stage.lower_hand(target):
            await self._emit(
                room, {"type": "hand.lowered", "participant_id": target, "hands": room.stage.queue()},
                about=room.participants.get(target),
            )

    async def invite(self, room_id: str, actor_id: str, target: str) -> None:
        room = self._room(room_id)
        self._require_admin(room, actor_id)
        p = self._participant(room, target)
        if p.hidden or not p.grants.can_publish:
            raise RoomError("forbidden", "this participant cannot go on stage", "participant_id")
        try:
            room.stage.invite(target)
        except StageError as e:
            raise RoomError(e.code, e.message, "participant_id") from e
        await self._emit_stage(room)
        await self._notify(room)

    async def leave_stage(self, room_id: str, actor_id: str, target: str | None = None) -> None:
        room = self._room(room_id)
        target = target or actor_id
        if target != actor_id:
            self._require_admin(room, actor_id)
        if room.stage.leave(target):
            await self._emit_stage(room)
            await self._notify(room)

    async def request_mute(self, room_id: str, actor_id: str, target: str, source: str) -> None:
        room = self._room(room_id)
        self._require_admin(room, actor_id)
        self._participant(room, target)
        await self._emit(room, {"type": "mute.requested", "by": actor_id, "source": source}, to=target)

    async def remove(self, room_id: str, actor_id: str, target: str) -> None:
        room = self._room(room_id)
        self._require_admin(room, actor_id)
        p = self._participant(room, target)
        await self.store.audit(actor_id, "participant.remove", f"{room_id}/{target}", name=p.name)
        await self._emit(room, {"type": "removed", "by": actor_id}, to=target)
        await self.leave(room_id, target, reason="removed")

    # media -------------------------------------------------------------------------------------

    async def track_published(self, room_id: str, track: TrackInfo) -> None:
        room = self.rooms.get(room_id)
        if room is None or track.participant_id not in room.participants:
            return
        room.tracks[track.track_id] = track
        p = room.participants[track.participant_id]
        await self._emit(room, {"type": "track.published", "track": track.to_dict()}, about=p)
        await self._notify(room)

    async def track_unpublished(self, room_id: str, track_id: str) -> None:
        room = self.rooms.get(room_id)
        if room is None or track_id not in room.tracks:
            return
        track = room.tracks.pop(track_id)
        p = room.participants.get(track.participant_id)
        await self._emit(room, {"type": "track.unpublished", "track_id": track_id}, about=p)
        await self._notify(room)

    async def speaking(self, room_id: str, levels: dict[str, float]) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        now = time.time()
        for pid in levels:
            if pid in room.participants:
                room.speakers[pid] = now
        await self._emit(room, {"type": "speakers", "levels": levels})
        if room.kind == RoomKind.COTEACH:  # only last-N depends on who spoke last
            await self._notify(room)

    # plumbing ----------------------------------------------------------------------------------

    def _require_admin(self, room: Room, actor_id: str) -> None:
        actor = room.participants.get(actor_id)
        if actor is None or not actor.grants.room_admin:
            raise RoomError("forbidden", "only the lesson's moderator may do this", "type")

    async def _emit_participant(self, room: Room, kind: str, p: Participant) -> None:
        await self._emit(room, {"type": kind, "participant": p.to_dict()}, about=p)

    async def _emit_stage(self, room: Room) -> None:
        on_stage = [room.participants[pid].to_dict() for pid in room.stage.on_stage if pid in room.participants]
        await self._emit(
            room,
            {"type": "stage.changed", "stage": list(room.stage.on_stage), "hands": room.stage.queue(), "on_stage": on_stage},
        )

    async def _emit(
        self, room: Room, event: dict[str, Any], to: str | None = None, about: Participant | None = None
    ) -> None:
        event = dict(event, room=room.id, at=time.time())
        if to is not None:
            event["to"] = to
        if about is not None:
            event["about"] = about.id
            if about.hidden:
                event["hidden"] = True
            elif room.kind in (RoomKind.DELIVERY, RoomKind.BROADCAST) and not is_hub(about):
                # A remote classroom's (or a broadcast viewer's) comings and goings and its hand matter to
                # the hub side and the moderators, not to the other N-1: scoping keeps fan-out linear.
                event["scope"] = "hub"
        try:
            await self.bus.publish(room_channel(room.id), event)
        except BusUnavailable:
            # A change the room made without being asked (a drop, a grace expiry) still holds on this node;
            # what a participant asks for is refused up front while the bus is down (signaling.session).
            log.warning("room %s: %s not published, the bus is down", room.id, event.get("type"))

    async def _notify(self, room: Room) -> None:
        for observer in self._observers:
            await observer(room)

    async def close(self) -> None:
        for task in list(self._grace.values()):
            task.cancel()
        for task in list(self._grace.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._grace.clear()
