"""A bounded WebSocket fuzz: thousands of generated frames (random JSON, wrong types, deep nesting,
oversized, binary, before join, foreign tokens). Zero crashes, every frame answered or refused with a
code, the bystanders undisturbed, the server's memory back where it was.

SANKE_FUZZ_MESSAGES sets the count (2,000 by default, as in CI); SANKE_FUZZ_SEED the seed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import random
import time
from typing import Any

import aiohttp
import jwt
import psutil
import pytest

from rooms.roles import Role, RoomKind, grants_for
from signaling.protocol import MAX_MESSAGE_BYTES, MESSAGE_TYPES
from tests.conftest import County, Server, WsClient, connect
from tests.signaling.test_validation import bystanders, undisturbed
from web.keys import TOKENS

COUNT = int(os.environ.get("SANKE_FUZZ_MESSAGES", "2000"))
SEED = int(os.environ.get("SANKE_FUZZ_SEED", "20261203"))
WORKERS = 4
REPLIES = {"error", "ok", "pong", "joined", "publish.answer", "lesson.state"}
ALLOWED_CLOSES = {1000, 4000, 4009}  # leave, abuse, the same identity joined elsewhere
FIELDS = ["id", "type", "token", "participant_id", "sdp", "tracks", "candidate", "target", "quality", "source",
          "room", "resume_token", "mid", "kind"]


def random_json(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 3 or pick < 0.4:
        return rng.choice([None, True, False, rng.randint(-2**63, 2**63), rng.random() * 1e9, "",
                           "x" * rng.randint(0, 300), "标准" * rng.randint(0, 20), "\u0000\ud7ff", -0.0])
    if pick < 0.7:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(FIELDS): random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def foreign_token(rng: random.Random, county: County, signer: Any) -> str:
    grants = grants_for(Role.HUB_TEACHER, RoomKind.DELIVERY, county.room_id)
    now = int(time.time())
    body = {"iss": "sanke", "aud": "join", "sub": "intruder", "role": "hub_teacher", "video": grants.to_claim(),
            "iat": now, "exp": now + 60}
    match rng.randrange(4):
        case 0:  # another deployment's key
            return jwt.encode(body, b"k" * 32, algorithm="HS256", headers={"kid": "k1"})
        case 1:  # another room
            return signer.issue_join("intruder", "x", "hub_teacher", grants_for(Role.HUB_TEACHER, RoomKind.DELIVERY,
                                                                                  "r-elsewhere"))
        case 2:  # no signature at all
            return jwt.encode(body, None, algorithm="none")
        case _:  # a session token where a join token belongs
            return signer.issue_session(1, 60, "fuzz-session")


def generate(rng: random.Random, county: County, signer: Any) -> tuple[str, str | bytes]:
    """(category, frame)."""
    kind = rng.choice(["random", "typed", "typed", "deep", "oversized", "binary", "token", "valid"])
    if kind == "random":
        value = random_json(rng)
        if isinstance(value, dict) and isinstance(value.get("type"), str) and value["type"] in MESSAGE_TYPES:
            value["id"] = rng.randint(1, 10**6)
        return kind, json.dumps(value)
    if kind == "typed":  # a real type with fields of the wrong type or value
        msg = {"type": rng.choice(sorted(MESSAGE_TYPES)), "id": rng.randint(1, 10**6)}
        for _ in range(rng.randint(0, 3)):
            msg[rng.choice(FIELDS[2:])] = random_json(rng, 2)
        return kind, json.dumps(msg)
    if kind == "deep":
        depth = rng.randint(7, 3000)
        return kind, '{"type":"ping","x":' + "[" * depth + "]" * depth + "}"
    if kind == "oversized":
        return kind, json.dumps({"type": "ping", "id": 1, "pad": "y" * rng.randint(MAX_MESSAGE_BYTES, 100_000)})
    if kind == "binary":
        return kind, rng.randbytes(rng.randint(1, 2000))
    if kind == "token":
        return kind, json.dumps({"type": "join", "id": rng.randint(1, 10**6),
                                 "token": foreign_token(rng, county, signer)})
    msg = rng.choice([{"type": "ping"}, {"type": "hand.raise"}, {"type": "hand.lower"},
                      {"type": "subscription.quality", "participant_id": "user:2", "quality": "low"},
                      {"type": "stage.leave"}, {"type": "room.end"}, {"type": "leave"}])
    return kind, json.dumps({**msg, "id": rng.randint(1, 10**6)})


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


async def reply_to(client: WsClient) -> str:
    """The frame's answer: a reply type, or the close code when the server closed instead."""
    async with asyncio.timeout(5):
        while True:
            msg = await client.ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                if data.get("type") in REPLIES:
                    if data["type"] == "error":
                        assert data["code"] and data["code"] != "internal", data
                        return f"error:{data['code']}"
                    return data["type"]
                continue  # a room event, not an answer
            return f"close:{client.ws.close_code}"


