"""Every failure while handling a message is an error reply with a code; only abuse closes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import jwt
import pytest

import web.ws
from rooms.roles import Role, RoomKind, grants_for
from signaling.protocol import MAX_DEPTH, MAX_MESSAGE_BYTES
from tests.conftest import (
    County,
    Server,
    WsClient,
    classroom_token,
    connect,
    seed_county,
    start_server,
    user_token,
)
from tests.signaling.test_validation import bystanders, undisturbed
from web.keys import DB, HUB, ROOMS

SDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def forged_token(server: Server, room_id: str, **claims: object) -> str:
    """A correctly signed join token with chosen claims (as a buggy or hostile minting service would)."""
    grants = grants_for(Role.CLASSROOM, RoomKind.DELIVERY, room_id).to_claim()
    now = int(time.time())
    payload = {"iss": "sanke", "aud": "join", "sub": "classroom:77", "name": "x", "role": "classroom",
               "video": grants, "meta": {}, "iat": now, "exp": now + 300}
    payload.update(claims)
    kid, key = list(server.settings.secret_keys().items())[-1]
    return jwt.encode(payload, key, algorithm="HS256", headers={"kid": kid})


async def test_deep_nesting_is_refused_before_parsing(server: Server, county: County) -> None:
    teacher, c1 = await bystanders(server, county)
    probe = await connect(server)
    deep = "[" * (MAX_MESSAGE_BYTES // 2) + "]" * (MAX_MESSAGE_BYTES // 2)
    started = time.perf_counter()
    await probe.send(deep)
    assert (await probe.next("error"))["code"] == "too_deep"
    nested = {"type": "ping", "id": 1}
    for _ in range(MAX_DEPTH + 1):
        nested = {"type": "ping", "x": nested}
    await probe.send(nested)
    assert (await probe.next("error"))["code"] == "too_deep"
    assert time.perf_counter() - started < 1.0
    # brackets inside strings are not nesting
    await probe.send({"type": "ping", "id": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})
    assert (await probe.next("pong"))["id"].startswith("[[[")
    await undisturbed(teacher, c1, probe)
    for c in (teacher, c1, probe):
        await c.close()


async def test_long_id_and_bad_candidates(server: Server, county: County) -> None:
    c1 = await connect(server, await classroom_token(server, county.codes["c1"]))
    await c1.send({"type": "ping", "id": "x" * 65})
    err = await c1.next("error")
    assert (err["code"], err["field"]) == ("invalid_field", "id") and "id" not in err  # unusable: not echoed
    await c1.send({"type": "ping", "id": 2**60})
    assert (await c1.next("error"))["field"] == "id"
    for i, candidate in enumerate([
        {"candidate": "candidate:garbage"}, {"candidate": 5}, {"candidate": "", "sdpMLineIndex": -1},
        {"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host\n a=evil"}, {"nonsense": 1},
    ]):
        await c1.send({"type": "ice", "target": "publisher", "candidate": candidate, "id": i})
        err = await c1.next("error", id=i)
        assert err["code"] == "invalid_field" and err["field"].startswith("candidate"), err
    await c1.send({"type": "ice", "target": "publisher", "id": "ok",
                   "candidate": {"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host generation 0",
                                 "sdpMid": "0", "sdpMLineIndex": 0}})
    assert (await c1.next("error", id="ok"))["code"] == "media_unavailable"  # valid: it reached the seam
    await undisturbed(c1)
    await c1.close()


@pytest.mark.parametrize("claims, why", [
    ({"role": "janitor"}, "unknown role"),
    ({"role": ["classroom"]}, "role not a string"),
    ({"video": "all"}, "grants not an object"),
    ({"video": {"room": "R", "room_join": "yes"}}, "flag not a boolean"),
    ({"video": {"room": "R", "room_join": True, "can_publish": True, "can_publish_sources": ["hologram"]}},
     "unknown source"),
    ({"video": {"room": "R", "room_join": True, "can_publish_sources": "camera"}}, "sources not a list"),
    ({"meta": [1, 2]}, "meta not an object"),
    ({"sub": "x" * 500}, "identity too long"),
])
async def test_tokens_with_unknown_roles_or_malformed_grants(server: Server, county: County, claims: dict,
                                                             why: str) -> None:
    if isinstance(claims.get("video"), dict):
        claims = dict(claims, video={**claims["video"], "room": county.room_id})
    probe = await connect(server)
    await probe.send({"type": "join", "token": forged_token(server, county.room_id, **claims), "id": "j"})
    err = await probe.next("error", id="j")
    assert (err["code"], err["field"]) == ("token_invalid", "token"), why
    assert not [p for p in server.app[ROOMS].rooms.get(county.room_id, None).participants.values()
                if p.id == "classroom:77"] if server.app[ROOMS].get(county.room_id) else True
    await undisturbed(probe)
    await probe.close()


async def test_unexpected_failure_is_internal_with_a_trace_id(server: Server, county: County,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    teacher, c1 = await bystanders(server, county)

    async def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(server.app[ROOMS], "raise_hand", broken)
    await c1.send({"type": "hand.raise", "id": "h"})
    err = await c1.next("error", id="h")
    assert err["code"] == "internal" and len(err["trace_id"]) == 12
    assert err["trace_id"] in caplog.text and "disk on fire" in caplog.text
    await undisturbed(teacher, c1)
    for c in (teacher, c1):
        await c.close()


async def test_a_failed_join_puts_back_the_connection_it_displaced(server: Server, county: County,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    token = await classroom_token(server, county.codes["c1"])
    first = await connect(server, token)
    hub = server.app[HUB]

    async def broken(*args: object) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(server.app[ROOMS], "join", broken)
    second = await connect(server)
    await second.send({"type": "join", "token": token, "id": "j"})
    assert (await second.next("error", id="j"))["code"] == "internal"
    monkeypatch.undo()
    # the first connection is still the participant's: it receives its events and is not replaced
    session = hub.sessions[(county.room_id, first.participant_id)]
    await first.send({"type": "hand.raise", "id": "h"})
    await first.next("ok", id="h")
    assert hub.sessions[(county.room_id, first.participant_id)] is session
    await undisturbed(first, second)
    for c in (first, second):
        await c.close()


@pytest.fixture
async def media_server(tmp_path: Path) -> AsyncIterator[tuple[Server, County]]:
    srv, runner = await start_server(tmp_path, with_media=True)
    try:
        yield srv, await seed_county(srv.app[DB])
    finally:
        await runner.cleanup()


async def test_media_failures_become_protocol_errors(media_server: tuple[Server, County]) -> None:
    server, county = media_server
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    c1 = await connect(server, await classroom_token(server, county.codes["c1"]))
    # an answer although the server offered nothing: the wrong state
    await c1.send({"type": "subscriber.answer", "sdp": SDP, "id": "a"})
    err = await c1.next("error", id="a")
    assert err["code"] == "invalid_state", err
    # an offer aiortc cannot parse
    bad = "v=0\r\no=- 0 0 IN IP4 1.1.1.1\r\ns=-\r\nt=0 0\r\nm=video notaport UDP/TLS/RTP/SAVPF 96\r\n"
    await teacher.send({"type": "publish.offer", "id": "o", "sdp": bad,
                        "tracks": [{"mid": "0", "kind": "video", "source": "camera"}]})
    err = await teacher.next("error", id="o")
    assert (err["code"], err["field"]) == ("invalid_sdp", "sdp"), err
    await undisturbed(teacher, c1)
    for c in (teacher, c1):
        await c.close()


async def test_binary_and_non_utf8_frames_are_answered(server: Server, county: County) -> None:
    probe: WsClient = await connect(server)
    await probe.ws.send_bytes(b"\xff\xfe\x00garbage")
    assert (await probe.next("error"))["code"] == "bad_json"
    await probe.ws.send_bytes(json.dumps({"type": "ping", "id": 3}).encode())
    assert (await probe.next("pong"))["id"] == 3
    assert probe.ws.close_code is None and not probe.ws.closed
    await probe.close()
    assert isinstance(probe.ws, aiohttp.ClientWebSocketResponse)


async def test_an_unknown_track_and_a_message_during_close_get_coded_errors(
        media_server: tuple[Server, County]) -> None:
    """A publish naming a track (mid) its SDP does not carry, and a publish racing the lesson's end, are
    answered with a code; the other participants stay connected."""
    from aiortc import RTCPeerConnection

    server, county = media_server
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    c1 = await connect(server, await classroom_token(server, county.codes["c1"]))
    c2 = await connect(server, await classroom_token(server, county.codes["c2"]))
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
    finally:
        await pc.close()
    await c1.send({"type": "publish.offer", "id": "u", "sdp": sdp,
                   "tracks": [{"mid": "7", "kind": "video", "source": "camera"}]})
    err = await c1.next("error", id="u")
    assert (err["code"], err["field"]) == ("invalid_field", "tracks"), err
    await undisturbed(teacher, c2)
    # the lesson ends while a classroom's publish is on its way
    await teacher.send({"type": "room.end", "id": "end"})
    await c1.send({"type": "publish.offer", "id": "late", "sdp": sdp,
                   "tracks": [{"mid": "0", "kind": "video", "source": "camera"}]})
    events = await c1.drain(3)
    late = [e for e in events if e.get("id") == "late"]
    # whichever wins the race, the answer is an SDP answer or a coded error, never an internal failure
    assert all(e["type"] == "publish.answer" or (e["type"] == "error" and e["code"] != "internal")
               for e in late), late
    assert not [e for e in events if e["type"] == "error" and e["code"] == "internal"], events
    for c in (teacher, c1, c2):
        await c.close()


async def test_a_connection_that_never_joins_is_closed_one_that_joined_is_not(
    server: Server, county: County, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web.ws, "JOIN_TIMEOUT", 0.5)
    idle = await connect(server)
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    msg = await idle.ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4001, msg
    await asyncio.sleep(0.5)  # past the joined one's deadline too
    await teacher.send({"type": "ping", "id": "p"})
    assert (await teacher.next("pong", id="p"))["id"] == "p"
    for c in (idle, teacher):
        await c.close()
