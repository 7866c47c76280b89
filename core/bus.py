"""The bus: room events (pub/sub), presence keys with a TTL, hashes and a lock.

Two implementations with one behaviour: in-process for `sanke serve` on one node, Redis for several
nodes (as LiveKit keeps its node registry and room → node map in Redis).

Redis can go away while the node runs. Then every bus call raises `BusUnavailable` (code `unavailable`)
at once instead of hanging, `available` says so (health, signaling), a prober pings until Redis answers,
and the one pub/sub connection reconnects and subscribes its channels again by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.errors import SankeError

Message = dict[str, Any]
log = logging.getLogger(__name__)
POOL_CONNECTIONS = 32  # commands take microseconds in Redis: a few dozen connections carry a join burst
PROBE_INTERVAL = 0.5  # seconds between pings while Redis is down: back within a second of its return
RETRY_AFTER = 2  # seconds a caller is told to wait before trying again
_LOST = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)


class BusUnavailable(SankeError):
    """The bus (Redis) cannot be reached now: the operation did not happen; try again shortly."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("unavailable", "the message bus (Redis) is unreachable; retry in a few seconds"
                         + (f" ({detail[:120]})" if detail else ""))
        self.detail = detail
        self.retry_after = RETRY_AFTER


@dataclass(slots=True, frozen=True)
class Envelope:
    """A published message, decoded once and shared by every local subscriber (treat `data` as
    read-only); `raw` is its JSON text, so a relay can forward it without encoding it again."""

    data: Message
    raw: str

    @classmethod
    def of(cls, raw: str) -> Envelope:
        return cls(json.loads(raw), raw)


class Subscription:
    """Messages of one channel, in order, for one listener. Iterate it; close it when done."""

    def __init__(self, channel: str, on_close: Any, limit: int | None = None) -> None:
        self.channel = channel
        self.limit = limit
        self.dropped = 0  # messages refused because the listener fell `limit` behind
        self._queue: asyncio.Queue[Envelope | None] = asyncio.Queue()
        self._on_close = on_close
        self._closed = False

    def _deliver(self, envelope: Envelope | None) -> None:
        if self.limit is not None and self._queue.qsize() >= self.limit:
            self.dropped += 1
            if self.dropped == 1:
                log.warning("subscription to %s is %d messages behind: dropping", self.channel, self.limit)
            return
        self._queue.put_nowait(envelope)

    async def envelope(self, timeout: float | None = None) -> Envelope:
        env = await asyncio.wait_for(self._queue.get(), timeout)
        if env is None:
            raise StopAsyncIteration
        return env

    async def get(self, timeout: float | None = None) -> Message:
        return (await self.envelope(timeout)).data

    def __aiter__(self) -> AsyncIterator[Envelope]:
        return self

    async def __anext__(self) -> Envelope:
        return await self.envelope()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)  # past the limit: the end is always delivered
            await self._on_close(self)


class Bus(ABC):
    @abstractmethod
    async def publish(self, channel: str, message: Message) -> None: ...

    @abstractmethod
    async def subscribe(self, channel: str, limit: int | None = None) -> Subscription:
        """`limit`: messages the listener may fall behind before further ones are dropped."""

    @abstractmethod
    async def set(self, key: str, value: str, ttl: float | None = None) -> None: ...

    @abstractmethod
    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool: ...

    @abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def hset(self, key: str, field: str, value: str) -> None: ...

    @abstractmethod
    async def hdel(self, key: str, field: str) -> None: ...

    @abstractmethod
    async def hgetall(self, key: str) -> dict[str, str]: ...

    @contextlib.asynccontextmanager
    async def lock(self, name: str, timeout: float = 10.0) -> AsyncIterator[None]:
        """A lock across nodes: taken with SET NX and a TTL, so a dead holder cannot keep it."""
        token = uuid.uuid4().hex
        key = f"lock:{name}"
        deadline = time.monotonic() + timeout
        while not await self.set_if_absent(key, token, ttl=timeout):
            if time.monotonic() > deadline:
                raise TimeoutError(f"lock {name} not acquired in {timeout}s")
            await asyncio.sleep(0.01)
        try:
            yield
        finally:
            if await self.get(key) == token:
                await self.delete(key)

    @property
    def available(self) -> bool:
        """False while the bus is known to be unreachable (every call would raise `BusUnavailable`)."""
        return True

    async def check(self) -> bool:
        """Whether the bus answers now (health): a round trip when it is thought up."""
        return True

    async def close(self) -> None:
        return None


