"""One bot participant of the demo county (web/demo/bots.py): a WebSocket, a publishing connection that sends the
pre-encoded clip and a tone, and a subscriber connection that answers the SFU's offers without decoding. It keeps
its video reaching the SFU: when the publishing connection fails or the SFU stops hearing it, it publishes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging

import aiohttp
import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from media import aiortc_seams as seams
from web.demo.clip import Clip
from web.demo.sdp import answering
from web.demo.tracks import ClipTrack, ToneTrack

log = logging.getLogger("sanke.demo.bots")
SILENT_AFTER = 15.0  # seconds without a receiver report from the SFU: it no longer hears this publisher
# aioice drops a connection after six consent checks in a row (one each ~5 s) got no answer within 0.5 s
# (RFC 7675 allows 30 s without any answer, as Chromium does). A server busy for half a second at a time,
# common on a loaded machine, then cuts the bots' video although every packet arrives. The bots watch the
# SFU's receiver reports instead (Peer._watch) and join again when those stop.
aioice.ice.CONSENT_FAILURES = 60
NEVER_HEARD = 90.0  # seconds after publishing with no receiver report at all: the connection never came up


class Peer:
    """One participant: a WebSocket, a publishing connection, a non-decoding subscriber connection."""

    def __init__(self, http: aiohttp.ClientSession, url: str, token: str, clips: tuple[Clip, Clip], tone: float) -> None:
        self.http, self.url, self.token, self.clips, self.tone = http, url, token, clips, tone
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.pub: RTCPeerConnection | None = None
        self.sub: RTCPeerConnection | None = None
        self.sub_certificate = ""  # the SFU connection `sub` answers (web.demo.sdp)
        self.pending: dict[int, asyncio.Future] = {}
        self.next_id = 0
        self.joined: dict = {}
        self.reader: asyncio.Task | None = None
        self.closed = asyncio.Event()
        self.replaced = False  # a person opened this seat (the teacher, a classroom PC): the bot gives it up
        self.answers: list[asyncio.Task] = []
        self.answering = asyncio.Lock()  # one renegotiation at a time
        self.leaving = False
        self.broken = asyncio.Event()  # the SFU no longer gets our media: the seat joins again (bots.py)
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
                    self.answers.append(asyncio.create_task(self._answer(data["sdp"], data.get("offer_id"))))
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
        began = loop.time()
        heard: float | None = None  # silence counts once reports came (a loaded machine connects slowly)
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
                heard = max(heard or 0.0, loop.time() - (dt.datetime.now(dt.UTC) - latest).total_seconds())
            now = loop.time()
            dead = now - heard > SILENT_AFTER if heard is not None else now - began > NEVER_HEARD
            if dead and pc is self.pub:
                log.warning("bot %s: the SFU sent no receiver report for %.0f s", self.joined.get("participant_id"), now - (heard or began))
                self._on_publisher_state(pc, force=True)
                return

    def _on_publisher_state(self, pc: RTCPeerConnection, force: bool = False) -> None:
        """A publishing connection that failed (ICE consent expired on either side: a peer that did not answer
        its checks within 0.5 s six times in a row, which a loaded machine causes) sends nothing any more,
        while the seat and its tracks stay listed: every viewer sees a black tile. The seat leaves and joins
        again (bots.py): the server then drops every connection of the old session, which a second offer on
        the same session cannot do when the server still holds the dead one."""
        if pc is not self.pub or self.leaving or not (force or pc.connectionState in ("failed", "closed")):
            return
        if not self.broken.is_set():
            log.warning("bot %s: its video no longer reaches the SFU; joining again", self.joined.get("participant_id"))
            self.broken.set()

    async def _answer(self, sdp: str, offer_id: int | None) -> None:
        async with self.answering:
            await self._answer_one(sdp, offer_id)

    async def _answer_one(self, sdp: str, offer_id: int | None) -> None:
        """Answer the SFU's offer declining every track: a bot watches nothing, so neither the SFU nor this
        process spends CPU on media nobody sees (on a loaded machine that CPU kept the bots from answering in
        time). Declining per answer leaves the room's subscription plan as it is, so a person who opens the
        seat later receives everything."""
        self.sub, self.sub_certificate = await answering(self.sub, self.sub_certificate, sdp)
        if self.sub is None:
            self.sub = RTCPeerConnection(RTCConfiguration(iceServers=[]))

            @self.sub.on("track")
            def _track(track) -> None:
                receiver = next(t.receiver for t in self.sub.getTransceivers() if t.receiver.track is track)  # type: ignore[union-attr]
                seams.install_receive_tap(receiver, track.kind, lambda packet: None)

        await self.sub.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for transceiver in self.sub.getTransceivers():
            transceiver.direction = "inactive"
        await self.sub.setLocalDescription(await self.sub.createAnswer())
        answer = {"type": "subscriber.answer", "sdp": self.sub.localDescription.sdp}
        await self.send(answer if offer_id is None else {**answer, "offer_id": offer_id})

    async def close(self) -> None:
        self.leaving = True
        if self.watcher is not None:
            self.watcher.cancel()
        with contextlib.suppress(Exception):
            await self.send({"type": "leave"})
        for pc in (self.pub, self.sub):
            if pc is not None:
                await seams.close(pc)
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()


async def watch_lag(every: float = 1.0, warn_at: float = 0.4) -> None:
    """Log when this process's event loop runs late: ICE consent checks are answered from this loop, and a
    peer that answers none within 0.5 s for 30 s loses its connection (the reason for `Peer.broken`)."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(every)
        late = loop.time() - before - every
        if late > warn_at:
            log.warning("bots: event loop %.1f s late", late)
