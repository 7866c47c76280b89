"""The application's shared objects, as typed aiohttp AppKeys."""

from __future__ import annotations

from aiohttp import web

from core.bus import Bus
from core.contracts import Sfu
from core.db import Database
from core.nodes import NodeRegistry
from core.settings import Settings
from core.tokens import TokenSigner
from rooms.service import RoomService
from signaling.hub import SignalingHub

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
BUS = web.AppKey("bus", Bus)
TOKENS = web.AppKey("tokens", TokenSigner)
ROOMS = web.AppKey("rooms", RoomService)
HUB = web.AppKey("hub", SignalingHub)
MEDIA: web.AppKey[Sfu | None] = web.AppKey("media")  # None: a node without media
OPENAPI = web.AppKey("openapi", dict)
NODES: web.AppKey[NodeRegistry | None] = web.AppKey("nodes")  # None on one node