class InProcessBus(Bus):
    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._keys: dict[str, tuple[str, float | None]] = {}
        self._hashes: dict[str, dict[str, str]] = defaultdict(dict)

    async def publish(self, channel: str, message: Message) -> None:
        # A JSON round trip keeps the in-process bus honest: what passes here passes Redis too.
        subs = self._subs.get(channel)
        if subs:
            envelope = Envelope.of(json.dumps(message, ensure_ascii=False))
            for sub in list(subs):
                sub._deliver(envelope)

    async def subscribe(self, channel: str, limit: int | None = None) -> Subscription:
        sub = Subscription(channel, self._unsubscribe, limit)
        self._subs[channel].add(sub)
        return sub

    async def _unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.channel)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.channel]

    def _live(self, key: str) -> str | None:
        item = self._keys.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            del self._keys[key]
            return None
        return value

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._keys[key] = (value, time.monotonic() + ttl if ttl else None)

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        if self._live(key) is not None:
            return False
        await self.set(key, value, ttl)
        return True

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def delete(self, key: str) -> None:
        self._keys.pop(key, None)

    async def hset(self, key: str, field: str, value: str) -> None:
        self._hashes[key][field] = value

    async def hdel(self, key: str, field: str) -> None:
        self._hashes.get(key, {}).pop(field, None)

    async def hgetall(self, key: str) -> dict[str, str]:
        return dict(self._hashes.get(key, {}))


