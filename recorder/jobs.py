"""The queue of composite jobs: one lesson at a time, in a child process, with progress for the page.

One at a time, in a niced process of its own, because the composite is the heavy part of a node's day
and the live path (the SFU in the server process) must keep its CPU and its GIL. A job's state lives in
memory and is rebuilt from the files after a restart (an MP4 beside the index means done; a finalised
recording without one is queued again).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from recorder.composite import MP4_NAME, CompositeSettings
from recorder.index import INDEX_NAME, load_index

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parent.parent
NICE = 10

JobState = Literal["queued", "running", "done", "failed"]


@dataclass(slots=True)
class CompositeJob:
    recording_id: str
    directory: Path
    state: JobState = "queued"
    progress: float = 0.0
    error: str = ""
    queued_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def as_dict(self) -> dict:
        return {
            "recording_id": self.recording_id,
            "state": self.state,
            "progress": round(self.progress, 3),
            "error": self.error,
        }


class CompositeQueue:
    def __init__(
        self,
        settings: CompositeSettings | None = None,
        on_done: Callable[[CompositeJob], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings or CompositeSettings()
        self.on_done = on_done
        self.jobs: dict[str, CompositeJob] = {}
        self._queue: asyncio.Queue[CompositeJob] = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="composite-queue")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None

    def submit(self, directory: Path) -> CompositeJob:
        recording_id = directory.name
        job = self.jobs.get(recording_id)
        if job is not None and job.state in ("queued", "running"):
            return job
        job = CompositeJob(recording_id, directory)
        if (directory / MP4_NAME).is_file():
            job.state, job.progress = "done", 1.0
        else:
            self._queue.put_nowait(job)
        self.jobs[recording_id] = job
        return job

    def requeue_missing(self, root: Path) -> list[CompositeJob]:
        """After a restart: every finalised recording without its MP4 gets queued again."""
        if not root.is_dir():
            return []
        return [
            self.submit(d)
            for d in sorted(root.iterdir())
            if (d / INDEX_NAME).is_file() and not (d / MP4_NAME).is_file() and _needs_composite(d)
        ]

    def status(self, recording_id: str) -> CompositeJob | None:
        return self.jobs.get(recording_id)

    def position(self, recording_id: str) -> int:
        """How many jobs run or wait before this one (0 = running now)."""
        ahead = [j for j in self.jobs.values() if j.state in ("queued", "running")]
        ahead.sort(key=lambda j: (j.state != "running", j.queued_at))
        ids = [j.recording_id for j in ahead]
        return ids.index(recording_id) if recording_id in ids else -1

    async def join(self) -> None:
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._execute(job)
            finally:
                self._queue.task_done()

    async def _execute(self, job: CompositeJob) -> None:
        job.state = "running"
        try:
            await self._run_child(job)
            job.state, job.progress = "done", 1.0
        except asyncio.CancelledError:
            job.state = "queued"  # the next start queues it again
            raise
        except Exception as exc:
            log.warning("composite of %s failed: %s", job.recording_id, exc)
            job.state, job.error = "failed", str(exc)
        job.finished_at = time.time()
        if self.on_done is not None:
            try:
                await self.on_done(job)
            except Exception:
                log.exception("composite on_done for %s failed", job.recording_id)

    async def _run_child(self, job: CompositeJob) -> None:
        s = self.settings
        args = [
            "-m", "recorder.composite", str(job.directory), "--width", str(s.width), "--height", str(s.height),
            "--fps", str(s.fps), "--preset", s.preset, "--crf", str(s.crf),
        ]  # fmt: skip
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        child = await asyncio.create_subprocess_exec(
            sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
            preexec_fn=lambda: os.nice(NICE),
        )  # fmt: skip
        try:
            assert child.stdout is not None
            async for line in child.stdout:
                word, _, value = line.decode().partition(" ")
                if word == "progress":
                    job.progress = float(value)
            err = await child.stderr.read() if child.stderr else b""
            if await child.wait() != 0:
                lines = err.decode(errors="replace").strip().splitlines()
                said = [line[6:] for line in lines if line.startswith("error ")]
                raise RuntimeError((said or lines or [f"composite exited with {child.returncode}"])[-1])
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()


def _needs_composite(directory: Path) -> bool:
    """False for a recording that is the broadcast alone (its HLS segments serve as the lesson MP4)."""
    try:
        return not load_index(directory).lesson_is_hls
    except (OSError, ValueError):
        return True  # the composite job reports what is wrong with it
