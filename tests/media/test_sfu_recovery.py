"""A loaded machine's slow peers keep their media; a peer that is really gone leaves no dead tracks behind.

Real aiortc peers on both sides of an in-process MediaService. The consent checks run every 0.2 s instead of
every 5 s (both aioice's and the SFU's), so what takes half a minute in a lesson takes seconds here.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aioice.ice
import pytest

from loadtest.bots import Bot, DirectSignal, wait_for
from media import consent
from media.service import MediaService

ROOM = "r1"
SLOW_ANSWER_S = 0.8  # later than aioice's one 0.5 s try, well within the SFU's retransmissions


@pytest.fixture
async def room(monkeypatch):
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.2)
    monkeypatch.setattr(consent, "CONSENT_INTERVAL_S", 0.2)
    monkeypatch.setattr(consent, "CONSENT_EXPIRY_S", 2.0)
    monkeypatch.setattr(consent, "CONSENT_RETRANSMISSIONS", 2)  # a check gives up after 3.5 s, not 15.5 s
    service = MediaService()
    signal = DirectSignal(service, ROOM)
    bots: list[Bot] = []

    def add(bot: Bot) -> Bot:
        bots.append(signal.add(bot))
        return bot

    yield service, signal, add
    for bot in bots:
        await bot.close()
    await service.close()


def _connections(pc: Any) -> list[Any]:
    return consent.ice_connections(pc)


def answer_late(pc: Any, delay: float) -> None:
    """The peer answers every STUN check `delay` late (a browser tab or bot on a starved machine)."""
    loop = asyncio.get_running_loop()
    for connection in _connections(pc):
        real = connection.request_received
        connection.request_received = lambda *a, real=real: loop.call_later(delay, real, *a)


def go_silent(pc: Any) -> None:
    """The peer stops answering checks (its machine or network went away without a word)."""
    for connection in _connections(pc):
        connection.request_received = lambda *a: None


async def _lesson(signal: DirectSignal, add: Any, service: MediaService, clip: Any) -> tuple[Bot, Bot]:
    pub = add(Bot("pub", signal, clip=clip, tone_hz=440))
    await pub.publish()
    assert await wait_for(lambda: len(signal.published) == 2, 10)
    sub = add(Bot("sub", signal, subscribe_mode="count"))
    await service.set_subscriptions(ROOM, "sub", {t.track_id: "high" for t in signal.published})
    assert await wait_for(lambda: sub.video.get("pub:0") is not None and sub.video["pub:0"].frames >= 10, 15)
    return pub, sub


@pytest.mark.solo  # the control needs aioice's own timing to drop a late peer: alone, after the parallel part
async def test_slow_answers_keep_the_connection_that_aioice_would_drop(room, high_clip, monkeypatch):
    service, signal, add = room
    pub, sub = await _lesson(signal, add, service, high_clip)
    router = service.routers[ROOM]
    publisher, subscriber = router.publishers["pub"], router.subscribers["sub"]
    # the control: aioice's own check on the SFU's side gives up on a peer that answers this late
    control = add(Bot("control", signal, clip=high_clip))
    monkeypatch.setattr(consent, "install", lambda pc, expiry_s=None: 0)
    await control.publish()
    assert await wait_for(lambda: router.publishers["control"].pc.connectionState == "connected", 10)
    answer_late(control.pub, SLOW_ANSWER_S)
    answer_late(pub.pub, SLOW_ANSWER_S)
    answer_late(sub.sub, SLOW_ANSWER_S)
    # (about 4 s on a quiet machine; aioice's own bound is 6 failed checks 4-6 s apart, so wait past that)
    assert await wait_for(lambda: "control" not in router.publishers, 45), "aioice's check should drop it"
    # the SFU's own connections, with the lenient check, stay up and keep forwarding
    frames = sub.video["pub:0"].frames
    await asyncio.sleep(3 * consent.CONSENT_EXPIRY_S)
    assert router.publishers.get("pub") is publisher and publisher.pc.connectionState == "connected"
    assert router.subscribers.get("sub") is subscriber and subscriber.pc.connectionState == "connected"
    assert sub.video["pub:0"].frames > frames + 30
    assert {t.track_id for t in signal.published} == {"pub:0", "pub:1"}


async def test_a_publisher_gone_silent_is_unpublished(room, high_clip):
    service, signal, add = room
    pub, sub = await _lesson(signal, add, service, high_clip)
    router = service.routers[ROOM]
    go_silent(pub.pub)
    # its tracks leave the room (no frozen tile) and the subscriber stops being sent them
    assert await wait_for(lambda: not signal.tracks_of("pub"), 4 * consent.CONSENT_EXPIRY_S + 5)
    assert "pub" not in router.publishers and not router.producers
    assert await wait_for(lambda: not any(s.active for s in router.subscribers["sub"].slots.values()), 10)


async def test_a_subscriber_connection_gone_silent_is_offered_anew(room, high_clip):
    service, signal, add = room
    pub, sub = await _lesson(signal, add, service, high_clip)
    router = service.routers[ROOM]
    old = router.subscribers["sub"]
    offers: list[str] = []
    real_offer = signal.on_subscriber_offer

    async def record(room_id: str, participant_id: str, sdp: str, offer_id: int) -> None:
        offers.append(sdp)

    signal.on_subscriber_offer = record  # type: ignore[method-assign]
    go_silent(sub.sub)
    assert await wait_for(lambda: router.subscribers.get("sub") not in (None, old), 4 * consent.CONSENT_EXPIRY_S + 5)
    assert old.closed
    # a new connection (its own DTLS certificate), offering the tracks the plan still wants
    assert await wait_for(lambda: offers, 10)
    fingerprint = next(line for line in offers[-1].splitlines() if line.startswith("a=fingerprint:"))
    assert fingerprint not in old.pc.localDescription.sdp
    assert offers[-1].count("m=video") == 1 and offers[-1].count("m=audio") == 1
    signal.on_subscriber_offer = real_offer  # type: ignore[method-assign]
