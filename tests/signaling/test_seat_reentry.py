"""A participant entering its seat again (a page reopened, a resume after a drop) gets one new subscriber
connection, and keeps its seat when its old connection's close is handled late.

Found on the coordinator's patrol wall under load (tests/demo/test_journey.py): the SFU offered the returning
wall a subscriber connection as soon as the seat was entered, then closed it and offered a second one with
the same m-lines. The loaded page's answer to the first reached the second, which took those ICE credentials
and never connected; the page's own answer was refused as stale; 8 s later the page resumed, which did the
same again: one lesson's tiles stayed black for 90 s. Real signaling over /ws and the in-process SFU; the
watcher only reads the offers (no answer is needed to count connections).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from loadtest.bots import Bot, WsSignal, wait_for
from loadtest.clip import Clip, load
from tests.media.conftest import LessonServer
from web.demo.sdp import certificate


@pytest.fixture(scope="module")
def clip() -> Clip:
    return load(160, 128, 15, 45, 80_000)


@pytest.fixture
async def lesson(tmp_path: Path) -> AsyncIterator[LessonServer]:
    from aiohttp.test_utils import TestServer

    from core.settings import Settings
    from web.app import create_app

    settings = Settings(data_dir=tmp_path / "data", port=0, media_workers=0, resume_grace=1.0)
    server = TestServer(create_app(settings), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield LessonServer(server.app, server)
    finally:
        await server.close()


class Watcher:
    """A classroom's socket that reads everything and answers nothing: the offers it gets, by certificate."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http, self.ws = http, ws
        self.offers: list[str] = []
        self.joined: dict[str, Any] = {}
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def enter(cls, srv: LessonServer, message: dict[str, Any]) -> Watcher:
        http = aiohttp.ClientSession()
        watcher = cls(http, await http.ws_connect(srv.url.replace("http", "ws", 1) + "/ws"))
        await watcher.ws.send_json(dict(message, id=1))
        assert await wait_for(lambda: bool(watcher.joined), 10), "no joined"
        return watcher

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if data.get("type") == "subscriber.offer":
                self.offers.append(certificate(data["sdp"]))
            elif data.get("type") == "joined":
                self.joined = data

    async def drop(self) -> None:
        """The network goes: the socket closes without a leave."""
        await self.ws.close()
        await self.http.close()
        self.reader.cancel()


async def _teacher(srv: LessonServer, room: str, clip: Clip) -> tuple[Bot, WsSignal]:
    signal = WsSignal(srv.url, srv.token(room, "delivery", "hub", "hub_teacher", "hub"))
    bot = Bot("hub", signal, clip=clip, tone_hz=440)
    await signal.connect(bot)
    await bot.publish()
    return bot, signal


def _sfu_connection(srv: LessonServer, room: str, pid: str) -> str:
    transport = srv.media.routers[room].subscribers.get(pid)
    return certificate(transport.pc.localDescription.sdp) if transport is not None and transport.pc.localDescription else ""


async def test_a_seat_entered_again_gets_one_subscriber_connection(lesson: LessonServer, clip: Clip) -> None:
    srv = lesson
    room = await srv.room("delivery")
    bot, signal = await _teacher(srv, room, clip)
    token = srv.token(room, "delivery", "class0", "classroom", "remote")
    try:
        first = await Watcher.enter(srv, {"type": "join", "token": token})
        assert await wait_for(lambda: bool(first.offers), 10), "the classroom got no subscriber offer"
        resume = {"type": "resume", "room": room, "participant_id": "class0", "resume_token": first.joined["resume_token"]}
        held = _sfu_connection(srv, room, "class0")
        async with aiohttp.ClientSession() as http, http.ws_connect(srv.url.replace("http", "ws", 1) + "/ws") as guess:
            await guess.send_json(dict(resume, resume_token=secrets.token_urlsafe(24), id=1))  # someone else's resume
            assert (await guess.receive_json(timeout=10))["code"] == "resume_failed"
        assert _sfu_connection(srv, room, "class0") == held, "a refused resume dropped the seat's media"
        await first.drop()
        assert await wait_for(lambda: not srv.rooms.get(room).participants["class0"].connected, 5)

        # the page opened again (a join into the kept seat), then a resume after another drop
        for entering in ({"type": "join", "token": token}, resume):
            again = await Watcher.enter(srv, entering)
            assert again.joined.get("resumed") is True
            assert await wait_for(lambda again=again: bool(again.offers), 10), "no subscriber offer after re-entering"
            await asyncio.sleep(1.5)  # what a second connection would take to be offered
            assert len(set(again.offers)) == 1, f"{entering['type']}: offers from {len(set(again.offers))} SFU connections"
            assert again.offers[-1] == _sfu_connection(srv, room, "class0")  # the one the SFU holds
            resume["resume_token"] = again.joined["resume_token"]
            await again.drop()
            assert await wait_for(lambda: not srv.rooms.get(room).participants["class0"].connected, 5)
    finally:
        await bot.close()
        await signal.close()


async def test_an_old_connection_closing_late_does_not_end_the_new_ones_seat(lesson: LessonServer, clip: Clip) -> None:
    """The old socket's close is handled while the SFU is slow to drop its media, and the page has joined
    again meanwhile: the seat must not be marked disconnected under the new connection (its grace timer,
    1 s here, would then remove the participant and its media from the lesson)."""
    srv = lesson
    room = await srv.room("delivery")
    bot, signal = await _teacher(srv, room, clip)
    leave = srv.media.leave

    async def slow_leave(room_id: str, pid: str) -> None:  # a loaded SFU
        await asyncio.sleep(0.5)
        await leave(room_id, pid)

    srv.media.leave = slow_leave
    token = srv.token(room, "delivery", "class0", "classroom", "remote")
    try:
        first = await Watcher.enter(srv, {"type": "join", "token": token})
        await first.drop()
        again = await Watcher.enter(srv, {"type": "join", "token": token})
        await asyncio.sleep(2.5)  # past the old connection's leave and the grace
        seat = srv.rooms.get(room).participants.get("class0")
        assert seat is not None, "the participant was removed under its live connection"
        assert seat.connected
        assert not again.ws.closed
        await again.drop()
    finally:
        await bot.close()
        await signal.close()
