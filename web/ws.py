"""The /ws endpoint: one WebSocket per participant, handed to a signaling Session (or relayed to the
node that hosts the room)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSMsgType, web

from signaling.protocol import MAX_MESSAGE_BYTES
from signaling.relay import owner_address, relay
from signaling.session import JOIN_TIMEOUT, CloseCode, Session
from web.keys import HUB, NODES

log = logging.getLogger(__name__)
CLOSE_TIMEOUT = 2.0
# Every open /ws connection of this node (its session, and its socket for a relayed one), so that a
# shutdown can tell each one the server is restarting (1012) instead of leaving it to time out.
SOCKETS = web.AppKey("sockets", dict)


async def close_all(app: web.Application, code: int, reason: str, wait: float = CLOSE_TIMEOUT + 1) -> int:
    """Close every connection with `code` (after what is queued for it) and wait, at most `wait` s, until
    their handlers have returned. Returns how many there were."""
    sockets: dict[web.WebSocketResponse, Session] = app[SOCKETS]
    open_ = list(sockets.values())
    for session in open_:  # through its outbox (a relayed socket's too): queued replies go out first
        await session.close(code, reason)
    for _ in range(int(wait / 0.05)):  # their handlers return once the close handshake is done
        if not sockets:
            break
        await asyncio.sleep(0.05)
    return len(open_)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=MAX_MESSAGE_BYTES * 2)
    await ws.prepare(request)
    transport = request.transport

    async def close(code: int, reason: str) -> None:
        # A reader that stopped reading cannot take the close frame either: give up on it and cut the
        # TCP connection, so that neither the frame nor the unread backlog stays in this process.
        try:
            await asyncio.wait_for(ws.close(code=code, message=reason.encode()), CLOSE_TIMEOUT)
        except (TimeoutError, ConnectionError, RuntimeError):
            if transport is not None:
                transport.abort()

    session = Session(request.app[HUB], ws.send_str, close)
    watchdog = asyncio.get_running_loop().call_later(JOIN_TIMEOUT, _join_deadline, session)  # a timer, no task
    first = True
    sockets = request.app[SOCKETS]
    sockets[ws] = session
    try:
        async for msg in ws:
            if first and msg.type == WSMsgType.TEXT:
                first = False
                address = await owner_address(request.app[HUB], request.app[NODES], msg.data)
                if address is not None:
                    watchdog.cancel()
                    await relay(ws, msg.data, address)
                    return ws
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await session.handle(msg.data)
            elif msg.type == WSMsgType.ERROR:
                break
    except (ConnectionError, asyncio.CancelledError):
        raise
    except Exception:
        # Session.handle answers every failure itself; this is the last line (routing, the relay).
        log.exception("websocket handler failed")
        await session.close(1011, "internal error")
    finally:
        sockets.pop(ws, None)
        watchdog.cancel()
        await session.closed()
    return ws


def _join_deadline(session: Session) -> None:
    if session.participant is None:
        session.close_after(CloseCode.JOIN_TIMEOUT, "no join within the time allowed")