async def worker(n: int, frames: list[tuple[str, str | bytes]], server: Server, county: County,
                 tally: dict[str, int]) -> None:
    signer = server.app[TOKENS]

    async def fresh() -> WsClient:
        if n % 2:  # half the workers fuzz before joining
            return await connect(server)
        role = Role.CLASSROOM if n % 4 == 0 else Role.VIEWER
        token = signer.issue_join(f"fuzz:{n}", "fuzz", role.value, grants_for(role, RoomKind.DELIVERY, county.room_id))
        return await connect(server, token)

    client = await fresh()
    for _, frame in frames:
        if isinstance(frame, bytes):
            await client.ws.send_bytes(frame)
        else:
            await client.ws.send_str(frame)
        try:
            answer = await reply_to(client)
        except TimeoutError:
            raise AssertionError(f"no answer within 5 s to {frame[:300]!r}") from None
        tally[answer] = tally.get(answer, 0) + 1
        if answer.startswith("close:"):
            assert int(answer[6:]) in ALLOWED_CLOSES, answer
            await client.http.close()
            client = await fresh()
    await client.close()


@pytest.mark.timeout(300)
async def test_ws_fuzz(server: Server, county: County, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    rng = random.Random(SEED)
    signer = server.app[TOKENS]
    frames = [generate(rng, county, signer) for _ in range(COUNT)]
    teacher, c1 = await bystanders(server, county)
    seen: list[dict] = []

    async def watch(client: WsClient) -> None:
        while True:
            seen.append(await client._read())

    warm: dict[str, int] = {}
    await worker(0, frames[:100], server, county, warm)  # warm up the paths before the baseline
    baseline = rss()
    watchers = [asyncio.create_task(watch(c)) for c in (teacher, c1)]
    tally: dict[str, int] = {}
    started = time.monotonic()
    await asyncio.gather(*(worker(n, frames[100 + n::WORKERS], server, county, tally) for n in range(WORKERS)))
    elapsed = time.monotonic() - started
    for w in watchers:
        w.cancel()
    answered = sum(tally.values())
    assert answered == COUNT - 100, tally
    assert sum(v for k, v in tally.items() if k.startswith("error:")) > COUNT // 2, tally
    assert {k for k in tally if k.startswith("close:")} <= {f"close:{c}" for c in ALLOWED_CLOSES}
    # zero crashes: nothing logged as an error, no `internal`, the server still serves
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[:2000]
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/api/health") as r:
        assert r.status == 200
    # the bystanders saw no error and no stranger (the fuzzers' own joins aside), and still answer
    assert not [e for e in seen if e.get("type") == "error"]
    assert not [e for e in seen if e.get("about") == "intruder"]
    await undisturbed(teacher, c1)
    after = rss()
    assert after <= baseline * 1.10, (baseline >> 20, after >> 20, tally)
    print(f"fuzz: {answered} frames in {elapsed:.1f}s; {dict(sorted(tally.items()))}")
    for c in (teacher, c1):
        await c.close()
