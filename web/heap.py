"""The process's garbage-collector settings for serving: what start-up loaded stays out of the collector.

Start-up loads ~200k long-lived objects (aiortc, SQLAlchemy, pydantic, OR-Tools). With the default
settings every full collection re-scans them, and a thousand joins at once triggered enough collections
to spend about a third of the server's CPU in the collector. Frozen, they are never scanned; a larger young
generation makes collections rarer. Undone at cleanup, so that a test process that builds many apps does not
keep each one's objects frozen for good.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator

from aiohttp import web

YOUNG_THRESHOLD = 20_000  # allocations between young collections (default 700): a join allocates thousands
OLDER_THRESHOLD = 20  # young collections per middle one, and middle ones per full one (default 10)


_DEFAULTS = gc.get_threshold()
_apps = 0  # apps running in this process (a test may run two nodes); the last to stop undoes the settings
_collected = False


async def settled_heap(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context, appended last: everything the app started is part of the frozen heap."""
    global _apps, _collected
    if not _collected:  # once per process: start-up's garbage is not frozen with it (a test process
        gc.collect()  # starting hundreds of apps would pay ~0.1 s for each)
        _collected = True
    _apps += 1
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDER_THRESHOLD)
    try:
        yield
    finally:
        _apps -= 1
        if _apps == 0:
            gc.set_threshold(*_DEFAULTS)
            gc.unfreeze()
