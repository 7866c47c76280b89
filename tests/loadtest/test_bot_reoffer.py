"""A bot answers the SFU's replacement subscriber offer from a new peer connection, and receives again.

When a subscriber connection fails on the SFU's side (here: the bot's connection stops answering consent
checks), the SFU replaces it and offers again from a new DTLS certificate. Applied to the old connection
(as the bots did), aiortc keeps the dead transport and the SFU's new connection never leaves "checking":
the bot receives nothing more. Real aiortc on both sides, consent checks every 0.2 s (as
tests/media/test_sfu_recovery.py) so the failure takes seconds.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import aioice.ice
import pytest

from loadtest.bots import Bot, DirectSignal, wait_for
from media import consent
from media.service import MediaService
from tests.conftest import classroom_token, seed_county, start_server, stop_server, user_token
from web.demo.clip import load
from web.demo.peer import Peer
from web.demo.sdp import certificate
from web.keys import DB

ROOM = "r1"


@pytest.fixture
async def service(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.2)
    monkeypatch.setattr(consent, "CONSENT_INTERVAL_S", 0.2)
    monkeypatch.setattr(consent, "CONSENT_EXPIRY_S", 2.0)
    monkeypatch.setattr(consent, "CONSENT_RETRANSMISSIONS", 2)
    svc = MediaService()
    yield svc
    await svc.close()


async def test_a_replacement_offer_gets_a_new_connection_and_media_flows_again(service: MediaService) -> None:
    signal = DirectSignal(service, ROOM)
    pub = signal.add(Bot("pub", signal, clip=load(160, 128, 15, 45, 100_000), tone_hz=440))
    sub = signal.add(Bot("sub", signal, subscribe_mode="count"))
    try:
        await pub.publish()
        assert await wait_for(lambda: len(signal.published) == 2, 10)
        await service.set_subscriptions(ROOM, "sub", {t.track_id: "high" for t in signal.published})
        assert await wait_for(lambda: sub.video.get("pub:0") is not None and sub.video["pub:0"].frames >= 5, 15)
        router = service.routers[ROOM]
        old_sfu_side, old_pc = router.subscribers["sub"], sub.sub
        assert old_pc is not None
        for connection in consent.ice_connections(old_pc):  # the bot's connection goes silent
            connection.request_received = lambda *a: None
        assert await wait_for(lambda: router.subscribers.get("sub") not in (None, old_sfu_side), 15)
        new_sfu_side = router.subscribers["sub"]
        assert await wait_for(lambda: new_sfu_side.pc.connectionState == "connected", 10), \
            new_sfu_side.pc.connectionState  # (stayed "checking" when the offer went to the old connection)
        before = sub.video["pub:0"].frames
        assert await wait_for(lambda: sub.video["pub:0"].frames >= before + 5, 10)  # media flows again
        assert sub.sub is not old_pc and sub.sub_certificate == certificate(new_sfu_side.pc.localDescription.sdp)
    finally:
        for bot in (pub, sub):
            await bot.close()


async def test_a_demo_bot_answers_the_replacement_from_a_new_connection(service: MediaService, tmp_path: Path) -> None:
    """The demo's classroom bots (web/demo/peer.py), through a real server and its WebSocket."""
    server, runner = await start_server(tmp_path, media=service)
    peers: list[Peer] = []
    try:
        county = await seed_county(server.app[DB])
        clips = (load(160, 128, 15, 45, 100_000), load(160, 128, 15, 45, 60_000))
        async with aiohttp.ClientSession() as http:
            for token in (await user_token(server, "wang", county.room_id),
                          await classroom_token(server, county.codes["c1"])):
                peer = Peer(http, server.url, token, clips, 440.0)
                await peer.join()
                await peer.publish()
                peers.append(peer)
            classroom = peers[1]
            pid = classroom.joined["participant_id"]
            router = service.routers[county.room_id]
            assert await wait_for(lambda: pid in router.subscribers and classroom.sub is not None
                                  and router.subscribers[pid].pc.connectionState == "connected", 15)
            old_sfu_side, old_pc = router.subscribers[pid], classroom.sub
            assert old_pc is not None
            for connection in consent.ice_connections(old_pc):
                connection.request_received = lambda *a: None
            assert await wait_for(lambda: router.subscribers.get(pid) not in (None, old_sfu_side), 15)
            new_sfu_side = router.subscribers[pid]
            assert await wait_for(lambda: new_sfu_side.pc.connectionState == "connected", 10), \
                new_sfu_side.pc.connectionState
            assert classroom.sub is not old_pc
    finally:
        for peer in peers:
            await peer.close()
        await stop_server(runner)
