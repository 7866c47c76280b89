"""SFU worker processes: real aiortc bots publish into and receive from a worker over its Channel; rooms
spread over workers; a killed worker fails its pending calls with a code, is restarted, its rooms' lost
tracks and participants are named to signaling, and the other worker's room keeps forwarding."""

from __future__ import annotations

import asyncio
import os
import signal as signals

import pytest

from core.errors import SankeError
from loadtest.bots import Bot, DirectSignal, wait_for
from media.channel import ChannelClosed
from media.workers import WorkerPool


class ByRoom:
    """One MediaListener for the pool that hands each call to that room's DirectSignal."""

    def __init__(self, rooms: dict[str, DirectSignal]) -> None:
        self.rooms = rooms

    def __getattr__(self, name: str):
        async def call(room_id: str, *args) -> None:
            await getattr(self.rooms[room_id], name)(room_id, *args)

        return call


def _frames(bot: Bot, track_id: str) -> int:
    check = bot.video.get(track_id)
    return check.frames if check else 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_rooms_on_two_workers_forward_and_a_killed_worker_is_restarted(low_clip):
    pool = WorkerPool(2)
    await pool.start()
    rooms = {name: DirectSignal(pool, name) for name in ("room-a", "room-b")}
    pool.set_listener(ByRoom(rooms))  # type: ignore[arg-type]
    bots: list[Bot] = []
    try:
        for room_id, signal in rooms.items():
            host = signal.add(Bot(f"{room_id}-host", signal, clip=low_clip))
            guest = signal.add(Bot(f"{room_id}-guest", signal, subscribe_mode="count"))
            bots += [host, guest]
            await host.publish()
            assert await wait_for(lambda s=signal: len(s.published) == 1, 10), room_id
            await pool.set_subscriptions(room_id, guest.name, {f"{host.name}:0": "high"})
        a_guest, b_guest = bots[1], bots[3]
        assert await wait_for(lambda: _frames(a_guest, "room-a-host:0") >= 10, 15)
        assert await wait_for(lambda: _frames(b_guest, "room-b-host:0") >= 10, 15)

        worker_a, worker_b = pool.worker_of("room-a"), pool.worker_of("room-b")
        assert worker_a is not worker_b  # the second room went to the idle worker
        assert {worker_a.pid, worker_b.pid}.isdisjoint({os.getpid()})
        loads = await pool.refresh_load()
        assert sorted(x["consumers"] for x in loads) == [1, 1] and all(x["rooms"] == 1 for x in loads)
        text = await pool.metrics_text()  # /metrics: tracks from both workers, and each worker's gauges
        assert 'track="room-a-host:0"' in text and 'track="room-b-host:0"' in text
        for i in (0, 1):
            assert f'sanke_media_worker_consumers{{worker="{i}"' in text
            assert f'sanke_media_worker_loop_lag_seconds{{worker="{i}"' in text

        # a request in flight when its worker dies fails with a code instead of hanging
        pending = asyncio.ensure_future(pool.set_subscriptions("room-a", "late", {"room-a-host:0": "high"}))
        os.kill(worker_a.pid, signals.SIGKILL)
        with pytest.raises(SankeError) as err:
            await asyncio.wait_for(pending, 5)
        assert isinstance(err.value, ChannelClosed) and err.value.code == "media_unavailable"
        lost = rooms["room-a"].lost
        assert await wait_for(lambda: bool(lost), 5)  # signaling hears who was in the room and what it lost
        (participants, tracks), = lost
        assert {"room-a-host", "room-a-guest"} <= set(participants)
        assert [t.track_id for t in tracks] == ["room-a-host:0"] and not rooms["room-b"].lost
        assert pool.restarts == 1 and pool.worker_of("room-b") is worker_b
        # the other room never stopped
        before = _frames(b_guest, "room-b-host:0")
        assert await wait_for(lambda: _frames(b_guest, "room-b-host:0") >= before + 15, 10)

        # the room comes back on a worker (the replacement or the other one) when its clients publish again
        signal_a = rooms["room-a"]
        signal_a.published.clear()
        again = signal_a.add(Bot("room-a-host2", signal_a, clip=low_clip))
        viewer = signal_a.add(Bot("room-a-viewer", signal_a, subscribe_mode="count"))
        bots += [again, viewer]
        await again.publish()
        assert await wait_for(lambda: len(signal_a.published) == 1, 10)
        await pool.set_subscriptions("room-a", viewer.name, {"room-a-host2:0": "high"})
        assert await wait_for(lambda: _frames(viewer, "room-a-host2:0") >= 10, 15)
        assert await wait_for(lambda: len(pool.workers) == 2, 30)  # the replacement joins once it answers
        assert all(w.pid != worker_a.pid for w in pool.workers)
    finally:
        for bot in bots:
            await bot.close()
        pids = [w.pid for w in pool.workers]
        await pool.close()
    assert not any(_alive(pid) for pid in pids)  # no worker outlives the pool
