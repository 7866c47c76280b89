"""The node's signaling hub: the sessions on this node, the rooms they join, and the SFU behind them.

It is the MediaListener of the SFU and the observer of the room service, so that the media plan
(who receives what) follows every room change in one place. It sees sessions only as an `Outbox` (a
`send`), so it does not import `signaling.session`; plans are applied one at a time per room, so a plan
computed from an older room state can never land after a newer one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from core.contracts import MediaSeam, MediaTrack, Outbox, Quality, QualityChange
from core.tokens import TokenSigner
from rooms.audience import Plan, plan
from rooms.roles import RoomKind
from rooms.room import Room, TrackInfo
from rooms.roster import Roster
from rooms.service import RoomService
from signaling.fanout import Fanouts
from signaling.mailbox import REPLAY_EVENTS, Mailbox

log = logging.getLogger(__name__)
MAILBOX_MARGIN = 5.0  # a parked mailbox outlives the seat's resume grace by this much (a resume at the edge)


def _future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


@dataclass(eq=False)
class _PlanRunner:
    room: Room
    task: asyncio.Task[Any] | None
    dirty: bool = True
    next_pass: asyncio.Future[None] = field(default_factory=_future)  # done when the next pass has run


def plan_inputs(room: Room, preferences_version: int) -> tuple[object, ...]:
    """Everything a subscriber's plan depends on besides the subscriber itself (see rooms.audience.plan):
    the tracks, the stage, who spoke last (coteach's last-N) and the preferences. Participants' roles and
    grants never change, so while these stay equal only newcomers' plans need computing."""
    return (
        tuple((t.track_id, t.participant_id, t.kind, t.source, t.quality) for t in room.tracks.values()),
        tuple(room.stage.on_stage),
        tuple(room.speakers.items()) if room.kind == RoomKind.COTEACH else (),
        preferences_version,
    )


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
        self.fanouts = Fanouts(rooms.bus)  # room events to this node's participants, filtered by audience
        self.preferences: dict[str, dict[str, dict[str, str]]] = {}  # room → subscriber → publisher → q
        self._plans: dict[str, Plan] = {}
        self._inputs: dict[str, tuple[object, ...]] = {}  # room → plan_inputs of the plans in _plans
        self._prefs_version = 0
        self._forgotten: dict[str, set[str]] = {}  # room → plans forgotten while a pass was running
        self._replan: dict[str, set[str]] = {}  # room → participants whose plan must be computed again
        self._versions: dict[str, int] = {}  # room → the roster version the plans in _plans saw
        self.track_stats: dict[str, list[dict[str, Any]]] = {}
        self._planning: dict[str, _PlanRunner] = {}  # room → the call applying its plans now
        self._expiring: set[asyncio.Task[None]] = set()  # parked mailboxes leaving their fan-out
        self.replay_events = REPLAY_EVENTS  # per participant, kept for a resume
        self.closing = False  # the server is stopping: the SFU is closed whole, not participant by participant
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

    async def kick(self, identity: str, code: int, reason: str) -> int:
        """Take back every seat `identity` holds on this node and close its connections (a deactivated
        account). Leaving first means the seat is not kept for a resume. Returns how many were closed."""
        held = [(key, s) for key, s in self.sessions.items() if key[1] == identity]
        for (room_id, pid), session in held:
            try:
                await self.rooms.leave(room_id, pid, reason="revoked")
            except Exception:  # the bus down: the connection is closed all the same
                log.exception("could not take back %s's seat in %s", pid, room_id)
            await session.close(code, reason)
        return len(held)

    def mailbox(self, room_id: str, pid: str, hub_side: bool, hidden: bool, keep_seat: bool) -> Mailbox:
        """The participant's mailbox: the one kept while it was away when its seat was kept, else a new one
        (a fresh join starts numbering anew)."""
        fanout = self.fanouts.rooms.get(room_id)
        held = fanout.members.get(pid) if fanout is not None else None
        if keep_seat and isinstance(held, Mailbox):
            return held
        return Mailbox(hub_side, hidden, keep=self.rooms.resume_grace + MAILBOX_MARGIN, limit=self.replay_events)

    def park(self, room_id: str, pid: str, mailbox: Mailbox) -> None:
        """The participant's connection dropped: its mailbox stays in the room's fan-out, collecting, until
        the seat can no longer be resumed (a timer, not a task: nothing to cancel at shutdown)."""
        absence = mailbox.detached_at

        def expire() -> None:
            if mailbox.reader is None and mailbox.detached_at == absence:  # still this absence
                task = asyncio.ensure_future(self.fanouts.remove(room_id, pid, mailbox))
                self._expiring.add(task)
                task.add_done_callback(self._expiring.discard)

        asyncio.get_running_loop().call_later(mailbox.keep, expire)

    def set_preference(self, room_id: str, subscriber: str, publisher: str, quality: str) -> None:
        self.preferences.setdefault(room_id, {}).setdefault(subscriber, {})[publisher] = quality
        self._prefs_version += 1

    async def apply_plan(self, room: Room) -> None:
        """Tell the SFU each subscriber's tracks when they changed; release those who left.

        One runner per room applies plans, each computed from the room as it is then, so `_plans` (read
        before the SFU calls, written after them) is never interleaved with another call's and the newest
        plan is the last applied. A call while the runner works marks the room dirty: from another task it
        waits for the runner's next pass (which sees the room as it is now), not for the runner to go idle,
        so a burst of a thousand joins does not keep the first one waiting for the last; from inside the
        runner (the SFU unpublishing a track of someone leaving re-enters here) it returns at once, so it
        cannot deadlock.
        """
        if self.media is None:
            return
        runner = self._planning.get(room.id)
        if runner is not None:
            runner.room, runner.dirty = room, True
            if runner.task is not asyncio.current_task():
                await asyncio.shield(runner.next_pass)
            return
        runner = self._planning[room.id] = _PlanRunner(room, asyncio.current_task())
        this_pass = runner.next_pass
        try:
            while runner.dirty:
                runner.dirty = False
                this_pass, runner.next_pass = runner.next_pass, _future()
                await self._apply_plan(runner.room, self.media)
                this_pass.set_result(None)
        finally:
            del self._planning[room.id]
            for waiting in (this_pass, runner.next_pass):
                if not waiting.done():
                    waiting.set_result(None)

    async def _apply_plan(self, room: Room, media: MediaSeam) -> None:
        """Send the SFU the plans that changed. When only who is in the room changed (a join, a viewer
        leaving), only those who came or went are looked at: a join costs O(1), not O(room)."""
        old = self._plans.get(room.id, {})
        inputs = plan_inputs(room, self._prefs_version)
        prefs = self.preferences.get(room.id)
        people = room.participants
        version = people.version if isinstance(people, Roster) else -1
        moved = people.changed_since(self._versions.get(room.id, -1)) if isinstance(people, Roster) else None
        replan = self._replan.pop(room.id, set())
        incremental = bool(old and people and moved is not None and self._inputs.get(room.id) == inputs)
        if incremental:
            candidates = (moved or set()) | replan
            came = [people[pid] for pid in candidates if pid in people and pid not in old]
            gone = {pid for pid in candidates if pid not in people and pid in old}
            changed = plan(room, prefs, came) if came else {}
            new = old
        else:
            new = plan(room, prefs) if people else {}
            gone = old.keys() - new.keys()
            changed = {pid: tracks for pid, tracks in new.items() if old.get(pid) != tracks}
        for pid in gone:
            await media.leave(room.id, pid)
        for pid, tracks in changed.items():
            if not tracks and pid not in old:
                continue  # nothing to receive and nothing held by the SFU: a viewer before anyone publishes
            # rooms.audience plans only "high"/"low"/"off" (its own Literal is a plain str alias)
            await media.set_subscriptions(room.id, pid, cast(dict[str, Quality], tracks))
        if incremental:  # `new` is `old`: written after the SFU calls, as a whole new plan would be
            for pid in gone:
                new.pop(pid, None)
            new.update(changed)
        for pid in self._forgotten.pop(room.id, ()):  # dropped while this pass ran: send theirs again
            new.pop(pid, None)
            self._replan.setdefault(room.id, set()).add(pid)
        if new:
            self._plans[room.id] = new
            self._inputs[room.id] = inputs
            self._versions[room.id] = version
        else:
            for done in (self._plans, self._inputs, self._versions, self._replan, self.preferences):
                done.pop(room.id, None)
            await media.close_room(room.id)

    def forget_plan(self, room_id: str, pid: str) -> None:
        """The participant's media is gone (dropped connection): its next plan must be sent again."""
        self._plans.get(room_id, {}).pop(pid, None)
        self._replan.setdefault(room_id, set()).add(pid)  # still in the room: the next pass plans it again
        if room_id in self._planning:  # a pass in flight would write it back
            self._forgotten.setdefault(room_id, set()).add(pid)

    # MediaListener -----------------------------------------------------------------------------

    async def on_track_published(self, room_id: str, track: MediaTrack) -> None:
        await self.rooms.track_published(
            room_id,
            TrackInfo(track.track_id, track.participant_id, track.kind, track.source, track.quality, track.codec),
        )

    async def on_track_unpublished(self, room_id: str, track: MediaTrack) -> None:
        await self.rooms.track_unpublished(room_id, track.track_id)

    async def on_subscriber_offer(self, room_id: str, participant_id: str, sdp: str, offer_id: int) -> None:
        session = self.sessions.get((room_id, participant_id))
        if session is not None:
            await session.send({"type": "subscriber.offer", "sdp": sdp, "offer_id": offer_id})

    async def on_quality_changed(self, room_id: str, participant_id: str, change: QualityChange) -> None:
        session = self.sessions.get((room_id, participant_id))
        if session is not None:
            await session.send({
                "type": "quality.changed", "room": room_id, "at": time.time(), "layer": change.layer,
                "reason": change.reason, "tracks": list(change.tracks), "estimate_bps": change.estimate_bps,
                "loss": None if change.loss is None else round(change.loss, 4),
            })

    async def on_audio_levels(self, room_id: str, levels: dict[str, float]) -> None:
        await self.rooms.speaking(room_id, levels)

    async def on_media_lost(self, room_id: str, participants: list[str], tracks: list[MediaTrack]) -> None:
        """The room's SFU worker died (and is restarting): tell each participant here which tracks were lost,
        so its client makes both peer connections anew on the same session (`media.reset`), drop the lost
        tracks from the room, and apply every plan afresh (new subscriber offers, from a live worker)."""
        lost = [t.track_id for t in tracks]
        message = {"type": "media.reset", "reason": "media_restarted", "tracks": lost}
        for (rid, _pid), session in list(self.sessions.items()):
            if rid == room_id:
                await session.send(message)
        self._plans.pop(room_id, None)
        for track_id in lost:
            await self.rooms.track_unpublished(room_id, track_id)
        room = self.rooms.get(room_id)
        if room is not None:
            await self.apply_plan(room)

    async def on_track_stats(self, room_id: str, stats: list[dict[str, Any]]) -> None:
        self.track_stats[room_id] = stats
        room = self.rooms.get(room_id)
        if room is not None:
            await self.rooms.bus.publish(f"room:{room_id}", {"type": "stats", "room": room_id, "tracks": stats})
