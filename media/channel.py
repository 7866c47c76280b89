"""A Channel between the main process and an SFU worker process (mediasoup's `Channel`).

Frames are a 4-byte big-endian length and a msgpack map. A request is `{"id", "method", "data"}` and its
answer `{"id", "ok"}` or `{"id", "error": {code, message, field}}`; a notification is `{"event", "data"}`.
The requester keeps a pending map by id; when the channel closes (the worker died or was stopped) every
pending request fails with `ChannelClosed`, so no caller waits forever. Nothing that crosses is a closure
or a live object: only plain data (ids, SDP, plans).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack

from core.errors import SankeError

log = logging.getLogger(__name__)

_LEN = struct.Struct("!I")
MAX_FRAME = 16 * 1024 * 1024

Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]
Notified = Callable[[str, dict[str, Any]], Awaitable[None]]


class ChannelClosed(SankeError):
    """The other end is gone: the request was not (or not fully) served."""

    def __init__(self, message: str = "the media worker is gone") -> None:
        super().__init__("media_unavailable", message)


class Channel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str = "channel") -> None:
        self._reader = reader
        self._writer = writer
        self.name = name
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._closed = False
        self._write_lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    async def _write(self, frame: dict[str, Any]) -> None:
        if self._closed:
            raise ChannelClosed(f"{self.name} is closed")
        body = msgpack.packb(frame, use_bin_type=True)
        async with self._write_lock:
            self._writer.write(_LEN.pack(len(body)) + body)
            try:
                await self._writer.drain()
            except (ConnectionError, RuntimeError) as e:
                self.close()
                raise ChannelClosed(f"{self.name}: {e}") from e

    async def request(self, method: str, data: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
        """Ask the other end; its answer, its `SankeError`, or `ChannelClosed` if it goes away meanwhile."""
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._write({"id": request_id, "method": method, "data": data or {}})
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request_id, None)

    async def notify(self, event: str, data: dict[str, Any]) -> None:
        await self._write({"event": event, "data": data})

    async def run(self, handler: Handler | None = None, notified: Notified | None = None) -> None:
        """Read frames until the other end closes: serve requests (each in its own task, so a slow SDP
        negotiation does not hold up the rest), resolve answers, pass notifications on.

        Notifications are handled in order by a task of their own, never by the reader: a handler that
        calls back over this channel (a track published → signaling applies plans → a request to the same
        worker) would otherwise wait for an answer only the reader it blocks can read."""
        tasks: set[asyncio.Task[None]] = set()
        events: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        dispatcher = asyncio.get_running_loop().create_task(self._dispatch(events, notified)) if notified else None
        try:
            while True:
                try:
                    size = _LEN.unpack(await self._reader.readexactly(_LEN.size))[0]
                    if size > MAX_FRAME:
                        raise ValueError(f"frame of {size} bytes")
                    frame = msgpack.unpackb(await self._reader.readexactly(size), raw=False)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                if "method" in frame and handler is not None:
                    task = asyncio.get_running_loop().create_task(self._serve(handler, frame))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                elif "event" in frame and dispatcher is not None:
                    events.put_nowait((frame["event"], frame.get("data") or {}))
                elif "id" in frame:
                    self._answer(frame)
        finally:
            self.close()
            for task in list(tasks):
                task.cancel()
            for task in list(tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if dispatcher is not None:  # what arrived before the end is still handled (tracks unpublished)
                events.put_nowait(None)
                with contextlib.suppress(asyncio.CancelledError):
                    await dispatcher

    async def _dispatch(
        self, events: asyncio.Queue[tuple[str, dict[str, Any]] | None], notified: Notified | None
    ) -> None:
        assert notified is not None
        while (item := await events.get()) is not None:
            event, data = item
            try:
                await notified(event, data)
            except Exception:
                log.exception("%s: notification %s failed", self.name, event)

    def _answer(self, frame: dict[str, Any]) -> None:
        future = self._pending.get(frame["id"])
        if future is None or future.done():
            return
        if "error" in frame:
            e = frame["error"]
            future.set_exception(SankeError(e.get("code", "media_error"), e.get("message", ""), e.get("field")))
        else:
            future.set_result(frame.get("ok"))

    async def _serve(self, handler: Handler, frame: dict[str, Any]) -> None:
        request_id = frame["id"]
        try:
            result = await handler(frame["method"], frame.get("data") or {})
            answer: dict[str, Any] = {"id": request_id, "ok": result}
        except asyncio.CancelledError:
            raise
        except SankeError as e:
            answer = {"id": request_id, "error": e.as_dict()}
        except KeyError as e:
            answer = {"id": request_id, "error": {"code": "not_found", "message": str(e.args[0] if e.args else e)}}
        except ValueError as e:  # aiortc's answer to a bad SDP
            answer = {"id": request_id, "error": {"code": "invalid_sdp", "message": str(e), "field": "sdp"}}
        except Exception as e:
            log.exception("%s: %s failed", self.name, frame.get("method"))
            answer = {"id": request_id, "error": {"code": "media_error", "message": type(e).__name__}}
        with contextlib.suppress(ChannelClosed):
            await self._write(answer)

    def close(self) -> None:
        """Close once; every pending request fails with `ChannelClosed`."""
        if self._closed:
            return
        self._closed = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ChannelClosed(f"{self.name} closed before answering"))
        self._pending.clear()
        with contextlib.suppress(Exception):
            self._writer.close()
