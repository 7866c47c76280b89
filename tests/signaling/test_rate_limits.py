"""Valid messages are rate limited per connection and per type; a storm is refused, then closed, and the
recording's timeline gets markers for real changes only."""

from __future__ import annotations

import asyncio

import aiohttp

from signaling.ratelimit import PER_TYPE, MessageLimiter, TokenBucket
from tests.conftest import County, Server, classroom_token, connect, user_token
from tests.signaling.test_validation import undisturbed
from web.api.library import LIBRARY


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3.0, stamp=100.0)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(100.4) is False  # 0.8 token
    assert bucket.take(100.5) is True  # 1.0 token
    limiter = MessageLimiter(per_type={"hand.raise": (1.0, 2.0)}, per_connection=(100.0, 5.0))
    assert [limiter.admit("hand.raise") for _ in range(3)] == [True, True, False]
    assert [limiter.admit("ping") for _ in range(4)] == [True, True, True, False]  # the connection's bucket


async def test_hand_storm_is_limited_then_closed_and_coalesced_in_the_recording(server: Server, county: County) -> None:
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    c1 = await connect(server, await classroom_token(server, county.codes["c1"]))
    c2 = await connect(server, await classroom_token(server, county.codes["c2"]))
    await teacher.send({"type": "room.start", "id": "s"})
    await teacher.next("ok", id="s")
    recording = None
    for _ in range(50):
        recording = server.app[LIBRARY].recorder.recording_of(county.room_id)
        if recording is not None:
            break
        await asyncio.sleep(0.05)
    assert recording is not None
    before = len(recording.journal.markers())

    storm = 40
    for i in range(storm):
        await c2.send({"type": "hand.raise" if i % 2 == 0 else "hand.lower", "id": i})
    replies, close_code = [], None
    while close_code is None:
        msg = await c2.ws.receive(timeout=5)
        if msg.type == aiohttp.WSMsgType.TEXT:
            replies.append(msg.json())
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            close_code = msg.data if msg.type == aiohttp.WSMsgType.CLOSE else c2.ws.close_code
    limited = [r for r in replies if r.get("type") == "error" and r["code"] == "rate_limited"]
    oks = [r for r in replies if r.get("type") == "ok"]
    burst = int(PER_TYPE["hand.raise"][1] + PER_TYPE["hand.lower"][1])
    assert close_code == 4000  # the abuse close, after more than 20 refusals
    assert 20 < len(limited) and len(oks) <= burst + 1
    assert all(r["field"] == "type" for r in limited)

    # The teacher saw at most one event per admitted change; the recording marks exactly those.
    events = [e for e in await teacher.drain(0.5) if e["type"] in ("hand.raised", "hand.lowered")]
    assert len(events) <= burst + 1
    markers = [m for m in recording.journal.markers()[before:] if m.type in ("hand_raised", "hand_lowered")]
    assert len(markers) == len(events)
    assert all(a.type != b.type for a, b in zip(markers, markers[1:], strict=False))  # changes only

    # A raise repeated while raised changes nothing and marks nothing.
    for i in range(3):
        await c1.send({"type": "hand.raise", "id": f"r{i}"})
        await c1.next("ok", id=f"r{i}")
    await asyncio.sleep(0.2)
    mine = [m for m in recording.journal.markers() if m.participant_id == c1.participant_id]
    assert len(mine) == 1
    await undisturbed(teacher, c1)
    for c in (teacher, c1):
        await c.close()
    await c2.http.close()
