"""Solve jobs: the solver runs in a worker thread while the page polls its progress.

One `SolveJobs` per application (an aiohttp cleanup context opens it and `close()`s it at shutdown). A job
can be cancelled: `cancel()` stops CP-SAT inside its search (`CpSolver.stop_search`) and the solver
between parts, then waits for the thread, so no solver keeps a core busy after shutdown or SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field

from core.db import Database
from scheduler import store
from scheduler.cancel import Cancelled, CancelToken
from scheduler.county import County
from scheduler.replan import MoveReport, move_report
from scheduler.solver import SolveOptions, solve
from scheduler.timetable import Timetable

log = logging.getLogger(__name__)
KEEP_JOBS = 20
"""Finished solve jobs kept for their status page; older ones are forgotten."""
CANCEL_WAIT = 10.0
"""Seconds `cancel()` waits for the solver thread to notice before giving up on it."""


@dataclass
class SolveJob:
    id: str
    state: str = "running"
    done: int = 0
    parts: int = 0
    started: float = 0.0
    seconds: float = 0.0
    timetable_id: int | None = None
    error: str = ""
    quality: str = ""
    """"proven optimal" or "within X % of the bound" (CP-SAT's bound over all parts)."""
    objective: int | None = None
    bound: int | None = None
    gap_pct: float | None = None
    replanned_from: int | None = None
    moves: MoveReport | None = None
    token: CancelToken = field(default_factory=CancelToken, repr=False)
    task: asyncio.Task | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {
            "id": self.id, "state": self.state, "done": self.done, "parts": self.parts,
            "seconds": round(self.seconds, 2), "timetable_id": self.timetable_id, "error": self.error,
            "quality": self.quality, "objective": self.objective, "bound": self.bound, "gap_pct": self.gap_pct,
            "replanned_from": self.replanned_from, "moves": self.moves.to_json() if self.moves else None,
        }


class SolveJobs:
    """The solve jobs of one application."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.jobs: dict[str, SolveJob] = {}
        self._closed = False

    def get(self, job_id: str) -> SolveJob | None:
        job = self.jobs.get(job_id)
        if job is not None and job.state == "running":
            job.seconds = asyncio.get_running_loop().time() - job.started
        return job

    async def start(self, county_id: int, county: County, options: SolveOptions, replan: bool, by: str) -> SolveJob:
        """Start a solve of `county`; with `replan`, from the timetable the schools follow (see
        `store.replan_base`), matched by county ids, so only what the change forces moves."""
        if self._closed:
            raise RuntimeError("solve jobs are closed")
        previous: Timetable | None = None
        base_id = None
        if replan:
            async with self.db.session() as s:
                row = await store.replan_base(s, county_id)
                if row is not None:
                    previous, base_id = store.timetable_of(row), row.id
        loop = asyncio.get_running_loop()
        job = SolveJob(secrets.token_hex(6), started=loop.time(), replanned_from=base_id)
        for old in [k for k, j in self.jobs.items() if j.state != "running"][:-KEEP_JOBS]:
            del self.jobs[old]
        self.jobs[job.id] = job

        def progress(done: int, parts: int) -> None:
            job.done, job.parts = done, parts

        async def run() -> None:
            try:
                result = await asyncio.to_thread(solve, county, options, previous, progress, job.token)
                job.objective, job.bound = result.objective, result.bound
                job.gap_pct, job.quality = result.gap_pct, result.quality
                if previous is not None:
                    # indexing an L county to check every previous lesson takes about a second: not on the loop
                    job.moves = await asyncio.to_thread(move_report, county, previous, result.timetable,
                                                        result.least_moves)
                async with self.db.session() as s:
                    row = await store.save_timetable(s, county_id, result.timetable,
                                                     sum(d.per_week for d in county.demand), result.seconds, by)
                    await s.commit()
                job.timetable_id, job.state = row.id, "done"
            except Cancelled:
                job.state, job.error = "cancelled", "排课已取消 / solve cancelled"
            except Exception as exc:  # reported to the page; the server keeps running
                log.exception("solve job %s failed", job.id)
                job.state, job.error = "failed", str(exc)
            finally:
                job.seconds = loop.time() - job.started

        job.task = asyncio.create_task(run(), name=f"solve-{job.id}")
        return job

    async def cancel(self, job_id: str) -> bool:
        """Stop one running job and wait until its solver thread has returned; False if not running."""
        job = self.jobs.get(job_id)
        if job is None or job.task is None or job.task.done():
            return False
        job.token.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(job.task), CANCEL_WAIT)
        except TimeoutError:
            log.warning("solve job %s did not stop within %.0f s", job.id, CANCEL_WAIT)
            job.task.cancel()
        return True

    async def cancel_all(self) -> int:
        """Stop every running job (SIGTERM, shutdown); returns how many were running."""
        running = [j.id for j in self.jobs.values() if j.task is not None and not j.task.done()]
        results = await asyncio.gather(*(self.cancel(i) for i in running))
        return sum(results)

    async def close(self) -> None:
        self._closed = True
        await self.cancel_all()
