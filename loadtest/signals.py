"""How a bot talks to the SFU: `DirectSignal` drives a `MediaService` in the same process (tests, the
benchmarks' SFU host); `WsSignal` joins through the real server's `/ws` and speaks its protocol. Split from
`loadtest.bots` (the peers and what they check), which re-exports both.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import aiohttp


class Peer(Protocol):
    """What a signal needs of a bot (`loadtest.bots.Bot`)."""

    name: str

    async def on_subscriber_offer(self, sdp: str, offer_id: int | None = None) -> None:
        """The SFU's offer and its id, which the answer echoes (None: a server that numbers no offers)."""

    def drop_connections(self) -> list[Any]: ...

    async def renegotiate(self, old: list[Any]) -> None: ...


P = TypeVar("P", bound=Peer)
logger = logging.getLogger(__name__)


class Answering(Protocol):
    """A subscriber that echoes the SFU offer's id (a `loadtest.bots.Bot`, a `loadtest.sink.Sink`)."""

    name: str
    offer_id: int | None  # the id of the offer being answered: what the answer echoes
    answered: int | None  # the id of the last offer whose answer the SFU took
    refused: list[str]  # codes of answers the SFU refused


async def answer_in_turn(peer: Answering, offer_id: int | None, answer: Callable[[], Awaitable[None]]) -> None:
    """Answer one offer (the caller holds its offers' lock, so they are answered in order). An offer the SFU
    sent again (after refusing a stale answer) that was answered already is skipped. A refused answer is noted
    and nothing else: the SFU's current offer is on its way (or sent again), and is answered."""
    if offer_id is not None and offer_id == peer.answered:
        return
    peer.offer_id = offer_id
    try:
        await answer()
    except Exception as e:
        code = getattr(e, "code", None)
        if code is None:
            raise
        peer.refused.append(str(code))
        logger.info("bot %s: answer to offer %s refused (%s)", peer.name, offer_id, code)
        return
    if offer_id is not None:
        peer.answered = offer_id


