"""What one join costs the server in a broadcast room: no peer connection for a viewer with nothing to
receive, and a plan computed for the newcomer only, not for everyone in the room again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import signaling.hub
from loadtest.bots import Bot, WsSignal, wait_for
from loadtest.clip import load
from rooms.audience import plan
from rooms.roles import Role, RoomKind, grants_for
from tests.conftest import County, Server, connect, seed_county, start_server, user_token
from web.keys import DB, HUB, MEDIA, TOKENS


@pytest.fixture
async def broadcast(tmp_path: Path) -> AsyncIterator[tuple[Server, County]]:
    srv, runner = await start_server(tmp_path, with_media=True, media_workers=0)  # the SFU in this process
    try:
        yield srv, await seed_county(srv.app[DB], kind=RoomKind.BROADCAST, remotes=1)
    finally:
        await runner.cleanup()


def _viewer(server: Server, room_id: str, i: int) -> str:
    grants = grants_for(Role.VIEWER, RoomKind.BROADCAST, room_id)
    return server.app[TOKENS].issue_join(f"viewer:{i}", f"观众{i}", "viewer", grants)


async def test_a_viewer_gets_a_peer_connection_once_there_is_something_to_receive(
    broadcast: tuple[Server, County],
) -> None:
    server, county = broadcast
    room_id = county.room_id
    viewers = [Bot(f"viewer:{i}", WsSignal(server.url, _viewer(server, room_id, i)), subscribe_mode="count")
               for i in range(3)]
    teacher_signal = WsSignal(server.url, await user_token(server, "wang", room_id))
    teacher = Bot("teacher", teacher_signal, clip=load(160, 128, 30, 90, 100_000))
    try:
        for v in viewers:
            await v.signal.connect(v)  # type: ignore[attr-defined]
        await teacher_signal.connect(teacher)
        await asyncio.sleep(0.3)
        # Nobody publishes yet: no subscriber peer connection (DTLS certificate, ICE) was made for anyone,
        # and the SFU was not even asked (no router for the room yet).
        assert room_id not in server.app[MEDIA].routers and all(v.sub is None for v in viewers)  # type: ignore[union-attr]
        await teacher.publish()
        track = f"{teacher_signal.participant_id}:0"
        # Now each viewer is offered one and receives the teacher's camera through it.
        assert await wait_for(lambda: all(track in v.video and v.video[track].frames >= 5 for v in viewers), 20)
        router = server.app[MEDIA].routers[room_id]  # type: ignore[union-attr]
        assert set(router.subscribers) == {v.name for v in viewers}  # the teacher receives nothing
    finally:
        for b in (*viewers, teacher):
            await b.signal.close()  # type: ignore[attr-defined]
            await b.close()


async def test_a_join_plans_the_newcomer_only(
    broadcast: tuple[Server, County], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, county = broadcast
    room_id = county.room_id
    planned: list[int] = []  # how many subscribers each call planned

    def counting_plan(room, preferences=None, subscribers=None):  # type: ignore[no-untyped-def]
        out = plan(room, preferences, subscribers)
        planned.append(len(out))
        return out

    monkeypatch.setattr(signaling.hub, "plan", counting_plan)
    teacher = await connect(server, await user_token(server, "wang", room_id))
    n = 80
    viewers = await asyncio.gather(*(connect(server, _viewer(server, room_id, i)) for i in range(n)))
    hub = server.app[HUB]
    room = server.app[HUB].rooms.get(room_id)
    assert room is not None and len(room.participants) == n + 1
    # Re-planning the whole room on every join would plan about n²/2 = 3,200 subscribers (twice over).
    assert sum(planned) <= 2 * (n + 1), planned
    # …and the plans pieced together join by join are exactly the room's plan.
    assert hub._plans[room_id] == plan(room, hub.preferences.get(room_id))
    for c in (teacher, *viewers):
        await c.close()
