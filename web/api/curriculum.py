"""The library's running state on the app (`LIBRARY`) and its first use: the shipped curriculum is imported
into an empty library then. Apart from `web.api.library` so the catalogue, courseware and progress routes
use it without importing the library's routes (no import circle)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import func, select

from core.db import Database
from recorder import catalogue, knowledge, wiring
from recorder.models import KnowledgeFramework, TextbookNode
from web.keys import DB

LIBRARY = web.AppKey("library", wiring.Library)


async def ensure_curriculum(app: web.Application) -> None:
    """Import the shipped sample curriculum into an empty library, once, when the library is first used
    (not at start, so servers that never open the library do not pay for it). The import builds thousands
    of rows (about 200 ms of CPU): it runs in a thread on its own loop and engine, so the event loop that
    answers everyone else keeps answering meanwhile."""
    library = app[LIBRARY]
    if library.curriculum_ready:
        return
    async with library.curriculum_lock:
        if library.curriculum_ready:
            return
        await asyncio.to_thread(asyncio.run, _import_curriculum(app[DB].url))
        library.curriculum_ready = True


async def _import_curriculum(db_url: str) -> None:
    """The import itself, on the worker thread's loop with an engine of its own (engines are per loop)."""
    db = Database(db_url)
    try:
        async with db.session() as s:
            if not (await s.execute(select(func.count()).select_from(TextbookNode))).scalar_one():
                await catalogue.import_sample_textbooks(s)
            if not (await s.execute(select(func.count()).select_from(KnowledgeFramework))).scalar_one():
                await knowledge.import_samples(s)
            await s.commit()
    finally:
        await db.close()
