"""One participant's WebSocket session: validate, authorise, act, and relay the room's events.

Transport-agnostic (it gets `send` and `close` callables) so that the aiohttp handler stays thin.
Every failure while handling a message becomes an error reply with a code; only abuse (a flood of
invalid or rate-limited messages) and a reader too slow to keep up close the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from core.bus import BusUnavailable, Envelope
from core.errors import SankeError
from core.tokens import TokenError
from rooms.audience import is_hub
from rooms.classwork import classwork_for
from rooms.room import Participant
from rooms.service import RoomError, room_channel
from signaling import protocol as p
from signaling.classwork import classwork_reply
from signaling.hub import SignalingHub
from signaling.mailbox import Mailbox
from signaling.media_seam import MediaSeam, PublishedTrackSpec
from signaling.ratelimit import MessageLimiter
from signaling.sendqueue import Close, SendQueue, SendRaw

log = logging.getLogger(__name__)

INVALID_LIMIT = 20  # invalid or rate-limited messages within INVALID_WINDOW seconds close the connection
INVALID_WINDOW = 10.0
JOIN_TIMEOUT = 15.0
T = TypeVar("T")
# What the SFU raises on input it cannot use (aiortc: ValueError on a bad SDP or candidate, KeyError for a
# connection that does not exist, InvalidStateError for an answer in the wrong signaling state).
_STATE_ERRORS = ("InvalidStateError", "InvalidAccessError")


class CloseCode:
    NORMAL = 1000
    SERVICE_RESTART = 1012
    ABUSE = 4000
    JOIN_TIMEOUT = 4001
    REMOVED = 4003
    ROOM_ENDED = 4004
    REVOKED = 4005  # the account was deactivated: its join tokens are revoked and its seats taken back
    SLOW_CONSUMER = 4008
    REPLACED = 4009


class Session:
    def __init__(self, hub: SignalingHub, send_raw: SendRaw, close: Close) -> None:
        self.hub = hub
        self._close = close
        self.outbox = SendQueue(send_raw, close, self._on_slow)
        self.room_id: str | None = None
        self.participant: Participant | None = None
        self.mailbox: Mailbox | None = None  # the room's events for us: outlives this connection for a resume
        self.hub_side = False
        self.hidden = False
        self._limiter = MessageLimiter()
        self._invalid: deque[float] = deque()
        self._closed = False
        self._left = False
        self._media_dropped = False  # the old peer connections went before the seat was entered (_claim_seat)
        self._tasks: set[asyncio.Task[None]] = set()
        self._ending: p.RoomEnd | None = None  # our room.end while it runs: its `ok` goes before room.ended

    # transport side ----------------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        self.send_raw(json.dumps(message, ensure_ascii=False))

    def send_raw(self, text: str) -> None:
        if not self._closed:
            self.outbox.put(text)

    async def close(self, code: int, reason: str) -> None:
        self.close_after(code, reason)

    def close_after(self, code: int, reason: str) -> None:
        """Close after what is already queued (an error reply, `room.ended`) has been sent."""
        if not self._closed:
            self._closed = True
            self.outbox.close(code, reason)

    def _on_slow(self) -> None:
        """The reader fell too far behind: drop it now, without flushing what it did not read."""
        self._closed = True
        log.info("dropping slow consumer %s in %s", self.participant and self.participant.id, self.room_id)
        self._spawn(self._close(CloseCode.SLOW_CONSUMER, "too slow to receive the room's events"))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def deliver(self, envelope: Envelope, text: str) -> bool:
        """A room event chosen for this participant by the room's fan-out, as `text` (numbered by the
        mailbox); never blocks. False when this connection takes nothing more (it keeps it for a resume)."""
        if self._closed:
            return False
        kind = envelope.data.get("type")
        if kind == "room.ended" and self._ending is not None:  # the reply to our room.end, before the close
            self._ok(self._ending)
            self._ending = None
        self.send_raw(text)
        if kind == "room.ended":
            self._left = True
            self.close_after(CloseCode.ROOM_ENDED, "the lesson has ended")
        elif kind == "removed":
            self._left = True
            self.close_after(CloseCode.REMOVED, "removed by the teacher")
        return True

    async def handle(self, raw: str | bytes) -> None:
        request_id = None
        try:
            msg = p.parse(raw)
            request_id = msg.id
            if not self._limiter.admit(msg.type):  # type: ignore[attr-defined]
                raise p.ProtocolError("rate_limited", f"too many {msg.type} messages; slow down", "type")  # type: ignore[attr-defined]
            if not self.hub.rooms.bus.available and not isinstance(msg, p.Ping):
                raise BusUnavailable()  # refused before any state changes; a ping is still answered
            await self._dispatch(msg)
        except p.ProtocolError as e:
            rid = request_id if request_id is not None else e.request_id
            await self._reject(e.code, e.message, e.field, rid, invalid=True)
        except TokenError as e:
            await self._reject(e.code, e.message, e.field or "token", request_id)
        except BusUnavailable as e:  # Redis is away: nothing happened; the client retries after `retry_after`
            await self.send({**p.error(e.code, e.message, e.field, request_id), "retry_after": e.retry_after})
        except SankeError as e:  # rooms, stage, media state, classwork: each carries its code and field
            await self._reject(e.code, e.message, e.field, request_id)
        except Exception:
            trace = secrets.token_hex(6)
            log.exception("internal error handling a message (trace %s, participant %s)", trace,
                          self.participant and self.participant.id)
            await self.send({**p.error("internal", f"internal error (trace {trace})", None, request_id),
                             "trace_id": trace})

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
        await self.outbox.stop()
        mailbox = self.mailbox
        if self.room_id and self.participant and not self._left:
            pid = self.participant.id
            if mailbox is not None and mailbox.detach(self):  # it keeps collecting until the seat is gone
                self.hub.park(self.room_id, pid, mailbox)
            if self.hub.unregister(self.room_id, pid, self):
                self.hub.forget_plan(self.room_id, pid)
                if self.hub.media is not None and not self.hub.closing:  # stopping: one close for all
                    await self.hub.media.leave(self.room_id, pid)
                # A new connection may have taken the seat while the SFU answered: marked disconnected
                # after that, the seat's grace timer would remove the participant under its live connection.
                if self.hub.sessions.get((self.room_id, pid)) is None:
                    await self.hub.rooms.disconnect(self.room_id, pid)
        elif self.room_id and self.participant and mailbox is not None:
            mailbox.detach(self)
            await self.hub.fanouts.remove(self.room_id, self.participant.id, mailbox)
        for task in list(self._tasks):
            task.cancel()

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
                self._ok(msg)
            case p.HandLower():
                room_id, me = self._require(msg)
                await rooms.lower_hand(room_id, me.id, msg.participant_id)
                self._ok(msg)
            case p.StageInvite():
                room_id, me = self._require(msg)
                await rooms.invite(room_id, me.id, msg.participant_id)
                self._ok(msg)
            case p.StageLeave():
                room_id, me = self._require(msg)
                await rooms.leave_stage(room_id, me.id, msg.participant_id)
                self._ok(msg)
            case p.MuteRequest():
                room_id, me = self._require(msg)
                await rooms.request_mute(room_id, me.id, msg.participant_id, msg.source)
                self._ok(msg)
            case p.ParticipantRemove():
                room_id, me = self._require(msg)
                await rooms.remove(room_id, me.id, msg.participant_id)
                self._ok(msg)
            case p.RoomStart():
                room_id, me = self._require(msg)
                await rooms.go_live(room_id, me.id)
                self._ok(msg)
            case p.RoomEnd():
                room_id, me = self._require(msg)
                self._ending = msg
                try:
                    await rooms.end(room_id, me.id)
                finally:
                    ending, self._ending = self._ending, None
                if ending is not None:  # room.ended has not reached this connection yet (a remote bus)
                    self._ok(ending)
            case p.PublishOffer():
                room_id, me = self._require(msg)
                for i, t in enumerate(msg.tracks):
                    if not me.grants.may_publish(t.source):
                        raise RoomError("forbidden", f"your role may not publish {t.source}", f"tracks.{i}.source")
                media = self._media()
                specs = [PublishedTrackSpec(t.mid, t.kind, t.source, t.quality) for t in msg.tracks]
                answer = await _media_call(media.publish_offer(room_id, me.id, msg.sdp, specs), "sdp")
                await self.send({"type": "publish.answer", "id": msg.id, "sdp": answer})
            case p.SubscriberAnswer():
                room_id, me = self._require(msg)
                await _media_call(self._media().subscriber_answer(room_id, me.id, msg.sdp, msg.offer_id), "sdp")
                self._ok(msg)
            case p.Ice():
                room_id, me = self._require(msg)
                candidate = msg.candidate.model_dump(exclude_none=True)
                await _media_call(self._media().ice_candidate(room_id, me.id, msg.target, candidate), "candidate")
            case p.SubscriptionQuality():
                room_id, me = self._require(msg)
                self.hub.set_preference(room_id, me.id, msg.participant_id, msg.quality)
                room = rooms.get(room_id)
                if room is not None:
                    await self.hub.apply_plan(room)
                self._ok(msg)
            case p.QuizPush() | p.QuizClose() | p.QuizAnswer() | p.ChatSend() | p.ChatDelete() \
                    | p.CheckinHeadcount() | p.LessonState():
                room_id, me = self._require(msg)
                await self.send(await classwork_reply(classwork_for(rooms), room_id, me.id, msg))

    def _media(self) -> MediaSeam:
        if self.hub.media is None:
            raise RoomError("media_unavailable", "this server runs without media", "type")
        return self.hub.media

    def _ok(self, msg: p.Msg) -> None:
        if msg.id is not None:
            self.send_raw(json.dumps({"type": "ok", "id": msg.id}, ensure_ascii=False))

    async def _join(self, msg: p.Join) -> None:
        if self.participant is not None:
            raise p.ProtocolError("already_joined", "this connection has joined already", "type")
        claims = self.hub.tokens.verify_join(msg.token)
        room_id = claims.grants.room
        room = self.hub.rooms.get(room_id)
        participant, resume, replaced = await self._claim_seat(
            room_id, claims.identity, lambda: self.hub.rooms.join(room_id, claims), "joined from another connection",
            reentry=room is not None and claims.identity in room.participants,
        )
        await self._start(room_id, participant, resume, msg.id, replaced)

    async def _resume(self, msg: p.Resume) -> None:
        if self.participant is not None:
            raise p.ProtocolError("already_joined", "this connection has joined already", "type")
        participant, resume = await self._claim_seat(
            msg.room, msg.participant_id,
            lambda: self.hub.rooms.resume(msg.room, msg.participant_id, msg.resume_token),
            "resumed from another connection",
            reentry=self.hub.rooms.opens(msg.room, msg.participant_id, msg.resume_token),  # not on a guess
        )
        await self._start(msg.room, participant, resume, msg.id, True, msg.last_seq)

    async def _claim_seat(
        self, room_id: str, pid: str, enter: Callable[[], Awaitable[T]], why: str, reentry: bool
    ) -> T:
        """Become the participant's connection while `enter` runs; on any failure put back the one we
        displaced, on success close it (4009). The one rollback path for join and resume.

        A seat entered again (`reentry`: a resume, or a join where the seat is kept) brings new peer
        connections: the old ones are dropped before `enter`, whose room change plans this connection's
        media once. Dropped after it, the SFU had already offered a subscriber connection, closed it and
        offered a second with the same m-lines; a loaded client's answer to the first then reached the
        second, which took its ICE credentials and never connected (the patrol wall's black tiles)."""
        old = self.hub.register(room_id, pid, self)
        try:
            self._media_dropped = reentry and self.hub.media is not None
            if self._media_dropped:
                await self._drop_media(room_id, pid)
            result = await enter()
        except BaseException:
            self.hub.unregister(room_id, pid, self)
            if old is not None:
                self.hub.register(room_id, pid, old)
            raise
        if isinstance(old, Session):
            await old.close(CloseCode.REPLACED, why)
        return result

    async def _start(
        self, room_id: str, me: Participant, resume: str, request_id: Any, resumed: bool, last_seq: int | None = None
    ) -> None:
        self.room_id = room_id
        self.participant = me
        self.hub_side = is_hub(me) or me.grants.room_admin or me.hidden
        self.hidden = me.hidden
        if resumed and not self._media_dropped:  # a seat that came back while we joined (a second tab at once)
            await self._drop_media(room_id, me.id)
        fanout = await self.hub.fanouts.ensure(room_id, room_channel(room_id))
        room = self.hub.rooms.get(room_id)
        snapshot = room.snapshot(me) if room else {}
        # From here to fanout.add, no await: `joined`, then what was missed, then every later event, once.
        self.mailbox = self.hub.mailbox(room_id, me.id, self.hub_side, self.hidden, keep_seat=resumed)
        missed = self.mailbox.attach(self, last_seq)
        await self.send({
            "type": "joined", "id": request_id, "participant_id": me.id, "role": me.role.value,
            "grants": me.grants.to_claim(), "resume_token": resume, "resumed": resumed, "room": snapshot,
            "ice_servers": self.hub.ice_servers(me.id) if self.hub.ice_servers else [],
            "replay": "snapshot" if missed is None else "events",
        })
        for text in missed or ():
            self.send_raw(text)
        fanout.add(me.id, self.mailbox)
        if resumed and room is not None:  # a fresh seat was planned by the join itself (the room's observer)
            await self.hub.apply_plan(room)

    async def _drop_media(self, room_id: str, pid: str) -> None:
        """The participant's old peer connections go; its next plan is sent again (to this connection)."""
        if self.hub.media is not None:
            self.hub.forget_plan(room_id, pid)
            await self.hub.media.leave(room_id, pid)

    async def _leave(self, room_id: str, pid: str) -> None:
        self._left = True
        self.hub.unregister(room_id, pid, self)
        if self.hub.media is not None:
            await self.hub.media.leave(room_id, pid)
        await self.hub.rooms.leave(room_id, pid, reason="left")
        await self.close(CloseCode.NORMAL, "left")


async def _media_call(call: Awaitable[T], field: str) -> T:
    """Turn what the SFU raises on unusable input or state into a protocol error with a code."""
    try:
        return await call
    except SankeError:
        raise
    except Exception as e:
        if type(e).__name__ in _STATE_ERRORS or isinstance(e, KeyError):
            raise p.ProtocolError("invalid_state", f"not possible now: {str(e)[:160]}", "type") from e
        if isinstance(e, ValueError | IndexError | TypeError | AssertionError):  # aiortc asserts on some SDP
            raise p.ProtocolError(f"invalid_{field}", f"the SFU could not use this {field}: {str(e)[:160]}",
                                  field) from e
        raise