class RedisBus(Bus):
    """One pub/sub connection per process, fanned out locally to every subscription."""

    def __init__(self, url: str, prefix: str = "sanke:") -> None:
        # Few, short retries: a call while Redis is gone fails within a second rather than after ten
        # backed-off attempts; the prober, not each caller, waits for Redis to return. A bounded pool whose
        # callers wait for a free connection: redis-py's default pool raises "Too many connections" past
        # 100 calls in flight (a hundred classrooms joining at once), which read as Redis lost.
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=POOL_CONNECTIONS, timeout=None, decode_responses=True,
            socket_connect_timeout=2.0, socket_timeout=5.0, retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
        )
        self._redis = aioredis.Redis.from_pool(pool)  # closed with the client
        self._prefix = prefix
        self._pubsub = self._redis.pubsub()
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._reader: asyncio.Task[None] | None = None
        self._sub_lock = asyncio.Lock()
        self._up = True
        self._prober: asyncio.Task[None] | None = None

    def _k(self, key: str) -> str:
        return self._prefix + key

    # availability ------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._up

    def _lost(self, exc: BaseException) -> BusUnavailable:
        if self._up:
            self._up = False
            log.warning("Redis unreachable (%s): bus calls answer 'unavailable' until it returns", exc)
        if self._prober is None or self._prober.done():
            self._prober = asyncio.create_task(self._probe(), name="redis-bus-prober")
        return BusUnavailable(str(exc))

    async def _probe(self) -> None:
        while not self._up:
            await asyncio.sleep(PROBE_INTERVAL)
            try:
                await self._redis.ping()
                async with self._sub_lock:
                    if self._subs:  # reconnect pub/sub (redis-py subscribes its channels again) before
                        await self._pubsub.ping()  # saying "up", so no event published after is missed
            except _LOST:
                continue
            self._up = True
            log.warning("Redis reachable again: the bus is back")

    @contextlib.asynccontextmanager
    async def _call(self) -> AsyncIterator[None]:
        """Every command: refused at once while Redis is known down, `BusUnavailable` when it fails."""
        if not self._up:
            raise BusUnavailable()
        try:
            yield
        except _LOST as exc:
            raise self._lost(exc) from exc

    async def check(self) -> bool:
        if self._up:
            try:
                async with self._call():
                    await asyncio.wait_for(self._redis.ping(), 1.0)
            except BusUnavailable:
                pass
        return self._up

    async def ping(self) -> None:
        """At start: raises `BusUnavailable` naming the cause when Redis does not answer."""
        try:
            await asyncio.wait_for(self._redis.ping(), 5.0)
        except _LOST as exc:
            raise BusUnavailable(str(exc) or type(exc).__name__) from exc

    # pub/sub -----------------------------------------------------------------------------------

    async def publish(self, channel: str, message: Message) -> None:
        async with self._call():
            await self._redis.publish(self._k(channel), json.dumps(message, ensure_ascii=False))

    async def subscribe(self, channel: str, limit: int | None = None) -> Subscription:
        sub = Subscription(channel, self._unsubscribe, limit)
        async with self._sub_lock:
            if channel not in self._subs:
                async with self._call():  # on failure no listener is left behind for a channel never subscribed
                    await self._pubsub.subscribe(self._k(channel))
            self._subs[channel].add(sub)
            if self._reader is None:
                self._reader = asyncio.create_task(self._read(), name="redis-bus-reader")
        return sub

    async def _unsubscribe(self, sub: Subscription) -> None:
        async with self._sub_lock:
            subs = self._subs.get(sub.channel)
            if subs is None:
                return
            subs.discard(sub)
            if not subs:
                del self._subs[sub.channel]
                with contextlib.suppress(Exception):
                    await self._pubsub.unsubscribe(self._k(sub.channel))

    async def _read(self) -> None:
        """The one reader. A lost connection marks the bus down; redis-py reconnects on the next read and
        subscribes every channel again (its `on_connect`), which is how room events flow after an outage."""
        plen = len(self._prefix)
        while True:
            try:
                if not self._up:
                    await asyncio.sleep(PROBE_INTERVAL / 2)
                    continue
                msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except _LOST as exc:
                self._lost(exc)
                continue
            except Exception:
                await asyncio.sleep(0.2)
                continue
            if msg is None or msg.get("type") != "message":
                continue
            subs = self._subs.get(msg["channel"][plen:])
            if subs:
                envelope = Envelope.of(msg["data"])
                for sub in list(subs):
                    sub._deliver(envelope)

    # keys and hashes ---------------------------------------------------------------------------

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        async with self._call():
            await self._redis.set(self._k(key), value, px=int(ttl * 1000) if ttl else None)

    async def set_if_absent(self, key: str, value: str, ttl: float | None = None) -> bool:
        async with self._call():
            return bool(await self._redis.set(self._k(key), value, nx=True, px=int(ttl * 1000) if ttl else None))

    async def get(self, key: str) -> str | None:
        async with self._call():
            return cast(str | None, await self._redis.get(self._k(key)))  # decode_responses=True: str

    async def delete(self, key: str) -> None:
        async with self._call():
            await self._redis.delete(self._k(key))

    async def hset(self, key: str, field: str, value: str) -> None:
        async with self._call():
            await self._redis.hset(self._k(key), field, value)

    async def hdel(self, key: str, field: str) -> None:
        async with self._call():
            await self._redis.hdel(self._k(key), field)

    async def hgetall(self, key: str) -> dict[str, str]:
        async with self._call():
            return cast(dict[str, str], await self._redis.hgetall(self._k(key)))

    async def close(self) -> None:
        for task in (self._reader, self._prober):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._redis.aclose()


def create_bus(redis_url: str | None, prefix: str = "sanke:") -> Bus:
    return RedisBus(redis_url, prefix) if redis_url else InProcessBus()
