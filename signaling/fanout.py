"""Room events to the participants on this node: one bus subscription and one task per room.

The audience of an event (`to`, `hidden`, `scope: hub`) is decided here, before anyone is woken: a remote
classroom's hand in a 1+N lesson touches the hub side's outboxes only, not a relay task per participant.
Delivering is a non-blocking put into each recipient's outbox, so one slow reader never delays the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Protocol

from core.bus import Bus, Envelope, Subscription

log = logging.getLogger(__name__)
ROOM_QUEUE_LIMIT = 10_000  # envelopes waiting for the room's task; it never blocks, so this stays small


class Member(Protocol):
    hub_side: bool
    hidden: bool

    def deliver(self, envelope: Envelope) -> None: ...


class RoomFanout:
    def __init__(self, room_id: str, subscription: Subscription) -> None:
        self.room_id = room_id
        self.members: dict[str, Member] = {}
        self.hub_side: dict[str, Member] = {}
        self.hidden: dict[str, Member] = {}
        self.delivered = 0  # envelopes put into outboxes (what the audience filter saves shows here)
        self._subscription = subscription
        self._task = asyncio.create_task(self._run(), name=f"fanout-{room_id}")

    def add(self, pid: str, member: Member) -> None:
        self.members[pid] = member
        for group, belongs in ((self.hub_side, member.hub_side), (self.hidden, member.hidden)):
            if belongs:
                group[pid] = member
            else:
                group.pop(pid, None)

    def remove(self, pid: str, member: Member) -> None:
        if self.members.get(pid) is member:
            del self.members[pid]
            self.hub_side.pop(pid, None)
            self.hidden.pop(pid, None)

    def audience(self, event: dict) -> Iterable[Member]:
        to = event.get("to")
        if to is not None:
            member = self.members.get(to)
            if member is None or (event.get("hidden") and not member.hidden):
                return ()
            return (member,)
        if event.get("hidden"):
            return list(self.hidden.values())
        if event.get("scope") == "hub":
            about = self.members.get(event.get("about") or "")
            out = list(self.hub_side.values())
            if about is not None and not about.hub_side:
                out.append(about)
            return out
        return list(self.members.values())

    async def _run(self) -> None:
        try:
            async for envelope in self._subscription:
                try:
                    for member in self.audience(envelope.data):
                        member.deliver(envelope)
                        self.delivered += 1
                except Exception:
                    log.exception("fan-out of %s in room %s", envelope.data.get("type"), self.room_id)
        except Exception:
            log.exception("fan-out of room %s stopped", self.room_id)

    async def close(self) -> None:
        await self._subscription.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class Fanouts:
    """The fan-outs of this node's rooms, created with the first participant and closed with the last."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.rooms: dict[str, RoomFanout] = {}
        self._lock = asyncio.Lock()

    async def ensure(self, room_id: str, channel: str) -> RoomFanout:
        fanout = self.rooms.get(room_id)
        if fanout is not None:
            return fanout
        async with self._lock:
            fanout = self.rooms.get(room_id)
            if fanout is None:
                sub = await self.bus.subscribe(channel, limit=ROOM_QUEUE_LIMIT)
                fanout = self.rooms[room_id] = RoomFanout(room_id, sub)
            return fanout

    async def remove(self, room_id: str, pid: str, member: Member) -> None:
        fanout = self.rooms.get(room_id)
        if fanout is None:
            return
        fanout.remove(pid, member)
        if not fanout.members:
            async with self._lock:
                if self.rooms.get(room_id) is fanout and not fanout.members:
                    del self.rooms[room_id]
                    await fanout.close()

    async def close(self) -> None:
        for fanout in list(self.rooms.values()):
            await fanout.close()
        self.rooms.clear()
