"""A participant that stops reading is dropped with 4008 once its outbox passes its bound; the room and
the server's memory do not follow it down."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from rooms.service import room_channel
from signaling.sendqueue import MAX_OUTBOX_BYTES
from signaling.session import CloseCode
from tests.conftest import County, Server, classroom_token, connect, seed_county, start_server, user_token
from tests.signaling.test_validation import undisturbed
from web.keys import BUS, DB, HUB

EVENT_BYTES = 256 * 1024
FLOOD_LIMIT_BYTES = 400 * 1024 * 1024  # the test gives up long before: kernel buffers are a few MiB


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Server, County]]:
    srv, runner = await start_server(tmp_path)
    try:
        yield srv, await seed_county(srv.app[DB])
    finally:
        await runner.cleanup()


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


async def test_a_participant_that_stops_reading_is_dropped(served: tuple[Server, County]) -> None:
    server, county = served
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    # A reader with a small receive buffer that never reads again after joining.
    http = aiohttp.ClientSession()
    slow = await http.ws_connect(server.ws_url, max_msg_size=0, autoping=False)
    await slow.send_json({"type": "join", "token": await classroom_token(server, county.codes["c1"]), "id": 1})
    joined = await slow.receive_json(timeout=5)
    pid = joined["participant_id"]
    session = server.app[HUB].sessions[(county.room_id, pid)]
    await teacher.next("participant.joined")
    baseline = rss()

    bus, channel = server.app[BUS], room_channel(county.room_id)
    padding = "x" * EVENT_BYTES
    sent, started = 0, time.monotonic()
    while not session.outbox.slow and sent < FLOOD_LIMIT_BYTES and time.monotonic() - started < 20:
        # Addressed to the slow participant only: nobody else has to read the flood.
        await bus.publish(channel, {"type": "stats", "to": pid, "tracks": [], "padding": padding})
        sent += EVENT_BYTES
        await asyncio.sleep(0.002)
    assert session.outbox.slow, f"not dropped after {sent >> 20} MiB"
    assert session.outbox.peak_bytes <= MAX_OUTBOX_BYTES + EVENT_BYTES + 4096

    # The room sees the seat disconnected (kept for a resume), and the teacher is undisturbed.
    gone = await teacher.next("participant.disconnected", timeout=10)
    assert gone["participant"]["id"] == pid
    assert server.app[HUB].sessions.get((county.room_id, pid)) is None
    await undisturbed(teacher)

    # The slow client, reading at last, finds the connection closed (4008 if the close frame fit).
    async with asyncio.timeout(10):
        while (await slow.receive()).type == aiohttp.WSMsgType.TEXT:
            pass
    assert slow.closed and slow.close_code in (CloseCode.SLOW_CONSUMER, 1006, None)
    await http.close()
    del padding
    after = rss()
    assert after <= baseline * 1.10 + 8 * 1024 * 1024, (baseline >> 20, after >> 20)
    await teacher.close()
