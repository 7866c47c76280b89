"""Two plan changes racing for one room end in the newer plan, on the hub and in the real SFU."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from core.bus import InProcessBus
from core.contracts import PublishedTrackSpec, Quality
from core.tokens import TokenSigner
from loadtest.bots import Bot, wait_for
from loadtest.clip import load
from media.service import MediaService
from rooms.audience import plan
from rooms.roles import Role, RoomKind, grants_for
from rooms.room import Participant, Room, TrackInfo
from rooms.service import RoomService
from rooms.store import RoomStore
from signaling.hub import SignalingHub


class FirstCallHeld(MediaService):
    """The real SFU, except that the first `set_subscriptions` waits at the door until released: the
    slow renegotiation that lets a second plan overtake the first."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.held = asyncio.Event()
        self.calls: list[dict[str, Quality]] = []

    async def set_subscriptions(self, room_id: str, participant_id: str, plan: dict[str, Quality]) -> None:
        self.calls.append(dict(plan))
        if len(self.calls) == 1:
            self.held.set()
            await self.release.wait()
        await super().set_subscriptions(room_id, participant_id, plan)


def _lesson() -> Room:
    room = Room(id="race", kind=RoomKind.DELIVERY, title="race")
    for pid, role, side in (("hub", Role.HUB_TEACHER, "hub"), ("c1", Role.CLASSROOM, "remote")):
        room.participants[pid] = Participant(pid, pid, role, grants_for(role, room.kind, room.id), 0.0,
                                             meta={"side": side})  # fmt: skip
        room.tracks[f"{pid}:cam"] = TrackInfo(f"{pid}:cam", pid, "video", "camera")
        room.tracks[f"{pid}:cam:low"] = TrackInfo(f"{pid}:cam:low", pid, "video", "camera", quality="low")
        room.tracks[f"{pid}:mic"] = TrackInfo(f"{pid}:mic", pid, "audio", "microphone")
    return room


async def test_racing_plan_changes_end_in_the_newer_plan():
    media = FirstCallHeld()
    rooms = RoomService(InProcessBus(), RoomStore(cast(Any, None)), "node-a")  # no DB used
    hub = SignalingHub(rooms, TokenSigner({"k": b"x" * 32}), media)
    room = _lesson()
    hub.set_preference(room.id, "hub", "c1", "low")  # first plan: the hub teacher sees the classroom small
    try:
        first = asyncio.create_task(hub.apply_plan(room))
        await asyncio.wait_for(media.held.wait(), 5)
        # while the SFU is busy with that plan, the teacher asks for the classroom's camera high
        hub.set_preference(room.id, "hub", "c1", "high")
        second = asyncio.create_task(hub.apply_plan(room))
        await asyncio.sleep(0.2)  # the second plan has every chance to overtake
        media.release.set()
        await asyncio.wait_for(asyncio.gather(first, second), 10)

        newest = plan(room, hub.preferences.get(room.id))
        assert newest["hub"].get("c1:cam") == "high", newest
        router = media.routers[room.id]
        assert router.plans["hub"] == newest["hub"]  # the SFU holds the newer plan…
        assert hub._plans[room.id]["hub"] == newest["hub"]  # …and the hub knows it did
        assert not hub._planning  # nobody applying: nothing kept for the room
    finally:
        await media.close()


class _Direct:
    """A bot's signaling straight into the SFU (the hub is the SFU's listener here)."""

    def __init__(self, media: MediaService, room_id: str) -> None:
        self.media, self.room_id = media, room_id

    async def publish(self, bot: Bot, sdp: str, tracks: list[dict]) -> str:
        specs = [PublishedTrackSpec(t["mid"], t["kind"], t["source"], t["quality"]) for t in tracks]
        return await self.media.publish_offer(self.room_id, bot.name, sdp, specs)

    async def subscriber_answer(self, bot: Bot, sdp: str) -> None:
        await self.media.subscriber_answer(self.room_id, bot.name, sdp)


async def test_a_publisher_leaving_re_enters_the_plan_without_deadlock():
    """Dropping a publisher from the plan closes its tracks; the SFU's unpublish notice re-enters
    apply_plan through the room service from inside the running plan, which must not wait on itself."""
    media = MediaService()
    rooms = RoomService(InProcessBus(), RoomStore(cast(Any, None)), "node-a")
    hub = SignalingHub(rooms, TokenSigner({"k": b"x" * 32}), media)
    room = _lesson()
    room.tracks.clear()  # tracks arrive from the SFU as the bot publishes
    rooms.rooms[room.id] = room
    bot = Bot("c1", _Direct(media, room.id), clip=load(160, 128, 30, 90, 100_000))
    try:
        await hub.apply_plan(room)
        await bot.publish()
        assert await wait_for(lambda: "c1:0" in room.tracks, 10)
        await asyncio.wait_for(hub.apply_plan(room), 10)
        assert "c1:0" in media.routers[room.id].plans["hub"]  # the hub teacher receives the classroom
        del room.participants["c1"]  # the classroom leaves
        await asyncio.wait_for(hub.apply_plan(room), 10)  # deadlocked here with a plain per-room lock
        router = media.routers[room.id]
        assert "c1" not in router.publishers and not router.producers and not room.tracks
        assert hub._plans[room.id] == plan(room, hub.preferences.get(room.id)) and not hub._planning
    finally:
        await bot.close()
        await media.close()
