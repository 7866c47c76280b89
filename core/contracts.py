"""The contracts between signaling, the SFU and the recorder: plain data and small Protocols, nothing else.

A leaf module (it imports only the standard library), so `media/` and `signaling/` both depend on it and
not on each other, as LiveKit keeps its interfaces in a leaf package. Everything that crosses the seam is
data or an id: a track is a `track_id`, a frame sink is a `SinkHandle` (an id with `close()`), never a
live media object. That keeps the seam the same shape when the SFU moves into worker processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Quality = Literal["high", "low", "off"]
PcRole = Literal["publisher", "subscriber"]
MediaKind = Literal["audio", "video"]
Source = Literal["camera", "microphone", "screen"]
Layer = Literal["high", "low"]
QualityReason = Literal["bandwidth", "loss", "probe", "probe_failed"]


@dataclass(slots=True, frozen=True)
class PublishedTrackSpec:
    """What a publisher declares for a transceiver of its publisher connection."""

    mid: str
    kind: MediaKind
    source: Source
    quality: Layer = "high"


@dataclass(slots=True, frozen=True)
class MediaTrack:
    """A track the SFU receives, announced to the room."""

    track_id: str
    participant_id: str
    kind: MediaKind
    source: Source
    quality: Layer
    codec: str


@dataclass(slots=True, frozen=True)
class EncodedFrame:
    """A frame the SFU's jitter buffer assembled from RTP: still encoded, never decoded (the recorder's input)."""

    track_id: str
    kind: MediaKind
    codec: str  # "VP8", "H264" or "opus" (mime subtype as negotiated)
    data: bytes
    timestamp: int  # RTP timestamp, in units of clock_rate
    clock_rate: int  # 90000 for video, 48000 for Opus
    keyframe: bool
    arrival: float  # time.monotonic() when the last packet of the frame arrived


@dataclass(slots=True, frozen=True)
class QualityChange:
    """The SFU changed what a subscriber receives because of its network (`quality.changed`): the cap on
    its video (`off`: video paused, audio kept), why, the tracks it applies to and the feedback behind it."""

    layer: Quality
    reason: QualityReason
    tracks: tuple[str, ...]
    estimate_bps: int | None
    loss: float | None


FrameSink = Callable[[EncodedFrame], None]


class SinkHandle(Protocol):
    """A frame subscription: an id the SFU knows it by, and `close()` (idempotent) to end it."""

    @property
    def id(self) -> str: ...

    def close(self) -> None: ...


class FrameSource(Protocol):
    """The SFU as the recorder sees it: encoded frames of a track, from the next keyframe on."""

    def attach_sink(self, room_id: str, track_id: str, sink: FrameSink) -> SinkHandle: ...


TapEvent = Callable[[str, dict[str, Any]], None]  # (event, data) a tap reports; may be called from any thread


class TapHandle(Protocol):
    """A tap: an object that consumes a room's encoded frames where the producers are (inside the SFU worker
    when the SFU runs in worker processes), driven by plain-data calls. The recorder and HLS packaging are
    taps; only their events (a segment closed, a playlist written) come back, never media."""

    @property
    def id(self) -> str: ...

    async def call(self, method: str, data: dict[str, Any]) -> Any: ...

    async def close(self) -> None: ...


class TapHost(Protocol):
    """Opens a tap of a room: `factory` is `"module:callable"` (called with the frame source, the room id,
    `config` and an event callback, in the process that holds the room's producers)."""

    async def open_tap(
        self, room_id: str, factory: str, config: dict[str, Any], on_event: TapEvent | None = None
    ) -> TapHandle: ...


class Outbox(Protocol):
    """A participant's connection as the hub sees it (a signaling session): send it a message, or close it
    when another connection replaces it."""

    async def send(self, message: dict[str, Any]) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class MediaListener(Protocol):
    """What the SFU tells signaling (implemented by signaling)."""

    async def on_track_published(self, room_id: str, track: MediaTrack) -> None: ...

    async def on_track_unpublished(self, room_id: str, track: MediaTrack) -> None: ...

    async def on_subscriber_offer(self, room_id: str, participant_id: str, sdp: str, offer_id: int) -> None:
        """The SFU (re)negotiates the subscriber connection: send this offer to the client, with its id (the
        client's answer echoes it, so that a stale answer is told apart exactly)."""

    async def on_audio_levels(self, room_id: str, levels: dict[str, float]) -> None:
        """participant_id → level 0..1 of those speaking now; at most a few times a second."""

    async def on_track_stats(self, room_id: str, stats: list[dict[str, Any]]) -> None: ...

    async def on_media_lost(self, room_id: str, participants: list[str], tracks: list[MediaTrack]) -> None:
        """The room's media is gone (its SFU worker died and was restarted): these tracks are no longer
        received and every connection of these participants must be negotiated again."""

    async def on_quality_changed(self, room_id: str, participant_id: str, change: QualityChange) -> None:
        """Bandwidth-driven quality changed this subscriber's video: tell its client (`quality.changed`)."""


class MediaSeam(Protocol):
    """What signaling asks of the SFU."""

    def set_listener(self, listener: MediaListener) -> None: ...

    async def publish_offer(
        self, room_id: str, participant_id: str, sdp: str, tracks: list[PublishedTrackSpec]
    ) -> str:
        """Apply the client's publisher offer; return the answer SDP."""

    async def subscriber_answer(
        self, room_id: str, participant_id: str, sdp: str, offer_id: int | None = None
    ) -> None:
        """Apply the answer to offer `offer_id`; an answer to another offer raises `stale_answer` (field
        `offer_id`). Without an id (an older client) the answer must match the outstanding offer's m-lines."""

    async def ice_candidate(
        self, room_id: str, participant_id: str, target: PcRole, candidate: dict[str, Any]
    ) -> None: ...

    async def set_subscriptions(self, room_id: str, participant_id: str, plan: dict[str, Quality]) -> None:
        """The whole set of tracks this participant should receive now (track_id → quality)."""

    async def leave(self, room_id: str, participant_id: str) -> None:
        """Close the participant's connections and unpublish its tracks."""

    async def close_room(self, room_id: str) -> None: ...

    async def close(self) -> None: ...


class Sfu(MediaSeam, FrameSource, TapHost, Protocol):
    """The SFU a node runs: the seam signaling calls, the frame source and tap host the recorder uses, its
    metrics."""

    async def metrics_text(self) -> str:
        """Prometheus text for `/metrics` (per track; per worker when the SFU runs in worker processes)."""
