"""Sessions and join tokens: revocable server-side, capped in lifetime when verified, never in a body."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import aiohttp
import jwt
import pytest
from aiohttp import web

from core.settings import Settings
from core.tokens import Grants, TokenError, TokenSigner
from tests.conftest import PASSWORD, County, Server, connect, free_port, login, seed_county
from web.app import create_app
from web.cli import _settings
from web.keys import DB

inproc = pytest.mark.parametrize("server", ["inprocess"], indirect=True)


async def _bearer(server: Server, username: str) -> tuple[aiohttp.ClientSession, str]:
    http = await login(server, username)
    return http, http.headers["Authorization"][7:]


@inproc
async def test_login_sets_only_an_httponly_cookie(server: Server, county: County) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/api/login", json={"username": "wang", "password": PASSWORD}) as r:
            body = await r.json()
            cookie = r.cookies["sanke_session"]
        assert r.status == 200 and set(body) == {"user"}  # no session token in the body
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]  # plain http here


@inproc
async def test_logout_revokes_the_session_server_side(server: Server, county: County) -> None:
    http, token = await _bearer(server, "wang")
    try:
        async with http.get(f"{server.url}/api/me") as r:
            assert r.status == 200
        async with http.post(f"{server.url}/api/logout") as r:
            assert r.status == 200
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as stolen:
            async with stolen.get(f"{server.url}/api/me") as r:  # the same token, replayed after logout
                assert r.status == 401 and (await r.json())["error"]["code"] == "session_revoked"
    finally:
        await http.close()


@inproc
async def test_deactivation_revokes_sessions_and_join_tokens(server: Server, county: County) -> None:
    coord = await login(server, "coord")
    teacher, _ = await _bearer(server, "wang")
    try:
        async with teacher.post(f"{server.url}/api/rooms/{county.room_id}/token") as r:
            join_token = (await r.json())["token"]
        async with coord.patch(f"{server.url}/api/users/{county.user_ids['wang']}", json={"active": False}) as r:
            assert r.status == 200
        async with teacher.get(f"{server.url}/api/me") as r:
            assert r.status == 401
        ws = await connect(server)
        try:
            await ws.send({"type": "join", "token": join_token, "id": 1})
            err = await ws.next("error")
            assert err["code"] == "token_revoked"
        finally:
            await ws.close()
        async with coord.get(f"{server.url}/api/audit?action=user.active") as r:
            assert (await r.json())["entries"][0]["detail"] == {"active": False, "sessions_revoked": 1}
    finally:
        await coord.close()
        await teacher.close()


@inproc
async def test_join_token_cap_is_enforced_when_verified(server: Server, county: County) -> None:
    """A token minted with a day of life (by a script holding the key) is refused, not only never minted."""
    kid, key = list(server.settings.secret_keys().items())[-1]
    now = int(time.time())
    grants = Grants(room=county.room_id, room_join=True, can_subscribe=True)
    claims = {"iss": "sanke", "aud": "join", "sub": "classroom:1", "name": "x", "role": "classroom",
              "video": grants.to_claim(), "iat": now, "nbf": now - 5, "exp": now + 86400}
    forged = jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid})
    with pytest.raises(TokenError, match="at most 600"):
        TokenSigner({kid: key}).verify_join(forged)
    ws = await connect(server)
    try:
        await ws.send({"type": "join", "token": forged, "id": 1})
        assert (await ws.next("error"))["code"] == "token_invalid"
    finally:
        await ws.close()


async def test_secure_cookie_behind_https_public_url(tmp_path: Path) -> None:
    args = argparse.Namespace(data_dir=str(tmp_path), database_url=None, public_url="https://sanke.example.cn")
    assert _settings(args).secure_cookies
    settings = Settings(data_dir=tmp_path / "d", port=free_port(), public_url="https://sanke.example.cn")
    runner = web.AppRunner(create_app(settings, with_media=False))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    try:
        await seed_county(runner.app[DB])
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{settings.port}/api/login",
                                 json={"username": "wang", "password": PASSWORD}) as r:
                assert r.status == 200
                set_cookie = r.headers["Set-Cookie"]
        assert "Secure" in set_cookie and "HttpOnly" in set_cookie
    finally:
        await runner.cleanup()


async def test_revocations_reach_every_node_over_the_bus(tmp_path: Path, redis_url: str) -> None:
    """Deactivation on one node: the others refuse the account's join tokens too (Redis bus)."""
    from core.bus import RedisBus
    from tests.conftest import start_server
    from web.keys import TOKENS

    srv, runner = await start_server(tmp_path, redis_url=redis_url)
    other = RedisBus(redis_url)
    try:
        signer = srv.app[TOKENS]
        identity = f"user:{900000 + int(time.time()) % 100000}"
        token = signer.issue_join(identity, "x", "viewer", Grants(room="r", room_join=True), ttl=60)
        await asyncio.sleep(1.1)  # a later second than the token's iat
        await other.publish("auth:revoked", {"identity": identity, "at": time.time()})
        for _ in range(50):
            try:
                signer.verify_join(token)
            except TokenError as e:
                assert e.code == "token_revoked"
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the revocation published by another node never arrived")
    finally:
        await other.close()
        await runner.cleanup()
