"""Every subscriber offer carries an id that the answer echoes (as LiveKit does); the SFU applies an answer only
to the offer it names, so a stale answer is refused exactly (`stale_answer`, field `offer_id`) instead of by
comparing m-lines.

The case the m-line check got wrong: the SFU replaced a subscriber connection and offered again with the same
m-lines while a loaded client was still answering the first offer. The late answer was taken by the new
connection (whose ICE and DTLS it does not match: it never connects) and the client's answer to the current
offer was then refused: no media, ever. Real signaling over /ws, aiortc bots, the SFU in-process or (for the
error across the worker channel) in one worker process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from loadtest.bots import Bot, WsSignal, wait_for
from loadtest.clip import Clip, load
from loadtest.signals import Refused
from tests.media.conftest import LessonServer


@pytest.fixture(scope="module")
def clip() -> Clip:
    return load(160, 128, 15, 45, 80_000)


@pytest.fixture
async def lesson(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[LessonServer]:
    from aiohttp.test_utils import TestServer

    from core.settings import Settings
    from web.app import create_app

    workers = getattr(request, "param", 0)
    settings = Settings(data_dir=tmp_path / "data", port=0, media_workers=workers)
    server = TestServer(create_app(settings), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield LessonServer(server.app, server)
    finally:
        await server.close()


class SlowBot(Bot):
    """A loaded classroom: its answer to the first offer waits for `gate`; `lose` offers (by arrival number,
    from 1) never reach it, as if lost on the way."""

    def __init__(self, *args: Any, lose: tuple[int, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = asyncio.Event()
        self.arrived: list[int | None] = []
        self.lose = lose

    async def on_subscriber_offer(self, sdp: str, offer_id: int | None = None) -> None:
        self.arrived.append(offer_id)
        if len(self.arrived) in self.lose:
            return
        await super().on_subscriber_offer(sdp, offer_id)

    async def _answer_offer(self, sdp: str) -> None:
        if not self.gate.is_set():
            await self.gate.wait()
        await super()._answer_offer(sdp)


async def _join(srv: LessonServer, room: str, bot_type: type[Bot], pid: str, role: str, side: str,
                **kwargs: Any) -> tuple[Any, WsSignal]:
    signal = WsSignal(srv.url, srv.token(room, "delivery", pid, role, side))
    bot = bot_type(pid, signal, **kwargs)
    await signal.connect(bot)
    return bot, signal


async def _replace_while_answering(srv: LessonServer, lose: tuple[int, ...]) -> tuple[SlowBot, list[Any]]:
    """A teacher publishes; a classroom gets offer 1 but answers it only after the SFU replaced its
    connection and sent offer 2 (same m-lines, another DTLS certificate)."""
    room = await srv.room("delivery")
    teacher, t_signal = await _join(srv, room, Bot, "hub", "hub_teacher", "hub",
                                    clip=load(160, 128, 15, 45, 80_000), tone_hz=440)
    await teacher.publish()
    bot, signal = await _join(srv, room, SlowBot, "class0", "classroom", "remote", subscribe_mode="count", lose=lose)
    router = srv.media.routers[room]
    assert await wait_for(lambda: "class0" in router.subscribers and len(bot.arrived) == 1
                          and router.subscribers["class0"].pc.signalingState == "have-local-offer", 15)
    first = router.subscribers["class0"]
    await first.close()  # the SFU gives up on the connection (as when it failed on its side)
    await srv.media.set_subscriptions(room, "class0", dict(router.plans["class0"]))
    second = router.subscribers["class0"]
    assert second is not first and second.offer_id != first.offer_id
    assert await wait_for(lambda: len(bot.arrived) == 2, 10)
    assert bot.arrived == [first.offer_id, second.offer_id]
    bot.gate.set()  # the late answer to offer 1 goes now
    return bot, [teacher, t_signal, bot, signal]


async def _close(things: list[Any]) -> None:
    for thing in things:
        await thing.close()


def _frames(bot: Bot) -> int:
    return max((check.frames for check in bot.video.values()), default=0)


async def test_a_stale_answer_is_refused_and_the_current_one_brings_media(lesson: LessonServer) -> None:
    bot, things = await _replace_while_answering(lesson, lose=())
    try:
        assert await wait_for(lambda: _frames(bot) >= 5, 15), f"no video; answers refused: {bot.refused}"
        assert bot.refused == ["stale_answer"]  # the late answer, and only it
    finally:
        await _close(things)


async def test_a_bot_refused_once_resumes_with_the_offer_sent_again(lesson: LessonServer) -> None:
    """Offer 2 is lost on the way: the SFU sends the outstanding offer again when it refuses the stale answer."""
    bot, things = await _replace_while_answering(lesson, lose=(2,))
    try:
        assert await wait_for(lambda: len(bot.arrived) == 3, 10), "the outstanding offer was not sent again"
        assert bot.arrived[2] == bot.arrived[1]
        assert await wait_for(lambda: _frames(bot) >= 5, 15), f"no video; answers refused: {bot.refused}"
        assert bot.refused == ["stale_answer"]
    finally:
        await _close(things)


@pytest.mark.parametrize("lesson", [0, 1], indirect=True, ids=["in-process", "worker"])
async def test_answer_errors_name_the_offer_id(lesson: LessonServer, clip: Clip) -> None:
    """The error a stale answer gets (across the worker channel too); an answer without an id (an older
    client) still gets the m-line check; a malformed id is refused at the edge."""
    srv = lesson
    room = await srv.room("delivery")
    teacher, t_signal = await _join(srv, room, Bot, "hub", "hub_teacher", "hub", clip=clip, tone_hz=440)
    await teacher.publish()
    bot, signal = await _join(srv, room, Bot, "class0", "classroom", "remote", subscribe_mode="count")
    try:
        assert await wait_for(lambda: bot.answered is not None and _frames(bot) >= 1, 20), bot.refused
        assert bot.sub is not None and bot.sub.localDescription is not None
        answer = {"type": "subscriber.answer", "sdp": bot.sub.localDescription.sdp}
        with pytest.raises(Refused) as stale:
            await signal.request(dict(answer, offer_id=bot.answered))  # answered already
        assert (stale.value.code, stale.value.field) == ("stale_answer", "offer_id")
        with pytest.raises(Refused) as old_client:
            await signal.request(answer)
        assert old_client.value.code == "invalid_state"
        with pytest.raises(Refused) as bad:
            await signal.request(dict(answer, offer_id="one"))
        assert (bad.value.code, bad.value.field) == ("invalid_field", "offer_id")
        before = _frames(bot)
        assert await wait_for(lambda: _frames(bot) >= before + 5, 10), "refused answers disturbed the connection"
    finally:
        await _close([teacher, t_signal, bot, signal])
