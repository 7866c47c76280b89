"""The recording service of a node: follows live rooms, records their tracks, marks their events, and
hands each finished recording on (to the library and the composite queue).

It learns about rooms from the room events on the bus (`core.bus`; the events are plain dicts). The frames
are written by a tap (`recorder.tap`) that the SFU opens where the room's producers are: in this process,
or inside the room's SFU worker, so no media crosses a process. The service drives the tap with plain-data
calls (add a track, end it, stop), writes the markers itself and finalises; it imports neither `rooms` nor
`media.service`.
Joining the room as the visible "录制中" participant is left to `RoomSeat`, which the web layer provides.
Tracks the room's HLS broadcast stores as sent (an H.264 teacher's camera and mic) are not written here:
the recording takes them from the broadcast's segments (`recorder.broadcast`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from core.bus import Bus, Subscription
from core.contracts import FrameSource, TapHandle, TapHost
from core.errors import SankeError
from media.taps import open_local_tap
from recorder import broadcast
from recorder.archive import Archive
from recorder.broadcast import Broadcasts
from recorder.finalise import finalise, recover
from recorder.index import Marker, MarkerType, RecordingIndex
from recorder.journal import Journal
from recorder.recording import TrackInfo
from recorder.tap import FACTORY, recording_config

log = logging.getLogger(__name__)

RECORDER_IDENTITY = "recorder"
RECORDER_NAME = "录制中"
RECORDED_KINDS = ("delivery", "broadcast", "coteach")  # coteach only when its room asks (record flag)


class RoomSeat(Protocol):
    """Puts the recorder into the room as a participant everyone sees, and takes it out again."""

    async def take(self, room_id: str) -> None: ...

    async def release(self, room_id: str) -> None: ...


Finished = Callable[[RecordingIndex, Path], Awaitable[None]]


class LiveRecording:
    """A recording in progress as the service sees it: its directory and journal, when it began, its markers
    (written here), and the tap that writes its frames where the producers are."""

    def __init__(self, directory: Path, started: float, tap: TapHandle) -> None:
        self.directory = directory
        self.recording_id = directory.name
        self.journal = Journal(directory)
        self.started = started  # time.monotonic(): the same clock in every process of the machine
        self.tap = tap

    def elapsed(self) -> float:
        return max(0.0, time.monotonic() - self.started)

    def mark(
        self, type: MarkerType, *, participant_id: str = "", label: str = "", at: float | None = None
    ) -> Marker:
        t = (at if at is not None else time.monotonic()) - self.started
        marker = Marker(t=round(max(0.0, t), 3), type=type, participant_id=participant_id, label=label)
        self.journal.append_marker(marker)
        return marker


@dataclass(slots=True)
class _Live:
    room_id: str
    recording: LiveRecording
    participants: dict[str, dict[str, Any]]
    stage: set[str] = field(default_factory=set)
    tracks: set[str] = field(default_factory=set)  # the tracks the tap records now
    screens: set[str] = field(default_factory=set)
    carried: dict[str, TrackInfo] = field(default_factory=dict)  # tracks ever left to the HLS broadcast
    carrying: dict[str, dict[str, Any]] = field(default_factory=dict)  # those it carries now (as published)


class RecorderService:
    def __init__(
        self,
        root: Path,
        bus: Bus,
        media: FrameSource | None,
        seat: RoomSeat | None = None,
        on_finished: Finished | None = None,
        segment_seconds: float = 2.0,
        archive: Archive | None = None,
    ) -> None:
        self.root = root
        self.archive = archive  # the node's Storage: segments, track files and index are spooled to it
        self.bus = bus
        self.media = media
        self.seat = seat
        self.on_finished = on_finished
        self.segment_seconds = segment_seconds
        self.live: dict[str, _Live] = {}
        self._beginning: set[str] = set()
        self._watching: dict[str, asyncio.Task] = {}
        self.finished: list[RecordingIndex] = []
        self.broadcasts: Broadcasts | None = None  # the node's HLS packager, when it has one

    async def start(self) -> list[RecordingIndex]:
        """Finalise what a previous process left unfinished (a crash), then hand those on."""
        self.root.mkdir(parents=True, exist_ok=True)
        recovered = await asyncio.to_thread(recover, self.root)
        for index in recovered:
            await self._finished(index, self.root / index.recording_id)
        return recovered

    async def close(self, within: float | None = None) -> None:
        """Shutting down (SIGTERM): finalise and file what is being recorded, so a graceful stop leaves no
        recording open; then stop following. One that cannot be finalised now (or `within` seconds: a media
        worker that does not answer makes each of its requests wait 30 s) is left to its journal, which the
        next start finalises (as after a crash)."""
        deadline = None if within is None else asyncio.get_running_loop().time() + within
        try:
            async with asyncio.timeout_at(deadline):
                for room_id in list(self.live):
                    try:
                        await self.stop(room_id)
                    except Exception:
                        log.exception("recorder: finalising %s at shutdown failed; the next start will", room_id)
        except TimeoutError:
            log.warning("recorder: finalising did not end within %g s; the next start finalises %s from the "
                        "journal", within, ", ".join(self.live) or "what is left")
        for task in list(self._watching.values()):
            task.cancel()
        for task in list(self._watching.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watching.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(None if deadline is None else deadline + 1.0):
                for live in list(self.live.values()):
                    try:
                        await live.recording.tap.close()
                    except Exception:
                        log.exception("recorder: stopping the tap of %s failed", live.room_id)
        self.live.clear()

    def watching(self, room_id: str) -> bool:
        return room_id in self._watching

    def recording_of(self, room_id: str) -> LiveRecording | None:
        live = self.live.get(room_id)
        return live.recording if live else None

    async def watch(self, room_id: str, channel: str, snapshot: dict[str, Any]) -> None:
        """Follow a room that is open on this node; recording starts when it goes live (if it records)."""
        if room_id in self._watching or not snapshot.get("record", True):
            return
        if snapshot.get("kind") not in RECORDED_KINDS:
            return
        subscription = await self.bus.subscribe(channel)
        self._watching[room_id] = asyncio.create_task(
            self._follow(room_id, subscription, snapshot), name=f"rec-{room_id}"
        )
        if snapshot.get("state") == "live":
            await self._begin(room_id, snapshot)

    async def _follow(self, room_id: str, subscription: Subscription, snapshot: dict[str, Any]) -> None:
        try:
            async for envelope in subscription:
                event = envelope.data  # shared with other subscribers: read only
                try:
                    if await self._on_event(room_id, event, snapshot):
                        break
                except Exception:
                    log.exception("recorder: event %s in room %s", event.get("type"), room_id)
        finally:
            self._watching.pop(room_id, None)
            await subscription.close()

    async def _on_event(self, room_id: str, event: dict[str, Any], snapshot: dict[str, Any]) -> bool:
        kind = event.get("type")
        live = self.live.get(room_id)
        if kind == "room.state" and event.get("state") == "live" and live is None:
            await self._begin(room_id, snapshot)
            return False
        if kind == "room.ended":
            await self.stop(room_id)
            return True
        if kind in ("participant.joined", "participant.reconnected"):
            p = event.get("participant") or {}
            snapshot.setdefault("participants", []).append(p)
            if live is not None and p.get("id"):
                live.participants[p["id"]] = p
            return False
        if live is None:
            if kind == "track.published":
                snapshot.setdefault("tracks", []).append(event.get("track") or {})
            elif kind == "track.unpublished":
                snapshot["tracks"] = [
                    t for t in snapshot.get("tracks", []) if t.get("track_id") != event.get("track_id")
                ]
            elif kind == "stage.changed":
                snapshot["stage"] = list(event.get("stage", []))
            elif kind == "participant.left":
                snapshot["stage"] = [p for p in snapshot.get("stage", []) if p != event.get("participant_id")]
            return False
        at = time.monotonic() - (time.time() - float(event.get("at", time.time())))
        if kind == "track.published":
            await self._add_track(live, event.get("track") or {}, at)
        elif kind == "track.unpublished":
            await self._remove_track(live, str(event.get("track_id", "")), at)
        elif kind == "hand.raised":
            pid = str(event.get("participant_id", ""))
            live.recording.mark("hand_raised", participant_id=pid, label=self._name(live, pid), at=at)
        elif kind == "quiz.pushed":  # 随堂测 on the timeline; the library shows its results beside it
            live.recording.mark("note", label=f"随堂测：{event.get('question', '')}"[:200], at=at)
        elif kind == "hand.lowered":
            pid = str(event.get("participant_id", ""))
            live.recording.mark("hand_lowered", participant_id=pid, label=self._name(live, pid), at=at)
        elif kind in ("stage.changed", "participant.left"):
            stage = set(event.get("stage", live.stage if kind == "participant.left" else []))
            if kind == "participant.left":
                stage.discard(str(event.get("participant_id", "")))
            for pid in sorted(stage - live.stage):
                live.recording.mark("stage_on", participant_id=pid, label=self._name(live, pid), at=at)
            for pid in sorted(live.stage - stage):
                live.recording.mark("stage_off", participant_id=pid, label=self._name(live, pid), at=at)
            live.stage = stage
        return False

    async def _begin(self, room_id: str, snapshot: dict[str, Any]) -> None:
        if room_id in self.live or room_id in self._beginning:
            return
        self._beginning.add(room_id)
        try:
            live = await self._open(room_id, snapshot)
        finally:
            self._beginning.discard(room_id)
        self.live[room_id] = live
        recording = live.recording
        for pid in sorted(live.stage):
            recording.mark("stage_on", participant_id=pid, label=self._name(live, pid))
        for track in snapshot.get("tracks", []):
            await self._add_track(live, track, time.monotonic())
        if self.seat is not None:
            try:
                await self.seat.take(room_id)
            except Exception:
                log.exception("recorder could not take its seat in %s", room_id)
        log.info("recording %s started for room %s", recording.recording_id, room_id)

    async def _open(self, room_id: str, snapshot: dict[str, Any]) -> _Live:
        """Open the recording's tap where the room's media is (the journal exists once this returns)."""
        safe_room = "".join(c if c.isalnum() or c in "-_" else "_" for c in room_id)[:40]
        recording_id = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{safe_room}-{secrets.token_hex(3)}"
        started = time.monotonic()
        config = recording_config(
            self.root, recording_id, room_kind=str(snapshot.get("kind", "")), title=str(snapshot.get("title", "")),
            segment_seconds=self.segment_seconds, started=started,
        )  # fmt: skip
        archive = self.archive

        def on_event(event: str, data: dict[str, Any]) -> None:
            if event == "segment" and archive is not None:
                archive.segment_closed(Path(data["path"]))

        host = cast(TapHost | None, self.media if hasattr(self.media, "open_tap") else None)
        if host is not None:
            tap = await host.open_tap(room_id, FACTORY, config, on_event)
        else:  # a bare frame source (or none): the tap runs here
            tap = open_local_tap(cast(FrameSource, self.media), room_id, FACTORY, config, on_event)
        participants = {p["id"]: p for p in snapshot.get("participants", []) if p.get("id")}
        recording = LiveRecording(self.root / recording_id, started, tap)
        return _Live(room_id, recording, participants, stage=set(snapshot.get("stage", [])))

    def _name(self, live: _Live, pid: str) -> str:
        return str(live.participants.get(pid, {}).get("name", pid))

    async def _add_track(self, live: _Live, track: dict[str, Any], at: float) -> None:
        track_id = str(track.get("track_id", ""))
        if not track_id or track_id in live.tracks or track_id in live.carrying or track.get("quality", "high") != "high":
            return
        pid = str(track.get("participant_id", ""))
        if pid == RECORDER_IDENTITY or self.media is None:
            return
        who = live.participants.get(pid, {})
        info = TrackInfo(
            track_id=track_id,
            participant_id=pid,
            kind="audio" if track.get("kind") == "audio" else "video",
            source=track.get("source", "camera"),
            codec=str(track.get("codec") or ("opus" if track.get("kind") == "audio" else "VP8")),
            participant_name=str(who.get("name", "")),
            participant_role=str(who.get("role", "")),
        )
        if self.broadcasts is not None and self.broadcasts.carries(live.room_id, track_id):
            live.carried[track_id] = info  # the broadcast stores it as sent: no second copy here
            live.carrying[track_id] = track
            prefix = self.broadcasts.prefix(live.room_id)
            if info.kind == "video" and prefix:
                root = self.archive.local_root if self.archive is not None else None
                await asyncio.to_thread(broadcast.note_pending, live.recording.directory, prefix, info, root)
            for other in [t for t in live.tracks if self.broadcasts.carries(live.room_id, t)]:
                await self._remove_track(live, other, at)  # the mic came first; the broadcast has it now
            return
        live.tracks.add(track_id)
        try:
            await live.recording.tap.call("add_track", asdict(info))
        except (KeyError, ValueError, SankeError) as exc:
            live.tracks.discard(track_id)
            log.warning("recorder cannot record track %s of %s: %s", track_id, live.room_id, exc)
            return
        if info.source == "screen":
            live.screens.add(track_id)
            live.recording.mark("courseware_on", participant_id=pid, label=info.participant_name, at=at)

    async def _remove_track(self, live: _Live, track_id: str, at: float) -> None:
        if live.carrying.pop(track_id, None) is not None and self.broadcasts is not None:
            # the camera went: the broadcast stops, and the mic it carried is recorded here from now on
            for other, track in list(live.carrying.items()):
                if not self.broadcasts.carries(live.room_id, other):
                    del live.carrying[other]
                    await self._add_track(live, track, at)
            return
        if track_id in live.tracks:
            live.tracks.discard(track_id)
            try:
                await live.recording.tap.call("end_track", {"track_id": track_id})
            except SankeError as exc:
                log.warning("recorder: ending track %s of %s: %s", track_id, live.room_id, exc)
        if track_id in live.screens:
            live.screens.discard(track_id)
            live.recording.mark("courseware_off", at=at)

    async def stop(self, room_id: str) -> RecordingIndex | None:
        """The lesson ended: stop, finalise into one file per track and the index, and hand it on."""
        live = self.live.pop(room_id, None)
        if live is None:
            return None
        recording = live.recording
        try:
            await recording.tap.call("stop", {})  # every segment flushed, the journal says "finalising"
        except SankeError as exc:  # its worker is gone for good: finalise what reached the disk
            log.warning("recorder: stopping %s: %s", recording.recording_id, exc)
        with contextlib.suppress(SankeError):
            await recording.tap.close()
        if self.seat is not None:
            try:
                await self.seat.release(room_id)
            except Exception:
                log.exception("recorder could not leave %s", room_id)
        await self._take_broadcast(live)
        index = await asyncio.to_thread(finalise, recording.directory)
        await self._finished(index, recording.directory)
        return index

    async def _take_broadcast(self, live: _Live) -> None:
        """Note the broadcast's segments in the recording, when it left the teacher's camera to them."""
        cameras = [i for i in live.carried.values() if i.kind == "video"]
        if self.broadcasts is None or not cameras:
            return
        try:
            stored = await self.broadcasts.finish(live.room_id)
        except Exception:
            log.exception("recorder: the broadcast of %s could not be described", live.room_id)
            return
        if stored is None:
            log.warning("recorder: the broadcast of %s stored nothing; its camera is not recorded", live.room_id)
            return
        local_root = self.archive.local_root if self.archive is not None else None
        await asyncio.to_thread(
            broadcast.save, live.recording.directory, stored, live.recording.started, cameras[0], local_root
        )

    async def _finished(self, index: RecordingIndex, directory: Path) -> None:
        self.finished.append(index)
        if self.archive is not None:
            try:
                self.archive.finalised(directory, index)
            except OSError:
                log.exception("spooling recording %s failed", index.recording_id)
        if self.on_finished is not None:
            try:
                await self.on_finished(index, directory)
            except Exception:
                log.exception("filing recording %s failed", index.recording_id)
