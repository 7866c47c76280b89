"""A participant that resumes its seat gets the room events sent while it was away, in order, once.

Real server, real WebSockets: a classroom's connection drops, the teacher asks it to mute (an event that is
in no snapshot), and the resumed connection is sent `joined` and then what it missed. With `last_seq` the
client names the last event it saw, so events lost in the dead socket come again too; more missed than the
server keeps → `replay: "snapshot"` and nothing replayed (the snapshot is the room as it is).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import County, Server, WsClient, classroom_token, connect, user_token
from web.keys import HUB


async def _lesson(server: Server, county: County) -> tuple[WsClient, WsClient]:
    teacher = await connect(server, await user_token(server, "wang", county.room_id))
    c1 = await connect(server, await classroom_token(server, county.codes["c1"]))
    await teacher.next("participant.joined")
    return teacher, c1


async def _drop(teacher: WsClient, c1: WsClient) -> None:
    await c1.ws.close()  # the network went: no `leave`, the seat is kept for the grace period
    await teacher.next("participant.disconnected")  # the server has seen it go


async def _mute(teacher: WsClient, c1: WsClient, source: str) -> None:
    await teacher.send({"type": "mute.request", "participant_id": c1.participant_id, "source": source, "id": source})
    await teacher.next("ok", id=source)


async def _resume(server: Server, county: County, c1: WsClient, last_seq: int | None = None) -> tuple[WsClient, dict]:
    again = await connect(server)
    msg: dict[str, Any] = {"type": "resume", "room": county.room_id, "participant_id": c1.participant_id,
                           "resume_token": c1.resume_token, "id": "r"}
    if last_seq is not None:
        msg["last_seq"] = last_seq
    await again.send(msg)
    joined = await again.next("joined", id="r")
    assert joined["resumed"] is True
    return again, joined


def _seqs(events: list[dict]) -> list[int]:
    return [e["seq"] for e in events if "seq" in e]


async def test_events_sent_while_away_arrive_after_resume(server: Server, county: County) -> None:
    teacher, c1 = await _lesson(server, county)
    await _drop(teacher, c1)
    await _mute(teacher, c1, "camera")
    await _mute(teacher, c1, "microphone")
    again, joined = await _resume(server, county, c1)
    first = again.seen.index(joined)
    events = again.seen[first + 1:] + await again.drain(0.5)
    mutes = [e["source"] for e in events if e.get("type") == "mute.requested"]
    assert mutes == ["camera", "microphone"], events  # in order, once each
    assert joined["replay"] == "events"
    seqs = _seqs(events)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs  # numbered without gaps or repeats
    await _mute(teacher, c1, "screen")  # and the resumed connection carries on from there
    later = await again.next("mute.requested")
    assert later["source"] == "screen" and later["seq"] == seqs[-1] + 1
    for p in (teacher, again):
        await p.close()


@pytest.mark.parametrize("server", ["inprocess"], indirect=True)
async def test_last_seq_gets_again_what_the_dead_socket_lost_and_nothing_twice(server: Server, county: County) -> None:
    teacher, c1 = await _lesson(server, county)
    await _mute(teacher, c1, "camera")
    await _mute(teacher, c1, "microphone")
    seen = (await c1.next("mute.requested", source="camera"))["seq"]
    await c1.next("mute.requested", source="microphone")  # read, but as if lost in the socket that died
    await _drop(teacher, c1)
    await _mute(teacher, c1, "screen")
    again, joined = await _resume(server, county, c1, last_seq=seen)
    assert joined["replay"] == "events"
    events = again.seen[again.seen.index(joined) + 1:] + await again.drain(0.5)
    assert [e["source"] for e in events if e.get("type") == "mute.requested"] == ["microphone", "screen"], events
    assert _seqs(events)[0] == seen + 1 and len(set(_seqs(events))) == len(_seqs(events))
    for p in (teacher, again):
        await p.close()


@pytest.mark.parametrize("server", ["inprocess"], indirect=True)
async def test_more_missed_than_kept_gets_the_snapshot_alone(server: Server, county: County) -> None:
    server.app[HUB].replay_events = 3
    teacher, c1 = await _lesson(server, county)
    await _drop(teacher, c1)
    for source in ("camera", "microphone", "screen", "camera", "microphone"):
        await teacher.send({"type": "mute.request", "participant_id": c1.participant_id, "source": source})
    await teacher.drain(0.3)
    again, joined = await _resume(server, county, c1, last_seq=0)
    assert joined["replay"] == "snapshot"
    assert {p["id"] for p in joined["room"]["participants"]} >= {c1.participant_id}
    late = again.seen[again.seen.index(joined) + 1:] + await again.drain(0.5)
    assert not [e for e in late if e.get("type") == "mute.requested"], late
    for p in (teacher, again):
        await p.close()
