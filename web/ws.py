"""The /ws endpoint: one WebSocket per participant, handed to a signaling Session."""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import WSMsgType, web

from signaling.protocol import MAX_MESSAGE_BYTES
from signaling.session import JOIN_TIMEOUT, CloseCode, Session
from web.keys import HUB


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=MAX_MESSAGE_BYTES * 2)
    await ws.prepare(request)

    async def send(message: dict) -> None:
        await ws.send_str(json.dumps(message, ensure_ascii=False))

    async def close(code: int, reason: str) -> None:
        await ws.close(code=code, message=reason.encode())

    session = Session(request.app[HUB], send, close)
    watchdog = asyncio.create_task(_join_watchdog(session))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await session.handle(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await session.handle(msg.data)
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog
        await session.closed()
    return ws


async def _join_watchdog(session: Session) -> None:
    await asyncio.sleep(JOIN_TIMEOUT)
    if session.participant is None:
        await session.close(CloseCode.JOIN_TIMEOUT, "no join within the time allowed")
