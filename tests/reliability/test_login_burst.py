"""A login burst costs at most a few Argon2 verifications, never the event loop, and never locks out the
account's owner: 100 concurrent wrong passwords for one account from one address while a bystander pings."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiohttp
import pytest

from tests.conftest import PASSWORD, County, Server
from tests.reliability.test_upload_bombs import bystander
from web import passwords

# measures /api/health latency or a verification's time: runs alone, after the parallel part (Makefile)
pytestmark = [pytest.mark.parametrize("server", ["inprocess"], indirect=True), pytest.mark.solo]


@pytest.fixture
def counted_verifies(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record each Argon2 verify (the real one runs; only its calls are counted)."""
    calls: list[float] = []
    real = passwords.verify_password

    def counting(stored: str, password: str) -> bool:
        calls.append(time.perf_counter())
        return real(stored, password)

    monkeypatch.setattr(passwords, "verify_password", counting)
    return calls


def client(address: str = "127.0.0.1") -> aiohttp.ClientSession:
    """A client whose requests come from `address` (any 127.x.y.z reaches the server on Linux)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0), limit=200))


async def _login(http: aiohttp.ClientSession, url: str, username: str, password: str) -> int:
    async with http.post(f"{url}/api/login", json={"username": username, "password": password}) as r:
        return r.status


BURST = """
import asyncio, json, sys
import aiohttp

async def main(url, n):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=n)) as http:
        async def one(i):
            async with http.post(url + "/api/login", json={"username": "wang", "password": f"guess-{i}"}) as r:
                return r.status
        print(json.dumps(await asyncio.gather(*(one(i) for i in range(n)))))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def burst(url: str, n: int) -> list[int]:
    """The attacker in a process of its own, so that only the server's work shares its event loop."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", BURST, url, str(n),
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return json.loads(out)


async def test_hundred_wrong_passwords_verify_at_most_five(
    server: Server, county: County, counted_verifies: list[float]
) -> None:
    async with bystander(server.url) as latencies:
        statuses = await burst(server.url, 100)
    assert statuses.count(401) <= 5 and statuses.count(401) + statuses.count(429) == 100
    assert len(counted_verifies) <= 5, f"{len(counted_verifies)} Argon2 verifications for one burst"
    assert max(latencies) < 0.1, f"bystander /api/health {latencies}"
    print(f"\n100 wrong passwords: {statuses.count(401)} verified, {statuses.count(429)} refused; "
          f"bystander worst {max(latencies) * 1000:.0f} ms over {len(latencies)} pings")
    # the flood is one audit row for the address this minute, not a hundred
    async with client("127.0.0.9") as coord:
        async with coord.post(f"{server.url}/api/login", json={"username": "coord", "password": PASSWORD}) as r:
            token = r.cookies["sanke_session"].value
        await asyncio.sleep(2.5)  # the aggregate is flushed every 2 s
        async with coord.get(f"{server.url}/api/audit?action=login.failed",
                             headers={"Authorization": f"Bearer {token}"}) as r:
            rows = (await r.json())["entries"]
    assert 1 <= len(rows) <= 2 and all(r["actor"] == "127.0.0.1" for r in rows)  # one per minute (2 if straddling)
    assert sum(r["detail"]["count"] for r in rows) == 100


async def test_owner_from_another_address_still_logs_in(server: Server, county: County) -> None:
    """The limiter locks the guesser (address + account), not the account; the guesser backs off
    exponentially."""
    async with client("127.0.0.1") as attacker:
        for i in range(8):
            await _login(attacker, server.url, "wang", f"guess-{i}")
        assert await _login(attacker, server.url, "wang", PASSWORD) == 429  # even the right one, from there
        async with attacker.post(f"{server.url}/api/login", json={"username": "wang", "password": "x"}) as r:
            wait = int(r.headers["Retry-After"])
        assert wait >= 1
    async with client("127.0.0.2") as owner:
        assert await _login(owner, server.url, "wang", PASSWORD) == 200


async def test_unknown_usernames_cost_a_verification_too(
    server: Server, county: County, counted_verifies: list[float]
) -> None:
    async with client() as http:
        t = time.perf_counter()
        assert await _login(http, server.url, "wang", "wrong-1") == 401
        known = time.perf_counter() - t
        t = time.perf_counter()
        assert await _login(http, server.url, "nobody-here", "wrong-1") == 401
        unknown = time.perf_counter() - t
    assert len(counted_verifies) == 2  # the unknown name was verified against a dummy hash
    assert unknown > known / 3, f"unknown {unknown * 1000:.0f} ms vs known {known * 1000:.0f} ms"
