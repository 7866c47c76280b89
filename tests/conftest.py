"""Shared fixtures: a server on a free port, a county, a participant's socket; the databases and Redis a test
runs on (real ones, required in CI) are `tests.databases`'s."""

from __future__ import annotations

import ast
import asyncio
import functools
import gc
import json
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from core.db import Database
from core.directory import Classroom, School, User
from core.settings import Settings
from rooms.roles import RoomKind
from rooms.store import RoomSpec, create_room
from tests.required import missing
from web.api.directory import new_join_code
from web.app import create_app
from web.passwords import hash_password


def _without_gc(parse: Any) -> Any:
    """CPython 3.11.7 keeps the AST constructor's recursion depth in interpreter state (gh-106905, fixed in
    3.11.8): a garbage collection while `ast.parse` builds its nodes ran a finalizer — an asyncio Task's
    "exception was never retrieved" log, whose traceback parses for its carets (3.11) — and the nested parse
    broke the outer one ("AST constructor recursion depth mismatch", in pytest's own rewrite of an import, in
    two CI runs). No collection while the test process parses."""

    @functools.wraps(parse)
    def parse_without_gc(*args: Any, **kwargs: Any) -> Any:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return parse(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return parse_without_gc


ast.parse = _without_gc(ast.parse)  # type: ignore[assignment]


# Long crawls and sweeps run a bounded, representative size by default (CI) and their full size on request:
# SANKE_FULL_TESTS=1 (README, "Tests").
FULL_TESTS = os.environ.get("SANKE_FULL_TESTS", "").lower() in ("1", "true", "yes")
PASSWORD = "correct-horse-battery"
# moto's S3 server and a fault proxy (the storage tests); the databases and Redis a test runs on
pytest_plugins = ["tests.s3server", "tests.databases"]
CHROMIUM = os.environ.get("SANKE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


# Parallel runs (`make test`: pytest-xdist, two workers). Each worker is a process of its own: its own tmp dirs,
# schema copies, PostgreSQL databases (unique names) and free ports. What the workers would share is made per
# worker here: the Redis bus's keys and channels (below), coturn's relay ports (tests/turnserver.py).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", … under xdist; "" in a plain run
if WORKER:
    # Every test server on Redis uses the bus's default prefix, and pub/sub channels are not per database:
    # without this, a deactivation published by one worker's test (auth:revoked, identity "user:2") revokes
    # the other worker's tokens for its own user 2. Changing the default reaches the servers' buses and the
    # tests' own RedisBus(redis_url) alike; a test that sets its own prefix keeps it.
    import core.bus as _bus

    _bus.create_bus.__defaults__ = (f"sanke-{WORKER}:",)
    _bus.RedisBus.__init__.__defaults__ = (f"sanke-{WORKER}:",)

# Tests that share a package- or module-scoped fixture (a server with its SFU workers, Chromium, the demo county
# with its bots, a coturn) run on one worker, so that each is started once per run, not once per worker; every
# other test is a work unit of its own (the best balance). `make test` asks for `--dist loadgroup`, and this
# scheduler stands in for xdist's: its xdist_group marks work by renaming the items (`item._nodeid`), which
# pytest 9 ignores (it reads `item._id`), so the marks would silently group nothing. The grouping is read from
# the source, in the controller (which collects nothing): a package whose conftest.py declares a
# package-scoped fixture is one unit; a module declaring a module-scoped fixture is one unit.


def _declares(path: Path, scope: str) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    return f'scope="{scope}"' in text or f"scope='{scope}'" in text


@functools.cache
def work_unit(root: Path, nodeid: str) -> str:
    """The unit of work a test belongs to: its package, its module, or itself."""
    module = nodeid.split("::", 1)[0]
    parts = Path(module).parts
    for depth in range(1, len(parts)):  # the outermost package that shares a fixture
        package = Path(*parts[:depth])
        if _declares(root / package / "conftest.py", "package"):
            return package.as_posix() + "/"
    return module if _declares(root / module, "module") else nodeid


@pytest.hookimpl(optionalhook=True)  # an xdist hook: absent without pytest-xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(config.rootpath, nodeid)

    return SharedFixtureScheduling(config, log)


def require_chromium() -> str:
    if not Path(CHROMIUM).exists():
        missing("Chromium", f"{CHROMIUM} is not installed (apt-get install chromium)")
    return CHROMIUM


@functools.cache
def password_hash() -> str:
    """The Argon2 hash of PASSWORD, computed once: every seeded account has it, and logins verify it as usual."""
    return hash_password(PASSWORD)


@dataclass
class County:
    """A small county: a hub school with a teacher and a hub classroom, three remote classrooms."""

    coordinator: str = "coord"
    teacher: str = "wang"
    observer: str = "chen"
    codes: dict[str, str] = field(default_factory=dict)  # classroom label → join code
    classroom_ids: dict[str, int] = field(default_factory=dict)
    room_id: str = ""
    user_ids: dict[str, int] = field(default_factory=dict)


async def seed_county(db: Database, kind: RoomKind = RoomKind.DELIVERY, remotes: int = 3) -> County:
    county = County()
    async with db.session() as s:
        hub = School(name="城关一小", kind="hub")
        s.add(hub)
        schools = [School(name=f"村小{i + 1}", kind="remote") for i in range(remotes)]
        s.add_all(schools)
        await s.flush()
        classrooms = [Classroom(school_id=sc.id, name="四年级", grade=4, join_code=new_join_code()) for sc in schools]
        s.add_all(classrooms)
        pw = password_hash()
        users = {
            "coord": User(username="coord", display_name="李主任", password_hash=pw, role="coordinator"),
            "wang": User(username="wang", display_name="王老师", password_hash=pw, role="teacher", school_id=hub.id,
                         subject="英语"),
            "zhao": User(username="zhao", display_name="赵老师", password_hash=pw, role="teacher", school_id=hub.id),
            "chen": User(username="chen", display_name="陈督学", password_hash=pw, role="observer"),
        }
        s.add_all(users.values())
        await s.flush()
        room = await create_room(s, RoomSpec(
            kind=kind, title="英语 1+3", subject="英语", grade=4, host_user_id=users["wang"].id,
            remote_classroom_ids=[c.id for c in classrooms],
            coteacher_ids=[users["zhao"].id] if kind == RoomKind.COTEACH else [],
        ))
        await s.commit()
        for i, c in enumerate(classrooms):
            county.codes[f"c{i + 1}"] = c.join_code
            county.classroom_ids[f"c{i + 1}"] = c.id
        county.user_ids = {k: u.id for k, u in users.items()}
        county.room_id = room.id
    return county


@dataclass
class Server:
    url: str
    app: web.Application
    settings: Settings

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_server(
    tmp_path: Path, redis_url: str | None = None, media: Any = None, with_media: bool = False,
    database_url: str | None = None, resume_grace: float = 20.0, **more: Any,
) -> tuple[Server, web.AppRunner]:
    settings = Settings(data_dir=tmp_path / "data", redis_url=redis_url, database_url=database_url,
                        port=free_port(), resume_grace=resume_grace, **more)
    if database_url is None:
        from tests.databases import sqlite_at_head  # here: pytest imports the plugin first, rewriting it

        sqlite_at_head(settings.data_dir / "sanke.db")
    app = create_app(settings, media=media, with_media=with_media)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", settings.port)
    await site.start()
    return Server(f"http://127.0.0.1:{settings.port}", app, settings), runner


@pytest.fixture(params=["inprocess", "redis"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    """The platform without media, on each bus implementation."""
    redis = request.getfixturevalue("redis_url") if request.param == "redis" else None
    srv, runner = await start_server(tmp_path, redis_url=redis)
    try:
        yield srv
    finally:
        await stop_server(runner)


async def stop_server(runner: web.AppRunner, timeout: float = 60.0) -> None:
    """Stop a test server, or fail within `timeout` s: a shutdown that hangs must fail its test, not stop the
    run (pytest-timeout does not reach async fixtures' teardown)."""
    try:
        await asyncio.wait_for(runner.cleanup(), timeout)
    except TimeoutError:
        pytest.fail(f"the test server did not stop within {timeout:g} s", pytrace=False)


@pytest.fixture
async def county(server: Server) -> County:
    from web.keys import DB

    return await seed_county(server.app[DB])


class WsClient:
    """A participant's WebSocket: send messages, wait for the next message of a type, keep everything seen."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, http: aiohttp.ClientSession) -> None:
        self.ws = ws
        self.http = http
        self.seen: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []
        self.participant_id = ""
        self.resume_token = ""

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.ws.send_str(message if isinstance(message, str) else json.dumps(message))

    async def next(self, type_: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        for i, m in enumerate(self._pending):
            if m.get("type") == type_ and all(m.get(k) == v for k, v in match.items()):
                return self._pending.pop(i)
        async with asyncio.timeout(timeout):
            while True:
                m = await self._read()
                if m.get("type") == type_ and all(m.get(k) == v for k, v in match.items()):
                    return m
                self._pending.append(m)

    async def _read(self) -> dict[str, Any]:
        msg = await self.ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket closed: {msg.type} {self.ws.close_code}")
        data = json.loads(msg.data)
        self.seen.append(data)
        return data

    async def drain(self, seconds: float = 0.2) -> list[dict[str, Any]]:
        """Everything that arrives within `seconds` (to show that nothing unexpected arrived)."""
        got = list(self._pending)
        self._pending.clear()
        try:
            async with asyncio.timeout(seconds):
                while True:
                    got.append(await self._read())
        except (TimeoutError, ConnectionError):
            pass
        return got

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()


async def login(server: Server, username: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession()
    async with http.post(f"{server.url}/api/login", json={"username": username, "password": PASSWORD}) as r:
        assert r.status == 200, await r.text()
        token = r.cookies["sanke_session"].value  # the token is only in the cookie; scripts send it as Bearer
    http.headers["Authorization"] = f"Bearer {token}"
    return http


async def user_token(server: Server, username: str, room_id: str) -> str:
    http = await login(server, username)
    try:
        async with http.post(f"{server.url}/api/rooms/{room_id}/token") as r:
            assert r.status == 200, await r.text()
            return (await r.json())["token"]
    finally:
        await http.close()


async def classroom_token(server: Server, code: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/api/classroom/join", json={"code": code}) as r:
            assert r.status == 200, await r.text()
            return (await r.json())["token"]


async def connect(server: Server, token: str | None = None) -> WsClient:
    http = aiohttp.ClientSession()
    ws = await http.ws_connect(server.ws_url)
    client = WsClient(ws, http)
    if token is not None:
        await client.send({"type": "join", "token": token, "id": 1})
        joined = await client.next("joined")
        client.participant_id = joined["participant_id"]
        client.resume_token = joined["resume_token"]
        client.seen.append(joined)
    return client