class Refused(RuntimeError):
    """The server refused a request (an `error` reply): its code, message and field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field


class Signal(Protocol):
    async def publish(self, bot: Peer, sdp: str, tracks: list[dict]) -> str: ...

    async def subscriber_answer(self, bot: Peer, sdp: str, offer_id: int | None = None) -> None:
        """Raises what the server refused with (a `SankeError` or `Refused`, each with a `code`)."""


class DirectSignal:
    """Drives a MediaService in the same process (tests and the benchmark's SFU host)."""

    def __init__(self, service, room_id: str) -> None:
        from media.service import MediaService
        from signaling.media_seam import PublishedTrackSpec

        self.service: MediaService = service
        self.room_id = room_id
        self.bots: dict[str, Peer] = {}
        self._spec = PublishedTrackSpec
        self.published: list = []
        self.levels: list[dict[str, float]] = []
        self.stats: list[list[dict]] = []
        self.lost: list[tuple[list[str], list]] = []  # on_media_lost calls: (participants, tracks)
        self.quality: list[tuple[float, str, object]] = []  # (when, participant id, QualityChange)
        service.set_listener(self)

    def add(self, bot: P) -> P:
        self.bots[bot.name] = bot
        return bot

    async def publish(self, bot: Peer, sdp: str, tracks: list[dict]) -> str:
        specs = [self._spec(mid=t["mid"], kind=t["kind"], source=t["source"], quality=t["quality"]) for t in tracks]
        return await self.service.publish_offer(self.room_id, bot.name, sdp, specs)

    async def subscriber_answer(self, bot: Peer, sdp: str, offer_id: int | None = None) -> None:
        await self.service.subscriber_answer(self.room_id, bot.name, sdp, offer_id)

    # MediaListener
    async def on_track_published(self, room_id: str, track) -> None:
        self.published.append(track)

    async def on_track_unpublished(self, room_id: str, track) -> None:
        self.published = [t for t in self.published if t.track_id != track.track_id]

    async def on_subscriber_offer(self, room_id: str, participant_id: str, sdp: str, offer_id: int) -> None:
        bot = self.bots.get(participant_id)
        if bot is not None:
            asyncio.ensure_future(bot.on_subscriber_offer(sdp, offer_id))

    async def on_audio_levels(self, room_id: str, levels: dict[str, float]) -> None:
        self.levels.append(levels)

    async def on_track_stats(self, room_id: str, stats: list[dict]) -> None:
        self.stats.append(stats)

    async def on_media_lost(self, room_id: str, participants: list[str], tracks: list) -> None:
        lost = {t.track_id for t in tracks}
        self.lost.append((participants, tracks))
        self.published = [t for t in self.published if t.track_id not in lost]
    async def on_quality_changed(self, room_id: str, participant_id: str, change) -> None:
        self.quality.append((time.monotonic(), participant_id, change))

    def tracks_of(self, participant_id: str, kind: str | None = None, quality: str | None = None) -> list:
        return [
            t for t in self.published
            if t.participant_id == participant_id and (kind is None or t.kind == kind)
            and (quality is None or t.quality == quality)
        ]


class WsSignal:
    """Joins through the real server's `/ws` with a join token and speaks its protocol (docs/protocol.md)."""

    def __init__(self, base_url: str, token: str, http: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = http
        self._own_http = http is None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.participant_id: str | None = None
        self.joined: dict = {}
        self.events: list[dict] = []
        self.errors: list[dict] = []
        self._pending: dict[int, asyncio.Future] = {}
        self._next_id = 0
        self._reader: asyncio.Task | None = None
        self._bot: Peer | None = None
        self._offers: list[asyncio.Task] = []

    async def connect(self, bot: Peer) -> dict:
        self._bot = bot
        if self._http is None:
            self._http = aiohttp.ClientSession()
        url = self.base_url.replace("http://", "ws://").replace("https://", "wss://") + "/ws"
        self.ws = await self._http.ws_connect(url, heartbeat=20)
        self._reader = asyncio.ensure_future(self._read())
        self.joined = await self.request({"type": "join", "token": self.token})
        self.participant_id = self.joined.get("participant_id")
        return self.joined

    async def request(self, message: dict, timeout: float = 15.0) -> dict:
        self._next_id += 1
        rid = self._next_id
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        await self.ws.send_json(dict(message, id=rid))  # type: ignore[union-attr]
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(rid, None)

    async def _read(self) -> None:
        async for msg in self.ws:  # type: ignore[union-attr]
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            kind = data.get("type")
            rid = data.get("id")
            if kind == "subscriber.offer" and self._bot is not None:
                offer = self._bot.on_subscriber_offer(data["sdp"], data.get("offer_id"))
                self._offers.append(asyncio.ensure_future(offer))
                continue
            if kind == "media.reset" and self._bot is not None:
                self.events.append(data)
                old = self._bot.drop_connections()
                self._offers.append(asyncio.ensure_future(self._bot.renegotiate(old)))
                continue
            if rid in self._pending and not self._pending[rid].done():
                if kind == "error":
                    refused = Refused(str(data.get("code")), str(data.get("message")), data.get("field"))
                    self._pending[rid].set_exception(refused)
                else:
                    self._pending[rid].set_result(data)
                continue
            if kind == "error":
                self.errors.append(data)
            else:
                self.events.append(data)

    async def publish(self, bot: Peer, sdp: str, tracks: list[dict]) -> str:
        reply = await self.request({"type": "publish.offer", "sdp": sdp, "tracks": tracks})
        return reply["sdp"]

    async def subscriber_answer(self, bot: Peer, sdp: str, offer_id: int | None = None) -> None:
        """Waits for the server's `ok`, so that a refused answer (`Refused`) reaches the bot."""
        message: dict[str, Any] = {"type": "subscriber.answer", "sdp": sdp}
        if offer_id is not None:
            message["offer_id"] = offer_id
        await self.request(message)

    async def close(self) -> None:
        for task in self._offers:
            task.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.send_json({"type": "leave"})
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._own_http and self._http is not None:
            await self._http.close()
