"""The demo county's media bots, in a process of their own (`python -m web.demo.bots`, started and stopped by
the server, web/demo/live.py): for each lesson a hub teacher and remote classrooms join like real clients
(the teacher logs in and asks for a room token; a classroom joins by its code), publish the test clip and a
tone through the SFU, answer the SFU's subscriber offers without decoding (no CPU spent on what nobody
watches), and now and then a classroom raises its hand. With --record ROOM the bots hold a short lesson in
that room (start, a raised hand, taken on stage, end) so the real recorder files it in the library.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import random
import re
import sys
from pathlib import Path

import aiohttp
import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from media import aiortc_seams as seams
from web.demo.clip import Clip, load
from web.demo.tracks import ClipTrack, ToneTrack

log = logging.getLogger("sanke.demo.bots")
HAND_EVERY = (25.0, 60.0)  # seconds between a classroom's raised hands
HAND_DOWN_AFTER = 12.0
SILENT_AFTER = 15.0  # seconds without a receiver report from the SFU: it no longer hears this publisher
# aioice drops a connection after six consent checks in a row (one each ~5 s) got no answer within 0.5 s
# (RFC 7675 allows 30 s without any answer, as Chromium does). A server busy for half a second at a time,
# common on a loaded machine, then cuts the bots' video although every packet arrives. The bots watch the
# SFU's receiver reports instead (Peer._watch) and republish when those stop.
aioice.ice.CONSENT_FAILURES = 60


class TakenOver(Exception):
    """Every seat of the lesson was opened by a person: the bots leave it to them."""


class Peer:
    """One participant: a WebSocket, a publishing connection, a non-decoding subscriber connection."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str, clips: tuple[Clip, Clip], tone: float) -> None:
        self.http, self.url, self.token, self.clips, self.tone = http, url, token, clips, tone
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.pub: RTCPeerConnection | None = None
        self.sub: RTCPeerConnection | None = None
        self.pending: dict[int, asyncio.Future] = {}
        self.next_id = 0
        self.joined: dict = {}
        self.reader: asyncio.Task | None = None
        self.closed = asyncio.Event()
        self.replaced = False  # a person opened this seat (the teacher, a classroom PC): the bot gives it up
        self.answers: list[asyncio.Task] = []
        self.answering = asyncio.Lock()  # one renegotiation at a time
        self.leaving = False
        self.republishing: asyncio.Task | None = None
        self.republished = 0
        self.watcher: asyncio.Task | None = None

    async def join(self) -> dict:
        self.ws = await self.http.ws_connect(self.url.replace("http", "ws", 1) + "/ws", heartbeat=15)
        self.reader = asyncio.create_task(self._read())
        self.joined = await self.request({"type": "join", "token": self.token})
        return self.joined

    async def request(self, message: dict, timeout: float = 20.0) -> dict:
        assert self.ws is not None
        self.next_id += 1
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_json(dict(message, id=self.next_id))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(self.next_id, None)

    async def send(self, message: dict) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.send_json(message)

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if data.get("type") == "subscriber.offer":
                    self.answers.append(asyncio.create_task(self._answer(data["sdp"])))
                    continue
                future = self.pending.get(data.get("id"))
                if future is not None and not future.done():
                    if data.get("type") == "error":
                        future.set_exception(RuntimeError(f"{data.get('code')}: {data.get('message')}"))
                    else:
                        future.set_result(data)
        finally:
            self.replaced = self.ws.close_code in (4003, 4009)
            self.closed.set()

    async def publish(self) -> None:
        pc = self.pub = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.on("connectionstatechange", lambda: self._on_publisher_state(pc))
        specs = []
        for quality, clip in zip(("high", "low"), self.clips, strict=True):
            track = ClipTrack(clip)
            transceiver = pc.addTransceiver(track, direction="sendonly")
            seams.on_keyframe_request(transceiver.sender, track.request_keyframe)
            caps = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.name in ("VP8", "rtx")]
            transceiver.setCodecPreferences(caps)
            specs.append((transceiver, "video", "camera", quality))
        specs.append((pc.addTransceiver(ToneTrack(self.tone), direction="sendonly"), "audio", "microphone", "high"))
        await pc.setLocalDescription(await pc.createOffer())
        tracks = [{"mid": t.mid, "kind": k, "source": src, "quality": q} for t, k, src, q in specs]
        reply = await self.request({"type": "publish.offer", "sdp": pc.localDescription.sdp, "tracks": tracks})
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        if self.watcher is not None:
            self.watcher.cancel()
        self.watcher = asyncio.create_task(self._watch(pc))

    async def _watch(self, pc: RTCPeerConnection) -> None:
        """Republish when the SFU stops sending receiver reports for our video (its side of the connection
        is gone: a restart, or its own consent check of ours failed while this process was busy)."""
        loop = asyncio.get_running_loop()
        heard = loop.time()  # the first report comes within about a second of the first packets
        while pc is self.pub and not self.leaving:
            await asyncio.sleep(2.0)
            latest = None
            for sender in pc.getSenders():
                if sender.track is None or sender.track.kind != "video":
                    continue
                for stat in (await sender.getStats()).values():
                    if stat.type == "remote-inbound-rtp":
                        latest = max(latest or stat.timestamp, stat.timestamp)
            if latest is not None:
                heard = max(heard, loop.time() - (dt.datetime.now(dt.UTC) - latest).total_seconds())
            if loop.time() - heard > SILENT_AFTER and pc is self.pub:
                log.warning("bot %s: the SFU sent no receiver report for %.0f s", self.joined.get("participant_id"), loop.time() - heard)
                self._on_publisher_state(pc, force=True)
                return

    def _on_publisher_state(self, pc: RTCPeerConnection, force: bool = False) -> None:
        """A publishing connection that failed (ICE consent expired on either side: a peer that did not answer
        its checks within 0.5 s six times in a row, which a loaded machine causes) sends nothing any more,
        while the seat and its tracks stay listed: every viewer sees a black tile. Publish again on a new
        connection (the SFU replaces a failed publisher transport; subscribers get a keyframe from it)."""
        if pc is not self.pub or self.leaving or not (force or pc.connectionState in ("failed", "closed")):
            return
        if self.republishing is None or self.republishing.done():
            self.republishing = asyncio.create_task(self._republish(pc))

    async def _republish(self, failed: RTCPeerConnection) -> None:
        with contextlib.suppress(Exception):
            await failed.close()
        for attempt in range(10):
            if self.leaving or self.closed.is_set():
                return
            try:
                await self.publish()
                self.republished += 1
                log.warning("bot %s: published again on a new connection", self.joined.get("participant_id"))
                return
            except Exception as exc:  # the server may be busy or restarting: wait and try again
                log.warning("bot %s: publishing again failed (%s)", self.joined.get("participant_id"), exc)
                await asyncio.sleep(min(2 ** attempt, 10))

    async def _answer(self, sdp: str) -> None:
        async with self.answering:
            await self._answer_one(sdp)

    async def _answer_one(self, sdp: str) -> None:
        if self.sub is None:
            self.sub = RTCPeerConnection(RTCConfiguration(iceServers=[]))

            @self.sub.on("track")
            def _track(track) -> None:
                receiver = next(t.receiver for t in self.sub.getTransceivers() if t.receiver.track is track)  # type: ignore[union-attr]
                seams.install_receive_tap(receiver, track.kind, lambda packet: None)

        await self.sub.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.sub.setLocalDescription(await self.sub.createAnswer())
        await self.send({"type": "subscriber.answer", "sdp": self.sub.localDescription.sdp})

    async def close(self) -> None:
        self.leaving = True
        for task in (self.republishing, self.watcher):
            if task is not None:
                task.cancel()
        with contextlib.suppress(Exception):
            await self.send({"type": "leave"})
        for pc in (self.pub, self.sub):
            if pc is not None:
                await pc.close()
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()


