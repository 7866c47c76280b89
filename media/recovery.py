"""What a room sees when one of its transports fails underneath the SFU (ICE consent expired, DTLS ended).

aiortc closes a peer connection whose transports ended, and told no one: a failed publisher's tracks stayed
listed (a frozen tile for every subscriber), and a failed subscriber connection was replaced only at the next
plan change, with an offer the client could not apply to its old connection. Here a failed publisher transport
is closed, which unpublishes its tracks (the client publishes again on a new connection when it sees its own
tracks go), and a failed subscriber transport is replaced at once and offered again (a new SDP session,
which the client answers on a new connection). A client that starts a new publisher connection on its own
(its offer carries new ICE credentials, which aiortc cannot restart to) gets a new transport too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from aiortc.sdp import SessionDescription

from core.contracts import Quality
from media.publisher_transport import PublisherTransport
from media.subscriber_transport import SubscriberTransport

logger = logging.getLogger(__name__)

FAILED = ("failed", "closed")


def failed(transport: PublisherTransport | SubscriberTransport) -> bool:
    """Failed underneath: aiortc ended the connection that nobody here closed."""
    return not transport.closed and transport.pc.connectionState in FAILED


def _level(transport: PublisherTransport | SubscriberTransport) -> int:
    """A failure is worth a warning; a peer that closed its end (a client leaving or replacing it) is not."""
    return logging.WARNING if transport.pc.connectionState == "failed" else logging.INFO


def ice_ufrag(sdp: str) -> str | None:
    media = SessionDescription.parse(sdp).media
    return media[0].ice.usernameFragment if media and media[0].ice else None


def new_connection(transport: PublisherTransport, offer: str) -> bool:
    """Whether a publish offer comes from a new client connection (new ICE credentials) or the transport failed."""
    if failed(transport) or transport.closed:
        return True
    current = transport.pc.remoteDescription
    return current is not None and ice_ufrag(current.sdp) != ice_ufrag(offer)


class WatchedRoom(Protocol):
    """What the watch needs of its Router (a Protocol, so this module does not import the router that owns it)."""

    room_id: str

    @property
    def closed(self) -> bool: ...
    publishers: dict[str, PublisherTransport]
    subscribers: dict[str, SubscriberTransport]
    plans: dict[str, dict[str, Quality]]

    async def close_publisher(self, participant_id: str) -> None: ...

    async def apply_plan(self, participant_id: str) -> None: ...


class TransportWatch:
    """One per Router: watches each transport it makes and acts when one fails."""

    def __init__(self, router: WatchedRoom) -> None:
        self._router = router
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def publisher(self, participant_id: str, transport: PublisherTransport) -> None:
        def changed() -> None:
            if failed(transport) and self._router.publishers.get(participant_id) is transport:
                logger.log(_level(transport), "room %s: publisher transport of %s %s: its tracks are unpublished",
                           self._router.room_id, participant_id, transport.pc.connectionState)
                self._spawn(lambda: self._router.close_publisher(participant_id))

        transport.pc.on("connectionstatechange", changed)

    def subscriber(self, participant_id: str, transport: SubscriberTransport) -> None:
        def changed() -> None:
            if failed(transport) and self._router.subscribers.get(participant_id) is transport:
                logger.log(_level(transport), "room %s: subscriber transport of %s %s: offering a new one",
                           self._router.room_id, participant_id, transport.pc.connectionState)
                self._spawn(lambda: self._resubscribe(participant_id, transport))

        transport.pc.on("connectionstatechange", changed)

    async def _resubscribe(self, participant_id: str, transport: SubscriberTransport) -> None:
        await transport.close()
        router = self._router
        if router.subscribers.get(participant_id) is transport:
            del router.subscribers[participant_id]
        if not router.closed and participant_id in router.plans:
            await router.apply_plan(participant_id)  # a new transport, offered with what the plan wants

    def _spawn(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `work()` in a task of its own. The coroutine is made inside the task: a task cancelled before it
        starts (the router closing right after a failure) must not leave a coroutine that was never awaited."""
        if self._closed:
            return
        task = asyncio.ensure_future(self._guarded(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        try:
            await work()
        except Exception:
            logger.exception("room %s: recovering a failed transport failed", self._router.room_id)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
