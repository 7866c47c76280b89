"""The application's shared objects, as typed aiohttp AppKeys."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from core.bus import Bus
from core.contracts import Sfu
from core.db import Database
from core.nodes import NodeRegistry
from core.settings import Settings
from core.spool import Spool
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
STORAGE = web.AppKey("storage", Any)  # a core.storage.Storage (local directory or S3)
SPOOL = web.AppKey("spool", Spool)  # uploads into STORAGE with retries (core/spool.py)
NODES: web.AppKey[NodeRegistry | None] = web.AppKey("nodes")  # None on one node
