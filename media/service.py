"""MediaService: the SFU behind `core.contracts.MediaSeam` (and the recorder's `FrameSource`), one Router
per room. A closed router is never handed out: closing pops it first, the next call makes a fresh one."""

from __future__ import annotations

import logging
from typing import Any

from core.contracts import (
    FrameSink,
    MediaListener,
    PcRole,
    PublishedTrackSpec,
    Quality,
    SinkHandle,
    TapEvent,
    TapHandle,
)
from media.router import Router
from media.stats import TrackStats, render_prometheus
from media.taps import open_local_tap

logger = logging.getLogger(__name__)


class MediaService:
    def __init__(self, settings: object | None = None) -> None:
        """`settings` (core.settings.Settings) is accepted for the app factory; the SFU needs none yet."""
        self._listener: MediaListener | None = None
        self.routers: dict[str, Router] = {}

    def set_listener(self, listener: MediaListener) -> None:
        self._listener = listener

    def router(self, room_id: str) -> Router:
        """The room's router, made if it has none (a worker's pipe ends need it before anyone joins)."""
        return self._router(room_id)

    def _router(self, room_id: str) -> Router:
        router = self.routers.get(room_id)
        if router is None:
            router = Router(room_id, lambda: self._listener)
            self.routers[room_id] = router
        return router

    async def publish_offer(
        self, room_id: str, participant_id: str, sdp: str, tracks: list[PublishedTrackSpec]
    ) -> str:
        return await self._router(room_id).publish_offer(participant_id, sdp, tracks)

    async def subscriber_answer(
        self, room_id: str, participant_id: str, sdp: str, offer_id: int | None = None
    ) -> None:
        router = self.routers.get(room_id)
        if router is None:
            raise KeyError(f"no media for room {room_id}")
        await router.subscriber_answer(participant_id, sdp, offer_id)

    async def ice_candidate(
        self, room_id: str, participant_id: str, target: PcRole, candidate: dict[str, Any]
    ) -> None:
        router = self.routers.get(room_id)
        if router is not None:
            await router.ice_candidate(participant_id, target, candidate)

    async def set_subscriptions(self, room_id: str, participant_id: str, plan: dict[str, Quality]) -> None:
        await self._router(room_id).set_subscriptions(participant_id, plan)

    async def leave(self, room_id: str, participant_id: str) -> None:
        router = self.routers.get(room_id)
        if router is None:
            return
        await router.leave(participant_id)
        if router.empty:
            await router.close()
            self.routers.pop(room_id, None)

    async def close_room(self, room_id: str) -> None:
        router = self.routers.pop(room_id, None)
        if router is not None:
            await router.close()

    async def close(self) -> None:
        for room_id in list(self.routers):
            await self.close_room(room_id)

    # -- beyond the seam ------------------------------------------------------------------------------

    def attach_sink(self, room_id: str, track_id: str, sink: FrameSink) -> SinkHandle:
        """Hand encoded frames of a track to an in-process consumer (the recorder), from the next
        keyframe on (one is requested now). Returns the subscription: its id and `close()`."""
        router = self.routers.get(room_id)
        if router is None:
            raise KeyError(f"no media for room {room_id}")
        return router.attach_sink(track_id, sink)

    async def open_tap(
        self, room_id: str, factory: str, config: dict[str, Any], on_event: TapEvent | None = None
    ) -> TapHandle:
        """A frame consumer (recording, HLS) in this process: `media.taps`."""
        return open_local_tap(self, room_id, factory, config, on_event)

    def request_keyframe(self, room_id: str, track_id: str) -> None:
        """A sink holder (HLS at each segment boundary) wants a keyframe: a throttled, coalesced PLI."""
        router = self.routers.get(room_id)
        if router is not None:
            router.request_keyframe(track_id)

    def audio_levels(self, room_id: str) -> dict[str, float]:
        router = self.routers.get(room_id)
        return router.audio_levels() if router else {}

    def track_stats(self) -> list[TrackStats]:
        out: list[TrackStats] = []
        for router in self.routers.values():
            out.extend(router.track_stats())
        return out

    def render_metrics(self) -> str:
        """Prometheus text for `/metrics`."""
        return render_prometheus(self.track_stats())

    async def metrics_text(self) -> str:
        return self.render_metrics()
