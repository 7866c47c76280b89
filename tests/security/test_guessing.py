"""Join-code guessing: limited per address before any await, and the classroom's own PC keeps joining."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.conftest import County, Server

pytestmark = pytest.mark.parametrize("server", ["inprocess"], indirect=True)


def client(address: str) -> aiohttp.ClientSession:
    """Requests from `address` (any 127.x.y.z reaches the server on Linux)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0), limit=100))


async def _join(http: aiohttp.ClientSession, url: str, code: str) -> int:
    async with http.post(f"{url}/api/classroom/join", json={"code": code}) as r:
        return r.status


async def test_a_concurrent_burst_of_guesses_is_counted_before_any_await(server: Server, county: County) -> None:
    async with client("127.0.0.5") as guesser:
        statuses = await asyncio.gather(*(_join(guesser, server.url, f"WRONG{i:03d}") for i in range(50)))
    assert statuses.count(404) <= 10 and statuses.count(404) + statuses.count(429) == 50


async def test_the_classrooms_usual_address_is_not_locked_out(server: Server, county: County) -> None:
    code = county.codes["c1"]
    async with client("127.0.0.6") as school:  # the school's one public address, shared by its PCs
        assert await _join(school, server.url, code) == 200  # the classroom PC, every morning
        for i in range(12):  # someone else behind the same address guesses
            await _join(school, server.url, f"GUESS{i:03d}")
        assert await _join(school, server.url, "GUESS999") == 429  # guessing from there is blocked …
        assert await _join(school, server.url, code) == 200  # … the classroom's own code still joins
        assert await _join(school, server.url, county.codes["c2"]) == 429  # a code never used there does not
    async with client("127.0.0.7") as elsewhere:
        assert await _join(elsewhere, server.url, county.codes["c2"]) == 200  # other addresses are unaffected
