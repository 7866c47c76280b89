"""Shared fixtures for the SFU tests: small clips (built once, cached on disk) and a room helper."""

from __future__ import annotations

import pytest

from loadtest.clip import Clip, load


@pytest.fixture(scope="session")
def high_clip() -> Clip:
    return load(320, 240, 30, 90, 300_000)


@pytest.fixture(scope="session")
def low_clip() -> Clip:
    return load(160, 128, 30, 90, 100_000)


class LessonServer:
    """The real aiohttp app (signaling, rooms, SFU) on a free port, with helpers to make rooms and tokens."""

    def __init__(self, app, server) -> None:
        self.app = app
        self.server = server

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def room(self, kind: str, title: str = "test lesson") -> str:
        from rooms.roles import RoomKind
        from rooms.store import RoomSpec, create_room
        from web.keys import DB

        async with self.app[DB].session() as s:
            record = await create_room(s, RoomSpec(kind=RoomKind(kind), title=title))
            await s.commit()
        return record.id

    def token(self, room_id: str, kind: str, identity: str, role: str, side: str = "") -> str:
        from rooms.roles import Role, RoomKind, grants_for
        from web.keys import TOKENS

        grants = grants_for(Role(role), RoomKind(kind), room_id)
        return self.app[TOKENS].issue_join(identity, identity, role, grants, ttl=600, meta={"side": side})

    @property
    def media(self):
        from web.keys import MEDIA

        return self.app[MEDIA]

    @property
    def rooms(self):
        from web.keys import ROOMS

        return self.app[ROOMS]


@pytest.fixture
async def lesson_server(tmp_path, request):
    """The default node (SFU worker processes, one per core); `indirect` param 0 runs the SFU in-process."""
    from aiohttp.test_utils import TestServer

    from core.settings import Settings
    from web.app import create_app

    settings = Settings(data_dir=tmp_path / "data", port=0)
    if getattr(request, "param", None) is not None:
        settings.media_workers = request.param
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield LessonServer(app, server)
    finally:
        await server.close()
