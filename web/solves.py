"""The timetable's solve jobs, made at the first solve instead of at every start.

`scheduler.jobs` imports CP-SAT, and OR-Tools' `cp_model` imports pandas: about 2 s of every `sanke serve`
start (20 s under load) and of every test server process, for a solve a coordinator starts a few times a
term. The first solve imports it in a thread (the event loop keeps serving); the scheduler package is left
as it is.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING

from core.db import Database

if TYPE_CHECKING:
    from scheduler.county import County
    from scheduler.jobs import SolveJob, SolveJobs


class Solves:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._jobs: SolveJobs | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def jobs(self) -> dict[str, SolveJob]:
        return self._jobs.jobs if self._jobs is not None else {}

    async def _ready(self) -> SolveJobs:
        async with self._lock:
            if self._jobs is None:
                if self._closed:
                    raise RuntimeError("solve jobs are closed")
                module = await asyncio.to_thread(importlib.import_module, "scheduler.jobs")
                self._jobs = module.SolveJobs(self._db)
            return self._jobs

    async def start(
        self, county_id: int, county: County, deterministic_time: float | None, replan: bool, by: str
    ) -> SolveJob:
        """Start a solve (`scheduler.jobs.SolveJobs.start`); `deterministic_time` None: the solver's default."""
        jobs = await self._ready()
        from scheduler.solver import SolveOptions  # loaded with the jobs

        options = SolveOptions() if deterministic_time is None else SolveOptions(deterministic_time=deterministic_time)
        return await jobs.start(county_id, county, options, replan, by)

    def get(self, job_id: str) -> SolveJob | None:
        return self._jobs.get(job_id) if self._jobs is not None else None

    async def cancel(self, job_id: str) -> bool:
        return await self._jobs.cancel(job_id) if self._jobs is not None else False

    async def cancel_all(self) -> int:
        return await self._jobs.cancel_all() if self._jobs is not None else 0

    async def close(self) -> None:
        async with self._lock:  # a first solve importing now is not left running behind the close
            self._closed = True
        if self._jobs is not None:
            await self._jobs.close()
