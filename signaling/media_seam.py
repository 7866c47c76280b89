"""The seam between signaling and the SFU.

Signaling validates and authorises; the SFU only ever sees calls from here. Keeping it a Protocol lets
the room and signaling tests run without media and keeps aiortc out of `signaling` and `rooms`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Quality = Literal["high", "low", "off"]
PcRole = Literal["publisher", "subscriber"]


@dataclass(slots=True, frozen=True)
class PublishedTrackSpec:
    """What a publisher declares for a transceiver of its publisher connection."""

    mid: str
    kind: Literal["audio", "video"]
    source: Literal["camera", "microphone", "screen"]
    quality: Literal["high", "low"] = "high"


@dataclass(slots=True, frozen=True)
class MediaTrack:
    """A track the SFU receives, announced to the room."""

    track_id: str
    participant_id: str
    kind: Literal["audio", "video"]
    source: Literal["camera", "microphone", "screen"]
    quality: Literal["high", "low"]
    codec: str


class MediaListener(Protocol):
    """What the SFU tells signaling (implemented by signaling)."""

    async def on_track_published(self, room_id: str, track: MediaTrack) -> None: ...

    async def on_track_unpublished(self, room_id: str, track: MediaTrack) -> None: ...

    async def on_subscriber_offer(self, room_id: str, participant_id: str, sdp: str) -> None:
        """The SFU (re)negotiates the subscriber connection: send this offer to the client."""

    async def on_audio_levels(self, room_id: str, levels: dict[str, float]) -> None:
        """participant_id → level 0..1 of those speaking now; at most a few times a second."""

    async def on_track_stats(self, room_id: str, stats: list[dict]) -> None: ...


class MediaSeam(Protocol):
    """What signaling asks of the SFU."""

    def set_listener(self, listener: MediaListener) -> None: ...

    async def publish_offer(
        self, room_id: str, participant_id: str, sdp: str, tracks: list[PublishedTrackSpec]
    ) -> str:
        """Apply the client's publisher offer; return the answer SDP."""

    async def subscriber_answer(self, room_id: str, participant_id: str, sdp: str) -> None: ...

    async def ice_candidate(self, room_id: str, participant_id: str, target: PcRole, candidate: dict) -> None: ...

    async def set_subscriptions(self, room_id: str, participant_id: str, plan: dict[str, Quality]) -> None:
        """The whole set of tracks this participant should receive now (track_id → quality)."""

    async def leave(self, room_id: str, participant_id: str) -> None:
        """Close the participant's connections and unpublish its tracks."""

    async def close_room(self, room_id: str) -> None: ...

    async def close(self) -> None: ...
