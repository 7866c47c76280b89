"""TURN REST credentials: the URLs a node accepts, the secret in its data dir, and a real coturn that relays
for a fresh credential over TCP and refuses an expired or forged one; the join reply carries them."""

from __future__ import annotations

import asyncio
import os
import stat
import time

import pytest
from aioice.turn import create_turn_endpoint

from core.turn import TurnCredentials, TurnError, check_turn_url, load_secret
from tests.conftest import connect, seed_county, start_server, user_token
from tests.turnserver import run_turnserver
from web.keys import DB


def test_turn_urls_are_checked():
    for good in ("turns:turn.county.edu.cn:443?transport=tcp", "turn:10.1.2.3:3478", "turn:h:3478?transport=tcp",
                 "turns:[2001:db8::1]:443"):
        assert check_turn_url(good) == good
    for bad in ("turn://h:3478", "stun:h:3478", "turns:h:443?transport=udp", "turn:h:99999", "turn:h?user=x",
                "turn:"):
        with pytest.raises(TurnError) as err:
            check_turn_url(bad)
        assert err.value.code == "bad_turn_url" and err.value.field == "turn_url"


def test_secret_is_created_once_in_the_data_dir_and_private(tmp_path):
    secret = load_secret(tmp_path)
    assert len(secret) >= 40 and load_secret(tmp_path) == secret
    assert stat.S_IMODE(os.stat(tmp_path / "turn.secret").st_mode) == 0o600


def test_credentials_expire_and_name_the_participant():
    creds = TurnCredentials(("turn:h:3478",), "s3cret", ttl=600)
    (server,) = creds.ice_servers("classroom:7", now=1_000_000)
    assert server["urls"] == ["turn:h:3478"] and server["username"] == "1000600:classroom_7"
    assert server["credential"] == creds.credential("1000600:classroom_7") != creds.credential("1000600:x")
    assert TurnCredentials((), "s").ice_servers("x") == []


class Echo(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)


class Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.got.put_nowait(data)


async def allocate(port: int, username: str, password: str):
    return await asyncio.wait_for(
        create_turn_endpoint(Inbox, ("127.0.0.1", port), username, password, transport="tcp"), 10
    )


async def test_coturn_relays_over_tcp_for_a_fresh_credential_only(tmp_path):
    secret = load_secret(tmp_path / "data")
    with run_turnserver(secret, tmp_path / "turn") as turn:
        creds = TurnCredentials((turn.url(),), secret, ttl=600)
        (ice,) = creds.ice_servers("user:1")
        transport, inbox = await allocate(turn.port, ice["username"], ice["credential"])
        echo_transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            Echo, local_addr=("127.0.0.1", 0)
        )
        try:
            relayed = transport.get_extra_info("sockname")
            assert relayed[0] == "127.0.0.1"  # coturn's relay address, as the SFU sees the client
            transport.sendto(b"ping through TURN/TCP", echo_transport.get_extra_info("sockname"))
            assert await asyncio.wait_for(inbox.got.get(), 5) == b"ping through TURN/TCP"
        finally:
            transport.close()
            echo_transport.close()

        (expired,) = creds.ice_servers("user:1", now=time.time() - 700)
        forged = TurnCredentials((turn.url(),), "not-the-secret").ice_servers("user:1")[0]
        for bad in (expired, forged):
            with pytest.raises(Exception) as err:  # noqa: B017 - aioice raises TransactionFailed (401)
                await allocate(turn.port, bad["username"], bad["credential"])
            assert "401" in str(err.value) or "Unauthorized" in str(err.value), err.value


async def test_join_reply_carries_ice_servers_with_a_credential_per_join(tmp_path):
    urls = ["turns:turn.example.cn:443?transport=tcp", "turn:turn.example.cn:3478?transport=udp"]
    server, runner = await start_server(tmp_path, turn_urls=urls)
    try:
        county = await seed_county(server.app[DB])
        client = await connect(server, await user_token(server, "wang", county.room_id))
        joined = next(m for m in client.seen if m["type"] == "joined")
        (ice,) = joined["ice_servers"]
        assert ice["urls"] == urls
        expiry, _, who = ice["username"].partition(":")
        assert who == joined["participant_id"].replace(":", "_") and int(expiry) > time.time() + 3600
        secret = (tmp_path / "data" / "turn.secret").read_text().strip()
        assert ice["credential"] == TurnCredentials(tuple(urls), secret).credential(ice["username"])
        await client.close()
    finally:
        await runner.cleanup()
    plain, runner = await start_server(tmp_path / "plain")
    try:
        county = await seed_county(plain.app[DB])
        client = await connect(plain, await user_token(plain, "wang", county.room_id))
        assert next(m for m in client.seen if m["type"] == "joined")["ice_servers"] == []
        await client.close()
    finally:
        await runner.cleanup()
