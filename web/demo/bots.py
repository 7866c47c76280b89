"""The demo county's media bots, in a process of their own (`python -m web.demo.bots`, started and stopped by
the server, web/demo/live.py): for each lesson a hub teacher and remote classrooms join like real clients
(the teacher logs in and asks for a room token; a classroom joins by its code), publish the test clip and a
tone through the SFU, answer the SFU's subscriber offers without decoding (no CPU spent on what nobody
watches), and now and then a classroom raises its hand. A seat a person opens is theirs; the bot takes it
back when they leave, so the patrol wall never keeps an empty or black tile. With --record ROOM the bots hold a short lesson in
that room (start, a raised hand, taken on stage, end) so the real recorder files it in the library.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from web.demo.clip import load
from web.demo.peer import Peer, watch_lag

log = logging.getLogger("sanke.demo.bots")
HAND_EVERY = (25.0, 60.0)  # seconds between a classroom's raised hands
HAND_DOWN_AFTER = 12.0
RECLAIM_EVERY = 5.0  # seconds between looks for seats a person opened and left again


@dataclass
class Seat:
    """A place in the lesson a bot holds: its current peer, and how to get a token for it again."""

    peer: Peer
    http: aiohttp.ClientSession
    token: Callable[[], Awaitable[str]]


class Demo:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url.rstrip("/")
        self.data_dir = data_dir
        text = (data_dir / "demo-accounts.txt").read_text(encoding="utf-8")
        self.passwords = dict(re.findall(r"^\s+(\S+)\s+(\S+)\s", text, re.M))
        # 15 frames a second: moving enough for a patrol wall, half the per-frame work of 30 for the bot process
        self.clips = (load(320, 240, 15, 45, 250_000), load(160, 128, 15, 45, 80_000))
        self.tone = 330.0
        self._watcher: aiohttp.ClientSession | None = None  # the coordinator's session: who is present

    def http_session(self) -> aiohttp.ClientSession:
        # the server takes requests from its own pages only (Origin); cookies for 127.0.0.1 need an unsafe jar
        return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Origin": self.url})

    async def session(self, username: str) -> aiohttp.ClientSession:
        http = self.http_session()
        for attempt in range(60):  # the server may still be starting
            try:
                async with http.post(f"{self.url}/api/login",
                                     json={"username": username, "password": self.passwords[username]}) as r:
                    r.raise_for_status()
                    # a script sends its session as Bearer (the cookie alone needs a page's Origin: CSRF guard)
                    http.headers["Authorization"] = f"Bearer {r.cookies['sanke_session'].value}"
                return http
            except aiohttp.ClientConnectionError:
                if attempt == 59:
                    await http.close()
                    raise
                await asyncio.sleep(0.5)
        return http

    async def peer(self, http: aiohttp.ClientSession, token: str) -> Peer:
        self.tone += 55.0
        peer = Peer(http, self.url, token, self.clips, self.tone)
        await peer.join()
        await peer.publish()
        return peer

    async def lesson(self, room: dict, codes: dict[int, str], seconds: float | None) -> None:
        """Hold one lesson: the teacher starts it, up to three classrooms join; end it after `seconds` (None: never)."""
        teacher = await self.session(room["host_username"])
        anonymous = self.http_session()
        peers: list[Peer] = []

        async def teacher_token() -> str:
            async with teacher.post(f"{self.url}/api/rooms/{room['id']}/token") as r:
                r.raise_for_status()
                return (await r.json())["token"]

        def classroom_token(code: str) -> Callable[[], Awaitable[str]]:
            async def token() -> str:
                async with anonymous.post(f"{self.url}/api/classroom/join", json={"code": code, "room": room["id"]}) as r:
                    r.raise_for_status()
                    return (await r.json())["token"]
            return token

        seats: list[Seat] = []
        try:
            host = await self.peer(teacher, await teacher_token())
            peers.append(host)
            seats.append(Seat(host, teacher, teacher_token))
            await host.request({"type": "room.start"})
            for cid in room["classrooms"][:3]:
                token = classroom_token(codes[cid])
                peers.append(await self.peer(anonymous, await token()))
                seats.append(Seat(peers[-1], anonymous, token))
            log.info("demo lesson %s live with %d classrooms", room["id"], len(peers) - 1)
            if seconds is not None:
                await asyncio.sleep(seconds / 2)
                hand = peers[-1]
                await hand.request({"type": "hand.raise"})
                await host.request({"type": "stage.invite", "participant_id": hand.joined["participant_id"]})
                await asyncio.sleep(seconds / 2)
                await host.send({"type": "room.end", "id": 0})  # the server closes every socket: no reply to wait for
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(host.closed.wait(), 10)
                return
            await self.hands(room["id"], seats)
        finally:
            for p in {*peers, *(seat.peer for seat in seats)}:
                await p.close()
            await teacher.close()
            await anonymous.close()

    async def hands(self, room_id: str, seats: list[Seat]) -> None:
        """Keep the lesson going: a classroom raises its hand now and then and lowers it again; a seat a person
        opened (the teacher, a classroom PC) is theirs, and the bot takes it back once they left. Returns when a
        bot's connection drops (the caller joins again)."""
        loop = asyncio.get_running_loop()
        next_hand = loop.time() + random.uniform(*HAND_EVERY)
        raising: asyncio.Task | None = None
        try:
            while True:
                if any(seat.peer.closed.is_set() and not seat.peer.replaced for seat in seats):
                    return
                with contextlib.suppress(Exception):
                    await self.rejoin_broken(room_id, seats)
                with contextlib.suppress(Exception):
                    await self.reclaim(room_id, seats)
                alive = [seat.peer for seat in seats[1:] if not seat.peer.closed.is_set()]
                if loop.time() >= next_hand and alive and (raising is None or raising.done()):
                    raising = asyncio.create_task(self._hand(random.choice(alive)))
                    next_hand = loop.time() + random.uniform(*HAND_EVERY)
                await asyncio.sleep(RECLAIM_EVERY)
        finally:
            if raising is not None:
                raising.cancel()

    @staticmethod
    async def _hand(who: Peer) -> None:
        with contextlib.suppress(Exception):
            await who.request({"type": "hand.raise"})
            await asyncio.sleep(HAND_DOWN_AFTER)
            await who.request({"type": "hand.lower"})

    async def rejoin_broken(self, room_id: str, seats: list[Seat]) -> None:
        """A bot whose video no longer reaches the SFU leaves and joins again with a new token."""
        for seat in seats:
            old = seat.peer
            if not old.broken.is_set() or old.replaced:
                continue
            await old.close()  # `leave` first: the new join is not taken for a person replacing the bot
            seat.peer = await self.peer(seat.http, await seat.token())
            log.info("demo lesson %s: %s joined again", room_id, old.joined.get("participant_id"))

    async def reclaim(self, room_id: str, seats: list[Seat]) -> None:
        """Join again in the seats whose person left (the lesson would show a black or missing tile)."""
        taken = [seat for seat in seats if seat.peer.replaced]
        if not taken:
            return
        if self._watcher is None:
            self._watcher = await self.session("coordinator")
        async with self._watcher.get(f"{self.url}/api/rooms", params={"state": "live,open"}) as r:
            rooms = (await r.json())["rooms"]
        room = next((x for x in rooms if x["id"] == room_id), None)
        if room is None:
            return
        present = {p.get("id") for p in room.get("present", [])}
        for seat in taken:
            pid = seat.peer.joined.get("participant_id")
            if pid in present:
                continue
            await seat.peer.close()
            seat.peer = await self.peer(seat.http, await seat.token())
            log.info("demo lesson %s: %s left; the bot holds the seat again", room_id, pid)

    async def rooms(self, ids: list[str]) -> tuple[list[dict], dict[int, str]]:
        http = await self.session("coordinator")
        try:
            async with http.get(f"{self.url}/api/classrooms") as r:
                codes = {c["id"]: c["join_code"] for c in (await r.json())["classrooms"]}
            async with http.get(f"{self.url}/api/users") as r:
                users = {u["id"]: u["username"] for u in (await r.json())["users"]}
            out = []
            for rid in ids:
                async with http.get(f"{self.url}/api/rooms/{rid}") as r:
                    room = (await r.json())["room"]
                members = room.get("members", [])
                out.append({"id": rid, "host_username": users.get(room["host_user_id"], ""),
                            "classrooms": [m["classroom_id"] for m in members if m["role"] == "classroom"]})
            return out, codes
        finally:
            await http.close()


