"""The recording service of a node: follows live rooms, records their tracks, marks their events, and
hands each finished recording on (to the library and the composite queue).

It learns about rooms from the room events on the bus (`core.bus`; the events are plain dicts) and gets
media from the SFU through `FrameSource.attach_sink` (a subscription handle per track, closed when the
track or the lesson ends), so it imports neither `rooms` nor `media.service`.
Joining the room as the visible "录制中" participant is left to `RoomSeat`, which the web layer provides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.bus import Bus, Subscription
from core.contracts import FrameSource, SinkHandle
from recorder.archive import Archive
from recorder.finalise import finalise, recover
from recorder.index import RecordingIndex
from recorder.recording import Recording, TrackInfo

log = logging.getLogger(__name__)

RECORDER_IDENTITY = "recorder"
RECORDER_NAME = "录制中"
RECORDED_KINDS = ("delivery", "broadcast", "coteach")  # coteach only when its room asks (record flag)


class RoomSeat(Protocol):
    """Puts the recorder into the room as a participant everyone sees, and takes it out again."""

    async def take(self, room_id: str) -> None: ...

    async def release(self, room_id: str) -> None: ...


Finished = Callable[[RecordingIndex, Path], Awaitable[None]]


@dataclass(slots=True)
class _Live:
    room_id: str
    recording: Recording
    participants: dict[str, dict[str, Any]]
    stage: set[str] = field(default_factory=set)
    sinks: dict[str, SinkHandle] = field(default_factory=dict)  # track → its frame subscription
    screens: set[str] = field(default_factory=set)


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
        self._watching: dict[str, asyncio.Task] = {}
        self.finished: list[RecordingIndex] = []

    async def start(self) -> list[RecordingIndex]:
        """Finalise what a previous process left unfinished (a crash), then hand those on."""
        self.root.mkdir(parents=True, exist_ok=True)
        recovered = await asyncio.to_thread(recover, self.root)
        for index in recovered:
            await self._finished(index, self.root / index.recording_id)
        return recovered

    async def close(self) -> None:
        """Shutting down (SIGTERM): finalise and file what is being recorded, so a graceful stop leaves no
        recording open; then stop following. One that cannot be finalised now is left to its journal, which
        the next start finalises (as after a crash)."""
        for room_id in list(self.live):
            try:
                await self.stop(room_id)
            except Exception:
                log.exception("recorder: finalising %s at shutdown failed; the next start will", room_id)
        for task in list(self._watching.values()):
            task.cancel()
        for task in list(self._watching.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watching.clear()
        for live in list(self.live.values()):
            self._detach_all(live)
            await asyncio.to_thread(live.recording.stop)
        self.live.clear()

    def watching(self, room_id: str) -> bool:
        return room_id in self._watching

    def recording_of(self, room_id: str) -> Recording | None:
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
            self._add_track(live, event.get("track") or {}, at)
        elif kind == "track.unpublished":
            self._remove_track(live, str(event.get("track_id", "")), at)
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
        if room_id in self.live:
            return
        safe_room = "".join(c if c.isalnum() or c in "-_" else "_" for c in room_id)[:40]
        recording_id = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{safe_room}-{secrets.token_hex(3)}"
        recording = Recording(
            self.root,
            recording_id,
            room_id,
            room_kind=str(snapshot.get("kind", "")),
            title=str(snapshot.get("title", "")),
            segment_seconds=self.segment_seconds,
            on_segment=self.archive.segment_closed if self.archive is not None else None,
        )
        recording.start()
        participants = {p["id"]: p for p in snapshot.get("participants", []) if p.get("id")}
        live = _Live(room_id, recording, participants, stage=set(snapshot.get("stage", [])))
        self.live[room_id] = live
        for pid in sorted(live.stage):
            recording.mark("stage_on", participant_id=pid, label=self._name(live, pid))
        for track in snapshot.get("tracks", []):
            self._add_track(live, track, time.monotonic())
        if self.seat is not None:
            try:
                await self.seat.take(room_id)
            except Exception:
                log.exception("recorder could not take its seat in %s", room_id)
        log.info("recording %s started for room %s", recording_id, room_id)

    def _name(self, live: _Live, pid: str) -> str:
        return str(live.participants.get(pid, {}).get("name", pid))

    def _add_track(self, live: _Live, track: dict[str, Any], at: float) -> None:
        track_id = str(track.get("track_id", ""))
        if not track_id or track_id in live.sinks or track.get("quality", "high") != "high":
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
        try:
            sink = live.recording.add_track(info)
            live.sinks[track_id] = self.media.attach_sink(live.room_id, track_id, sink)
        except (KeyError, ValueError) as exc:
            log.warning("recorder cannot record track %s of %s: %s", track_id, live.room_id, exc)
            return
        if info.source == "screen":
            live.screens.add(track_id)
            live.recording.mark("courseware_on", participant_id=pid, label=info.participant_name, at=at)

    def _remove_track(self, live: _Live, track_id: str, at: float) -> None:
        handle = live.sinks.pop(track_id, None)
        if handle is not None:
            handle.close()
            live.recording.end_track(track_id)
        if track_id in live.screens:
            live.screens.discard(track_id)
            live.recording.mark("courseware_off", at=at)

    def _detach_all(self, live: _Live) -> None:
        for handle in live.sinks.values():
            handle.close()
        live.sinks.clear()

    async def stop(self, room_id: str) -> RecordingIndex | None:
        """The lesson ended: stop, finalise into one file per track and the index, and hand it on."""
        live = self.live.pop(room_id, None)
        if live is None:
            return None
        self._detach_all(live)
        recording = live.recording
        await asyncio.to_thread(recording.stop)
        if self.seat is not None:
            try:
                await self.seat.release(room_id)
            except Exception:
                log.exception("recorder could not leave %s", room_id)
        index = await asyncio.to_thread(finalise, recording.directory)
        await self._finished(index, recording.directory)
        return index

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
