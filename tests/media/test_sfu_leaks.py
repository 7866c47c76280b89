"""Twenty joins and leaves, and closing every media object twice in every order, leave no peer
connection, task, thread or file descriptor behind."""

from __future__ import annotations

import asyncio
import gc
import os
import threading

import pytest
from aiortc import RTCPeerConnection

from core.contracts import PublishedTrackSpec
from core.errors import InvalidStateError
from loadtest.bots import Bot, DirectSignal, wait_for
from media.service import MediaService

ROOM = "leaks"


def _census() -> dict[str, int]:
    gc.collect()
    return {
        "peer_connections": sum(1 for o in gc.get_objects() if isinstance(o, RTCPeerConnection)),
        "tasks": len(asyncio.all_tasks()),
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": sum(1 for t in threading.enumerate() if not t.name.startswith(("asyncio_", "ThreadPool"))),
    }


async def _join_and_leave(service: MediaService, signal: DirectSignal, name: str, clip) -> None:
    bot = signal.add(Bot(name, signal, clip=clip, tone_hz=500, subscribe_mode="decode"))
    await bot.publish()
    await service.set_subscriptions(ROOM, name, {"host:0": "high", "host:1": "high"})
    assert await wait_for(lambda: "host:0" in bot.video and bot.video["host:0"].frames >= 3, 10), name
    await bot.close()
    await service.leave(ROOM, name)
    signal.bots.pop(name)


async def test_twenty_joins_and_leaves_leak_nothing(low_clip):
    service = MediaService()
    signal = DirectSignal(service, ROOM)
    host = signal.add(Bot("host", signal, clip=low_clip, tone_hz=440))
    await host.publish()
    assert await wait_for(lambda: len(signal.published) == 2, 5)
    try:
        await _join_and_leave(service, signal, "warmup", low_clip)  # executors, codecs, caches
        await asyncio.sleep(0.5)
        before = _census()
        for i in range(20):
            await _join_and_leave(service, signal, f"guest{i}", low_clip)
        for _ in range(30):  # closing finishes in background tasks: let them run out
            await asyncio.sleep(0.1)
            after = _census()
            if all(after[k] <= before[k] for k in before):
                break
        router = service.routers[ROOM]
        assert list(router.publishers) == ["host"] and not router.subscribers
        assert set(router.producers) == {"host:0", "host:1"}
        assert all(not p.consumers for p in router.producers.values())
        assert after["peer_connections"] <= before["peer_connections"], (before, after)
        assert after["tasks"] <= before["tasks"], (before, after)
        assert after["fds"] <= before["fds"], (before, after)
        assert after["threads"] <= before["threads"], (before, after)
    finally:
        await host.close()
        await service.close()
    assert not service.routers


async def _close_twice(obj) -> None:
    for _ in range(2):
        result = obj.close()
        if asyncio.iscoroutine(result):
            await result


ORDERS = {
    "router first": ("router", "publisher", "subscriber", "consumer", "producer"),
    "transport first": ("subscriber", "publisher", "consumer", "producer", "router"),
    "consumer first": ("consumer", "producer", "subscriber", "publisher", "router"),
    "producer first": ("producer", "consumer", "publisher", "subscriber", "router"),
}


async def _lesson_closed_in(order: tuple[str, ...], clip) -> None:
    """One publisher, one subscriber receiving its video; then every media object closed twice, in `order`."""
    service = MediaService()
    signal = DirectSignal(service, ROOM)
    host = signal.add(Bot("host", signal, clip=clip, tone_hz=440))
    guest = signal.add(Bot("guest", signal, subscribe_mode="count"))
    try:
        await host.publish()
        assert await wait_for(lambda: len(signal.published) == 2, 5)
        await service.set_subscriptions(ROOM, "guest", {"host:0": "high"})
        assert await wait_for(lambda: "host:0" in guest.video and guest.video["host:0"].frames >= 3, 10)
        router = service.routers[ROOM]
        consumer = router.consumer("guest", "host:0")
        objects = {
            "router": router,
            "publisher": router.publishers["host"],
            "subscriber": router.subscribers["guest"],
            "consumer": consumer,
            "producer": router.producers["host:0"],
        }
        for name in order:
            await _close_twice(objects[name])
            assert objects[name].closed, name
        assert all(o.closed for o in objects.values())
        assert consumer.producer_id is None and not objects["producer"].consumers  # the router's notices
        assert not router.producers and not router._fanout and not router._links
        # every entry point refuses a closed object with the typed error (a code signaling can send)
        for call in (
            lambda: service.publish_offer(ROOM, "host", "v=0", []),
            lambda: service.set_subscriptions(ROOM, "guest", {}),
            lambda: service.subscriber_answer(ROOM, "guest", "v=0"),
            lambda: objects["subscriber"].apply_answer("v=0"),
            lambda: objects["publisher"].apply_offer("v=0", {}),
        ):
            with pytest.raises(InvalidStateError) as err:
                await call()
            assert err.value.code == "invalid_state"
        with pytest.raises(InvalidStateError):
            objects["producer"].attach_sink(lambda frame: None)
        with pytest.raises(InvalidStateError):
            consumer.switch("host:1", "high")
    finally:
        await host.close()
        await guest.close()
        await service.close()
    assert not service.routers


async def test_closing_every_media_object_twice_in_every_order_leaks_nothing(low_clip):
    await _lesson_closed_in(ORDERS["router first"], low_clip)  # warm up codecs, executors, caches
    await asyncio.sleep(0.5)
    before = _census()
    for order in ORDERS.values():
        await _lesson_closed_in(order, low_clip)
    for _ in range(30):  # closing finishes in background tasks: let them run out
        await asyncio.sleep(0.1)
        after = _census()
        if all(after[k] <= before[k] for k in before):
            break
    assert after["peer_connections"] <= before["peer_connections"], (before, after)
    assert after["tasks"] <= before["tasks"], (before, after)
    assert after["fds"] <= before["fds"], (before, after)
    assert after["threads"] <= before["threads"], (before, after)


async def test_a_publish_racing_the_room_close_gets_the_typed_error_and_leaks_nothing(low_clip):
    service = MediaService()
    signal = DirectSignal(service, ROOM)
    host = signal.add(Bot("host", signal, clip=low_clip))
    late = RTCPeerConnection()
    try:
        await host.publish()
        assert await wait_for(lambda: len(signal.published) == 1, 5)
        late.addTransceiver("video", direction="sendonly")
        await late.setLocalDescription(await late.createOffer())
        spec = PublishedTrackSpec(mid="0", kind="video", source="camera")
        router = service.routers[ROOM]
        publishing = asyncio.ensure_future(service.publish_offer(ROOM, "late", late.localDescription.sdp, [spec]))
        await asyncio.sleep(0)  # the offer is inside the router, being applied
        assert "late" in router.publishers
        await service.close_room(ROOM)
        with pytest.raises(InvalidStateError) as err:
            await publishing
        assert err.value.code == "invalid_state"
        assert router.closed and not router.publishers and not router.producers
        assert ROOM not in service.routers
    finally:
        await host.close()
        await late.close()
        await service.close()
