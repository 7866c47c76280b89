"""The benchmark's SFU process: a MediaService, N SFU worker processes (`--workers N`: the node's default
shape, subscribers spread over the workers by pipeToRouter), or aiortc's MediaRelay transcoding baseline,
behind a tiny HTTP API, so that its CPU time can be read from /proc, apart from the bots.

POST /publish {pid, sdp, tracks} → {sdp}; POST /subscribe {pid, plan} → {sdp, offer_id} (the SFU's offer);
POST /answer {pid, sdp, offer_id} (the id echoed); POST /leave {pid}; GET /stats → packets forwarded so far,
the SFU's pids and the answers taken (with the offer's id echoed or without) and refused;
GET /counts → per SFU process, what it sent each subscriber and its CPU time (loadtest.sfu_counts);
POST /stall: the API's CPU work (20 Argon2 password hashes and an upload parse) in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time

from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from core.uploads import decode_csv, parse_in_worker
from loadtest.sfu_counts import FACTORY, SfuCounts
from media.service import MediaService
from media.workers import WorkerPool
from signaling.media_seam import MediaTrack, PublishedTrackSpec
from web.passwords import hash_password_async

ROOM = "bench"


class ForwardHost:
    def __init__(self, workers: int = 0) -> None:
        self.workers = workers
        self.service: MediaService | WorkerPool = MediaService()
        self.service.set_listener(self)
        self._offers: dict[str, asyncio.Future[tuple[str, int]]] = {}
        self._counting: set[int] = set()  # worker pids with a counts tap open

    async def counts(self) -> list[dict]:
        if isinstance(self.service, MediaService):
            return [SfuCounts(self.service, ROOM, {}, None).counts()]
        out = []
        for worker in self.service.workers:
            tap_id = f"bench-counts-{worker.pid}"
            if worker.pid not in self._counting:
                body = {"tap_id": tap_id, "room_id": ROOM, "factory": FACTORY, "config": {}}
                await worker.channel.request("tap_open", body)
                self._counting.add(worker.pid)
            out.append(await worker.channel.request("tap_call", {"tap_id": tap_id, "method": "counts", "data": {}}))
        return out

    async def start(self) -> None:
        if self.workers > 0:
            pool = WorkerPool(self.workers, pipe_after=1)  # after the publisher, subscribers spread evenly
            await pool.start()
            self.service = pool
            pool.set_listener(self)

    def pids(self) -> list[int]:
        extra = [w.pid for w in self.service.workers] if isinstance(self.service, WorkerPool) else []
        return [os.getpid(), *extra]

    async def _stats(self) -> list[dict]:
        if isinstance(self.service, MediaService):
            return [{"f": s.packets_forwarded, "r": s.retransmitted} for s in self.service.track_stats()]
        out = []
        for worker in self.service.workers:
            for s in await worker.channel.request("track_stats"):
                out.append({"f": s["packets_forwarded"], "r": s["retransmitted"]})
        return out

    async def publish(self, pid: str, sdp: str, tracks: list[dict]) -> str:
        specs = [PublishedTrackSpec(**t) for t in tracks]
        return await self.service.publish_offer(ROOM, pid, sdp, specs)

    async def subscribe(self, pid: str, plan: dict[str, str]) -> tuple[str, int | None]:
        future = self._offers[pid] = asyncio.get_running_loop().create_future()
        await self.service.set_subscriptions(ROOM, pid, plan)  # type: ignore[arg-type]
        return await asyncio.wait_for(future, 30)  # a loaded machine: the offer can take long

    async def answer(self, pid: str, sdp: str, offer_id: int | None = None) -> None:
        await self.service.subscriber_answer(ROOM, pid, sdp, offer_id)

    async def leave(self, pid: str) -> None:
        await self.service.leave(ROOM, pid)

    async def forwarded(self) -> int:
        return sum(s["f"] for s in await self._stats())

    async def retransmitted(self) -> int:
        return sum(s["r"] for s in await self._stats())

    # MediaListener
    async def on_track_published(self, room_id: str, track: MediaTrack) -> None: ...

    async def on_track_unpublished(self, room_id: str, track: MediaTrack) -> None: ...

    async def on_subscriber_offer(self, room_id: str, participant_id: str, sdp: str, offer_id: int) -> None:
        future = self._offers.get(participant_id)
        if future is not None and not future.done():
            future.set_result((sdp, offer_id))

    async def on_audio_levels(self, room_id: str, levels: dict[str, float]) -> None: ...

    async def on_track_stats(self, room_id: str, stats: list[dict]) -> None: ...

    async def on_media_lost(self, room_id: str, participants: list[str], tracks: list[MediaTrack]) -> None: ...

    async def on_quality_changed(self, room_id: str, participant_id: str, change: object) -> None: ...

    async def close(self) -> None:
        await self.service.close()


class TranscodeHost:
    """The baseline: aiortc decodes the publisher's track once and encodes it again for every subscriber."""

    async def retransmitted(self) -> int:
        return 0  # aiortc's senders keep this to themselves

    async def counts(self) -> list[dict]:
        return []  # the baseline has no sinks

    async def start(self) -> None: ...

    def pids(self) -> list[int]:
        return [os.getpid()]

    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.tracks: dict[str, MediaStreamTrack] = {}
        self.pcs: dict[str, RTCPeerConnection] = {}

    async def publish(self, pid: str, sdp: str, tracks: list[dict]) -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy="max-bundle"))
        self.pcs[pid] = pc
        mids = {t["mid"]: t for t in tracks}

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            for t in pc.getTransceivers():
                if t.receiver.track is track:
                    self.tracks[f"{pid}:{t.mid}"] = track
                    if mids.get(t.mid, {}).get("kind") == "video":
                        # keep the decoder running even before the first subscriber
                        self.relay.subscribe(track)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    async def subscribe(self, pid: str, plan: dict[str, str]) -> tuple[str, int | None]:
        """The relay's offer (no id: aiortc numbers no offers)."""
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy="max-bundle"))
        self.pcs[pid] = pc
        for track_id in plan:
            track = self.tracks[track_id]
            pc.addTrack(self.relay.subscribe(track, buffered=False))
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp, None

    async def answer(self, pid: str, sdp: str, offer_id: int | None = None) -> None:
        await self.pcs[pid].setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def leave(self, pid: str) -> None:
        pc = self.pcs.pop(pid, None)
        if pc is not None:
            await pc.close()

    async def forwarded(self) -> int:
        total = 0
        for pc in list(self.pcs.values()):
            for sender in pc.getSenders():
                for stat in (await sender.getStats()).values():
                    if stat.type == "outbound-rtp":
                        total += stat.packetsSent
        return total

    async def close(self) -> None:
        for pid in list(self.pcs):
            await self.leave(pid)


