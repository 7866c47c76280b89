"""One participant's WebSocket session: validate, authorise, act, and relay the room's events.

Transport-agnostic (it gets `send` and `close` callables) so that the aiohttp handler stays thin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from core.bus import Subscription
from core.tokens import TokenError
from rooms.audience import is_hub
from rooms.classwork import classwork_for
from rooms.room import Participant
from rooms.service import RoomError, room_channel
from signaling import protocol as p
from signaling.classwork import classwork_reply
from signaling.hub import SignalingHub
from signaling.media_seam import MediaSeam, PublishedTrackSpec

log = logging.getLogger(__name__)

INVALID_LIMIT = 20  # invalid messages within INVALID_WINDOW seconds close the connection (abuse)
INVALID_WINDOW = 10.0
JOIN_TIMEOUT = 15.0


class CloseCode:
    NORMAL = 1000
    ABUSE = 4000
    JOIN_TIMEOUT = 4001
    REMOVED = 4003
    ROOM_ENDED = 4004
    REPLACED = 4009


SendRaw = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


class Session:
    def __init__(self, hub: SignalingHub, send_raw: SendRaw, close: Close) -> None:
        self.hub = hub
        self._send_raw = send_raw
        self._close = close
        self.room_id: str | None = None
        self.participant: Participant | None = None
        self._events: Subscription | None = None
        self._relay: asyncio.Task[None] | None = None
        self._invalid: deque[float] = deque()
        self._closed = False
        self._left = False
        self._hub_side = False

    # transport side ----------------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(message, ensure_ascii=False))

    async def send_raw(self, text: str) -> None:
        if not self._closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send_raw(text)

    async def close(self, code: int, reason: str) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._close(code, reason)

    async def handle(self, raw: str | bytes) -> None:
        request_id = None
        try:
            msg = p.parse(raw)
            request_id = msg.id
            await self._dispatch(msg)
        except p.ProtocolError as e:
            await self._reject(e.code, e.message, e.field, request_id, invalid=True)
        except RoomError as e:
            await self._reject(e.code, e.message, e.field, request_id)
        except TokenError as e:
            await self._reject(e.code, e.message, "token", request_id)

    async def _reject(self, code: str, message: str, field: str | None, request_id: Any, invalid: bool = False) -> None:
        await self.send(p.error(code, message, field, request_id))
        if invalid or code == "forbidden":
            now = time.monotonic()
            self._invalid.append(now)
            while self._invalid and now - self._invalid[0] > INVALID_WINDOW:
                self._invalid.popleft()
            if len(self._invalid) > INVALID_LIMIT:
                await self.close(CloseCode.ABUSE, "too many invalid messages")

    async def closed(self) -> None:
        """The transport is gone: keep the seat for the resume grace period."""
        self._closed = True
        await self._stop_relay()
        if self.room_id and self.participant and not self._left:
            pid = self.participant.id
            if self.hub.unregister(self.room_id, pid, self):
                self.hub.forget_plan(self.room_id, pid)
                if self.hub.media is not None:
                    await self.hub.media.leave(self.room_id, pid)
                await self.hub.rooms.disconnect(self.room_id, pid)

    # messages ----------------------------------------------------------------------------------

    def _require(self, msg: p.Msg) -> tuple[str, Participant]:
        if self.room_id is None or self.participant is None:
            raise p.ProtocolError("not_joined", "join a room first", "type")
        grant = p.REQUIRED_GRANT.get(msg.type)  # type: ignore[attr-defined]
        if grant and not getattr(self.participant.grants, grant):
            raise RoomError("forbidden", f"your role may not send {msg.type}", "type")  # type: ignore[attr-defined]
        return self.room_id, self.participant

    async def _dispatch(self, msg: p.Msg) -> None:
        rooms = self.hub.rooms
        match msg:
            case p.Ping():
                if self.room_id and self.participant:
                    await rooms.heartbeat(self.room_id, self.participant.id)
                await self.send({"type": "pong", "id": msg.id, "at": time.time()})
            case p.Join():
                await self._join(msg)
            case p.Resume():
                await self._resume(msg)
            case p.Leave():
                room_id, me = self._require(msg)
                await self._leave(room_id, me.id)
            case p.HandRaise():
                room_id, me = self._require(msg)
                await rooms.raise_hand(room_id, me.id)
                await self._ok(msg)
            case p.HandLower():
                room_id, me = self._require(msg)
                await rooms.lower_hand(room_id, me.id, msg.participant_id)
                await self._ok(msg)
            case p.StageInvite():
                room_id, me = self._require(msg)
                await rooms.invite(room_id, me.id, msg.participant_id)
                await self._ok(msg)
            case p.StageLeave():
                room_id, me = self._require(msg)
                await rooms.leave_stage(room_id, me.id, msg.participant_id)
                await self._ok(msg)
            case p.MuteRequest():
                room_id, me = self._require(msg)
                await rooms.request_mute(room_id, me.id, msg.participant_id, msg.source)
                await self._ok(msg)
            case p.ParticipantRemove():
                room_id, me = self._require(msg)
                await rooms.remove(room_id, me.id, msg.participant_id)
                await self._ok(msg)
            case p.RoomStart():
                room_id, me = self._require(msg)
                await rooms.go_live(room_id, me.id)
                await self._ok(msg)
            case p.RoomEnd():
                room_id, me = self._require(msg)
                await rooms.end(room_id, me.id)
            case p.PublishOffer():
                room_id, me = self._require(msg)
                for i, t in enumerate(msg.tracks):
                    if not me.grants.may_publish(t.source):
                        raise RoomError("forbidden", f"your role may not publish {t.source}", f"tracks.{i}.source")
                media = self._media()
                specs = [PublishedTrackSpec(t.mid, t.kind, t.source, t.quality) for t in msg.tracks]
                answer = await media.publish_offer(room_id, me.id, msg.sdp, specs)
                await self.send({"type": "publish.answer", "id": msg.id, "sdp": answer})
            case p.SubscriberAnswer():
                room_id, me = self._require(msg)
                await self._media().subscriber_answer(room_id, me.id, msg.sdp)
            case p.Ice():
                room_id, me = self._require(msg)
                await self._media().ice_candidate(room_id, me.id, msg.target, msg.candidate)
            case p.SubscriptionQuality():
                room_id, me = self._require(msg)
                self.hub.set_preference(room_id, me.id, msg.participant_id, msg.quality)
                room = rooms.get(room_id)
                if room is not None:
                    await self.hub.apply_plan(room)
                await self._ok(msg)
            case p.QuizPush() | p.QuizClose() | p.QuizAnswer() | p.ChatSend() | p.ChatDelete() \
                    | p.CheckinHeadcount() | p.LessonState():
                room_id, me = self._require(msg)
                await self.send(await classwork_reply(classwork_for(rooms), room_id, me.id, msg))

    def _media(self) -> MediaSeam:
        if self.hub.media is None:
            raise RoomError("media_unavailable", "this server runs without media", "type")
        return self.hub.media

    async def _ok(self, msg: p.Msg) -> None:
        if msg.id is not None:
            await self.send({"type": "ok", "id": msg.id})

    async def _join(self, msg: p.Join) -> None:
        if self.participant is not None:
            raise p.ProtocolError("already_joined", "this connection has joined already", "type")
        claims = self.hub.tokens.verify_join(msg.token)
        room_id = claims.grants.room
        old = self.hub.register(room_id, claims.identity, self)
        try:
            participant, resume, replaced = await self.hub.rooms.join(room_id, claims)
        except RoomError:
            self.hub.unregister(room_id, claims.identity, self)
            if old is not None:
                self.hub.register(room_id, claims.identity, old)
            raise
        if old is not None:
            await old.close(CloseCode.REPLACED, "joined from another connection")
        await self._start(room_id, participant, resume, msg.id, replaced)

    async def _resume(self, msg: p.Resume) -> None:
        if self.participant is not None:
            raise p.ProtocolError("already_joined", "this connection has joined already", "type")
        old = self.hub.register(msg.room, msg.participant_id, self)
        try:
            participant, resume = await self.hub.rooms.resume(msg.room, msg.participant_id, msg.resume_token)
        except RoomError:
            self.hub.unregister(msg.room, msg.participant_id, self)
            if old is not None:
                self.hub.register(msg.room, msg.participant_id, old)
            raise
        if old is not None:
            await old.close(CloseCode.REPLACED, "resumed from another connection")
        await self._start(msg.room, participant, resume, msg.id, True)

    async def _start(self, room_id: str, me: Participant, resume: str, request_id: Any, resumed: bool) -> None:
        self.room_id = room_id
        self.participant = me
        self._hub_side = is_hub(me) or me.grants.room_admin or me.hidden
        if resumed and self.hub.media is not None:
            # A resumed or replacing connection brings new peer connections: drop the old ones first,
            # or the SFU would keep a dead publisher and never offer the new subscriber connection.
            self.hub.forget_plan(room_id, me.id)
            await self.hub.media.leave(room_id, me.id)
        self._events = await self.hub.rooms.bus.subscribe(room_channel(room_id))
        room = self.hub.rooms.get(room_id)
        snapshot = room.snapshot(me) if room else {}
        await self.send({
            "type": "joined", "id": request_id, "participant_id": me.id, "role": me.role.value,
            "grants": me.grants.to_claim(), "resume_token": resume, "resumed": resumed, "room": snapshot,
            "ice_servers": self.hub.ice_servers(me.id) if self.hub.ice_servers else [],
        })
        self._relay = asyncio.create_task(self._relay_events(self._events), name=f"relay-{me.id}")
        if room is not None:
            await self.hub.apply_plan(room)

    async def _relay_events(self, events: Subscription) -> None:
        me = self.participant
        assert me is not None
        async for envelope in events:
            event = envelope.data
            if event.get("to") not in (None, me.id):
                continue
            if event.get("hidden") and not me.hidden:
                continue
            if event.get("scope") == "hub" and not self._hub_side and event.get("about") != me.id:
                continue
            await self.send_raw(envelope.raw)
            if event["type"] == "room.ended":
                self._left = True
                await self.close(CloseCode.ROOM_ENDED, "the lesson has ended")
                return
            if event["type"] == "removed":
                self._left = True
                await self.close(CloseCode.REMOVED, "removed by the teacher")
                return

    async def _leave(self, room_id: str, pid: str) -> None:
        self._left = True
        self.hub.unregister(room_id, pid, self)
        if self.hub.media is not None:
            await self.hub.media.leave(room_id, pid)
        await self.hub.rooms.leave(room_id, pid, reason="left")
        await self.close(CloseCode.NORMAL, "left")

    async def _stop_relay(self) -> None:
        if self._events is not None:
            await self._events.close()
            self._events = None
        if self._relay is not None and self._relay is not asyncio.current_task():
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay
        self._relay = None