async def run(args: argparse.Namespace) -> int:
    demo = Demo(args.url, Path(args.data_dir))
    lag = asyncio.create_task(watch_lag())
    parent = os.getppid()
    if args.record:
        rooms, codes = await demo.rooms(args.record)
        await asyncio.gather(*(demo.lesson(room, codes, args.record_seconds) for room in rooms))
        print(json.dumps({"recorded": args.record}), flush=True)
    if not args.live:
        return 0
    rooms, codes = await demo.rooms(args.live)
    tasks = [asyncio.create_task(keep(demo, room, codes)) for room in rooms]
    while True:  # the server died without stopping us: stop too
        await asyncio.sleep(2)
        if os.getppid() != parent:
            break
    for t in [*tasks, lag]:
        t.cancel()
    return 0


async def keep(demo: Demo, room: dict, codes: dict[int, str]) -> None:
    """Hold a live lesson; after a drop (server restart, network) join again."""
    while True:
        try:
            await demo.lesson(room, codes, None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the server went away or the room ended: try again a little later
            log.warning("demo lesson %s: %s; joining again in 5 s", room["id"], exc)
        await asyncio.sleep(5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web.demo.bots", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--record", action="append", default=[], help="room to hold a short recorded lesson in")
    parser.add_argument("--record-seconds", type=float, default=10.0)
    parser.add_argument("--live", action="append", default=[], help="room to keep live until stopped")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
