"""The broadcast bench's two ends that are not viewers: the node (a child process, so its CPU is its own) and
a teacher that sends a pre-encoded H.264 clip (no encoder in the bench: the measured cost is the node's).

The node is the real application (`web.app.create_app` with the SFU), without the access log. It makes one
broadcast room, hands the bench the teacher's join token, 50 viewer join tokens and the signed playlist
URLs of the HLS viewers, then answers `hls` (the packager's own clocks) until told to `stop`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from web.demo.clip import pattern

VIDEO_CLOCK = 90000


def h264_clip(width: int, height: int, fps: int, bitrate: int, seconds: int) -> list[bytes]:
    """Annex-B access units of a numbered clip: Baseline, an IDR every second (so the clip loops cleanly)."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base, codec.framerate = Fraction(1, fps), Fraction(fps, 1)
    codec.bit_rate = bitrate
    codec.profile = "Baseline"
    codec.gop_size = fps
    codec.options = {"tune": "zerolatency", "preset": "veryfast", "keyint_min": str(fps), "scenecut": "0"}
    rng = np.random.default_rng(3)
    noise = rng.integers(60, 190, size=(height, width + 64), dtype=np.uint8)
    noise = np.repeat(np.repeat(noise[::8, ::8], 8, axis=0), 8, axis=1)[:height, : width + 64]
    out: list[bytes] = []
    for n in range(seconds * fps):
        frame = av.VideoFrame.from_ndarray(pattern(n, width, height, noise, n % 64), format="yuv420p")
        frame.pts = n
        out.extend(bytes(p) for p in codec.encode(frame))
    out.extend(bytes(p) for p in codec.encode(None))
    return out


class H264ClipTrack(MediaStreamTrack):
    """Sends the clip's access units at its frame rate, looping; aiortc packetizes them (FU-A/STAP-A)."""

    kind = "video"

    def __init__(self, units: list[bytes], fps: int) -> None:
        super().__init__()
        self.units, self.fps = units, fps
        self.sent = 0
        self._start: float | None = None

    def request_keyframe(self) -> None:
        """The clip has an IDR every second already: segments are cut on those."""

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self.sent / self.fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self.units[self.sent % len(self.units)])
        packet.pts = self.sent * VIDEO_CLOCK // self.fps
        packet.time_base = Fraction(1, VIDEO_CLOCK)
        self.sent += 1
        return packet


def serve(conn, data_dir: str, port: int, viewers: int, subscribers: int, workers: int = 0) -> None:
    """Child process entry: run the node until the parent says stop."""
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    asyncio.run(_serve(conn, Path(data_dir), port, viewers, subscribers, workers))


async def _serve(conn, data_dir: Path, port: int, viewers: int, subscribers: int, workers: int) -> None:
    from aiohttp import web

    from core.settings import Settings
    from rooms.roles import Role, RoomKind, grants_for
    from rooms.store import RoomSpec, create_room
    from web.api.hls import HLS, LINKS
    from web.app import create_app
    from web.keys import DB, TOKENS

    # By default the SFU in this process (media_workers=0), so forwarding and packaging are counted in one
    # process; with workers the bench reads the node's CPU and its workers' together.
    app = create_app(Settings(data_dir=data_dir, port=port, media_workers=workers), with_media=True)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=2048).start()
    async with app[DB].session() as s:
        room_id = (await create_room(s, RoomSpec(kind=RoomKind.BROADCAST, title="bench broadcast"))).id
        await s.commit()

    def token(identity: str, role: Role) -> str:
        grants = grants_for(role, RoomKind.BROADCAST, room_id)
        return app[TOKENS].issue_join(identity, identity, role.value, grants, ttl=600, meta={"side": ""})

    links = app[LINKS]
    conn.send({
        "room": room_id,
        "teacher": token("teacher", Role.HUB_TEACHER),
        "subscribers": [token(f"sub-{i}", Role.VIEWER) for i in range(subscribers)],
        "playlists": [
            f"/hls/{room_id}/live.m3u8?" + "&".join(f"{k}={v}" for k, v in links.viewer_query(room_id, f"v{i}").items())
            for i in range(viewers)
        ],
    })
    loop = asyncio.get_running_loop()
    try:
        while True:
            cmd = await loop.run_in_executor(None, conn.recv)
            if cmd == "hls":
                stream = app[HLS].stream(room_id)
                conn.send(None if stream is None else {
                    "build_s": stream.build_seconds, "sink_s": stream.sink_seconds, "segments": len(stream.segments),
                    "durations": [s.duration for s in stream.segments[-20:]], "codecs": stream.codecs,
                    "lag_s": time.time() - (stream.segments[-1].wall_start + stream.segments[-1].duration)
                    if stream.segments else None, "frames": stream.frames_in,
                    "transcode_s": app[HLS].status(room_id).get("transcode_cpu_s", 0.0),
                })  # fmt: skip
            elif cmd == "stop":
                break
    finally:
        await runner.cleanup()
        conn.send("stopped")
