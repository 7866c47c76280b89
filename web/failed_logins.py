"""Failed logins in the audit log, in aggregate: one row per address per minute with a count.

A row per attempt would let an anonymous flood fill the audit log; counting in memory and writing one
row per (address, minute), updated as the count grows, keeps the evidence at a bounded cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from core.audit import AuditEntry
from core.db import Database

MAX_NAMES = 10  # usernames kept per row (a spray across thousands of names keeps only the first few)


@dataclass(slots=True)
class _Bucket:
    count: int = 0
    names: list[str] = field(default_factory=list)
    row_id: int | None = None
    written: int = 0


class FailedLogins:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._buckets: dict[tuple[str, int], _Bucket] = {}
        self._lock = asyncio.Lock()

    def note(self, address: str, username: str) -> None:
        """Count one failure (no await: safe to call for every refused attempt of a flood)."""
        b = self._buckets.setdefault((address, int(time.time() // 60)), _Bucket())
        b.count += 1
        if username not in b.names and len(b.names) < MAX_NAMES:
            b.names.append(username[:64])

    async def flush(self) -> None:
        """Write the counts that changed; rows of past minutes are dropped from memory once written."""
        async with self._lock:
            now_minute = int(time.time() // 60)
            dirty = [(k, b) for k, b in self._buckets.items() if b.count != b.written]
            if dirty:
                async with self._db.session() as s:
                    for (address, minute), b in dirty:
                        detail = json.dumps({"count": b.count, "usernames": b.names, "minute": minute * 60})
                        if b.row_id is None:
                            row = AuditEntry(actor=address[:120] or "?", action="login.failed",
                                             target=", ".join(b.names)[:200], detail=detail)
                            s.add(row)
                            await s.flush()
                            b.row_id = row.id
                        else:
                            row = await s.get(AuditEntry, b.row_id)
                            if row is not None:
                                row.detail, row.target = detail, ", ".join(b.names)[:200]
                        b.written = b.count
                    await s.commit()
            for key in [k for k, b in self._buckets.items() if k[1] < now_minute and b.count == b.written]:
                del self._buckets[key]


FAILED_LOGINS = web.AppKey("failed_logins", FailedLogins)


async def failed_logins_ctx(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context (after the database's): flushes every 2 s and once more at shutdown."""
    from web.keys import DB

    fl = FailedLogins(app[DB])
    app[FAILED_LOGINS] = fl

    async def loop() -> None:
        while True:
            await asyncio.sleep(2.0)
            with contextlib.suppress(Exception):
                await fl.flush()

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):
        await fl.flush()