class Demo:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url.rstrip("/")
        self.data_dir = data_dir
        text = (data_dir / "demo-accounts.txt").read_text(encoding="utf-8")
        self.passwords = dict(re.findall(r"^\s+(\S+)\s+(\S+)\s", text, re.M))
        self.clips = (load(320, 240, 30, 90, 300_000), load(160, 128, 30, 90, 100_000))
        self.tone = 330.0

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
        try:
            async with teacher.post(f"{self.url}/api/rooms/{room['id']}/token") as r:
                r.raise_for_status()
                host = await self.peer(teacher, (await r.json())["token"])
            peers.append(host)
            await host.request({"type": "room.start"})
            for cid in room["classrooms"][:3]:
                async with anonymous.post(f"{self.url}/api/classroom/join", json={"code": codes[cid], "room": room["id"]}) as r:
                    r.raise_for_status()
                    peers.append(await self.peer(anonymous, (await r.json())["token"]))
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
            await self.hands(peers)
        finally:
            for p in peers:
                await p.close()
            await teacher.close()
            await anonymous.close()

    async def hands(self, peers: list[Peer]) -> None:
        """Keep the lesson going: a classroom raises its hand now and then and lowers it again. Returns when a
        connection drops (the caller joins again), or when people took every seat over (then it stops)."""
        while True:
            if any(p.closed.is_set() and not p.replaced for p in peers):
                return
            alive = [p for p in peers[1:] if not p.closed.is_set()]
            if all(p.closed.is_set() for p in peers):
                raise TakenOver
            await asyncio.sleep(random.uniform(*HAND_EVERY))
            if not alive:
                continue
            who = random.choice(alive)
            with contextlib.suppress(Exception):
                await who.request({"type": "hand.raise"})
                await asyncio.sleep(HAND_DOWN_AFTER)
                await who.request({"type": "hand.lower"})

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


async def watch_lag(every: float = 1.0, warn_at: float = 0.4) -> None:
    """Log when this process's event loop runs late: ICE consent checks are answered from this loop, and a
    peer that answers none within 0.5 s for 30 s loses its connection (the reason for `_republish`)."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(every)
        late = loop.time() - before - every
        if late > warn_at:
            log.warning("bots: event loop %.1f s late", late)


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
    """Hold a live lesson; after a drop (server restart, network) join again; stop when people took it over."""
    while True:
        try:
            await demo.lesson(room, codes, None)
        except TakenOver:
            log.info("demo lesson %s: people took every seat over; the bots leave it", room["id"])
            return
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
