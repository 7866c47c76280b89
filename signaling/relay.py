"""Routing a connection to its room's node: a room lives on one node, so a WebSocket that lands
elsewhere is relayed there frame by frame (the client never knows)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp
from aiohttp import web

from core.nodes import NodeRegistry
from core.tokens import TokenError
from signaling.hub import SignalingHub
from signaling.protocol import MAX_DEPTH, MAX_MESSAGE_BYTES, nesting_depth


async def owner_address(hub: SignalingHub, nodes: NodeRegistry | None, first: str) -> str | None:
    """The address of another live node hosting the room this first message joins, or None."""
    if nodes is None or len(first) > MAX_MESSAGE_BYTES or nesting_depth(first) > MAX_DEPTH:
        return None  # the session refuses it with its code
    try:
        msg = json.loads(first)
    except (ValueError, RecursionError):
        return None
    if not isinstance(msg, dict):
        return None
    room: object = None
    if msg.get("type") == "join" and isinstance(msg.get("token"), str):
        try:
            room = hub.tokens.verify_join(msg["token"]).grants.room
        except TokenError:
            return None
    elif msg.get("type") == "resume":
        room = msg.get("room")
    if not isinstance(room, str) or hub.rooms.get(room) is not None:
        return None
    owner = await hub.rooms.bus.get(f"room-node:{room}")
    if owner is None or owner == nodes.node_id:
        return None
    return await nodes.address_of(owner)


async def relay(client: web.WebSocketResponse, first: str, address: str) -> None:
    """Pipe frames both ways between the client and the owner node until either side closes."""
    url = address.replace("http://", "ws://").replace("https://", "wss://") + "/ws"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, heartbeat=10.0) as upstream:
        await upstream.send_str(first)

        async def down() -> None:
            async for msg in upstream:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await client.send_str(msg.data)
            await client.close(code=upstream.close_code or 1000, message=b"relayed")

        async def up() -> None:
            async for msg in client:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await upstream.send_str(msg.data)
            await upstream.close()

        tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await t
