"""The audience count a participant is sent counts people: the recorder sits in the room (everyone sees
"录制中") but is not audience, and hidden observers are counted only for other hidden participants."""

from __future__ import annotations

import pytest

from recorder.wiring import RoomSeat
from tests.conftest import County, Server, classroom_token, connect, user_token
from web.keys import ROOMS

pytestmark = pytest.mark.parametrize("server", ["inprocess"], indirect=True)


async def test_the_recorder_is_listed_but_not_counted_as_audience(server: Server, county: County) -> None:
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    await RoomSeat(server.app[ROOMS]).take(county.room_id)  # as the recorder takes its seat when recording
    observer = await connect(server, await user_token(server, "chen", county.room_id))
    c1 = await connect(server, await classroom_token(server, county.codes["c1"]))
    c2 = await connect(server, await classroom_token(server, county.codes["c2"]))
    snap = c2.seen[0]["room"]
    assert "recorder" in [p["role"] for p in snap["participants"]]  # the client shows 录制中 from this
    assert snap["audience"] == 3  # the teacher and two classrooms: not the recorder, not the hidden observer
    assert observer.seen[0]["room"]["audience"] == 2  # teacher and observer (sees hidden), no recorder
    for p in (teacher, observer, c1, c2):
        await p.close()