def make_app(host: ForwardHost | TranscodeHost, profiler=None) -> web.Application:
    answers = {"echoed": 0, "without_id": 0, "refused": 0}  # what the bench's subscribers answered (GET /stats)

    async def publish(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"sdp": await host.publish(body["pid"], body["sdp"], body["tracks"])})

    async def subscribe(request: web.Request) -> web.Response:
        body = await request.json()
        sdp, offer_id = await host.subscribe(body["pid"], body["plan"])
        return web.json_response({"sdp": sdp, "offer_id": offer_id})

    async def answer(request: web.Request) -> web.Response:
        body = await request.json()
        offer_id = body.get("offer_id")
        try:
            await host.answer(body["pid"], body["sdp"], offer_id)
        except Exception:
            answers["refused"] += 1
            raise
        answers["echoed" if offer_id is not None else "without_id"] += 1
        return web.json_response({})

    async def leave(request: web.Request) -> web.Response:
        body = await request.json()
        await host.leave(body["pid"])
        return web.json_response({})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"forwarded": await host.forwarded(), "retransmitted": await host.retransmitted(),
                                  "pids": host.pids(), "answers": answers})

    async def counts(request: web.Request) -> web.Response:
        return web.json_response(await host.counts())

    async def stall(request: web.Request) -> web.Response:
        """What the node's API does besides media: 20 logins' Argon2 hashes and an upload's parse, at once."""
        t0 = time.monotonic()
        rows = "\n".join(f"学校{i},四年级,{i % 7},王老师{i}" for i in range(19_000)).encode()  # at the row limit
        await asyncio.gather(
            *(hash_password_async(f"password-{i}") for i in range(20)),
            parse_in_worker(decode_csv, rows, "county.csv", file="county.csv"),
        )
        return web.json_response({"seconds": time.monotonic() - t0})

    async def profile(request: web.Request) -> web.Response:
        """Profile only the measured window: POST {"on": true} … {"on": false}."""
        body = await request.json()
        if profiler is not None:
            profiler.enable() if body.get("on") else profiler.disable()
        return web.json_response({"profiling": profiler is not None})

    async def cleanup(app: web.Application):  # noqa: ANN202 - aiohttp cleanup context
        await host.start()
        yield
        await host.close()

    app = web.Application()
    app.router.add_post("/publish", publish)
    app.router.add_post("/subscribe", subscribe)
    app.router.add_post("/answer", answer)
    app.router.add_post("/leave", leave)
    app.router.add_get("/stats", stats)
    app.router.add_get("/counts", counts)
    app.router.add_post("/stall", stall)
    app.router.add_post("/profile", profile)
    app.cleanup_ctx.append(cleanup)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.sfu_host")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["forward", "transcode"], default="forward")
    parser.add_argument("--profile", help="write a cProfile of the SFU process to this file")
    parser.add_argument("--workers", type=int, default=0, help="SFU worker processes (0: in this process)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    host: ForwardHost | TranscodeHost = ForwardHost(args.workers) if args.mode == "forward" else TranscodeHost()
    profiler = None
    if args.profile:
        import cProfile
        import time

        profiler = cProfile.Profile(time.process_time)  # CPU time: the machine is shared
    try:
        with contextlib.suppress(KeyboardInterrupt):
            web.run_app(make_app(host, profiler), host="127.0.0.1", port=args.port, print=None, handle_signals=True)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
