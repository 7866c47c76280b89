"""The upload spool: files that must reach the Storage stay on local disk until they have.

Why: a lesson cannot wait for the object store. The recorder writes locally and spools each file it closes:
an intent (key, path) is written atomically into `<data_dir>/spool/`, and one task uploads the intents in
order. A failed upload leaves the intent and the local file and is tried again after a backoff (doubling,
capped), so an object store that is down for minutes loses nothing; a crash leaves the intents on disk and
the next start uploads them. Deletes of superseded objects (a finished recording's segments) go through the
same queue, so they happen only after the uploads queued before them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from core.storage import Storage, StorageError

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SpoolStats:
    uploaded: int = 0
    uploaded_bytes: int = 0
    deleted: int = 0
    failures: int = 0
    missing: int = 0  # intents whose local file was gone (superseded before it could be uploaded)
    last_error: str = ""
    last_failure_at: float | None = None


class Spool:
    def __init__(
        self, storage: Storage, directory: Path, *, retry_initial: float = 0.5, retry_max: float = 5.0
    ) -> None:
        self.storage = storage
        self.directory = Path(directory)
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.stats = SpoolStats()
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    # -- queueing (any thread) -------------------------------------------------------------------------

    def put(self, key: str, path: Path) -> bool:
        """Queue `path` for upload as `key`; False when the store already holds it there (local store)."""
        if self.storage.local_path(key) == Path(path):
            return False
        self._intent({"op": "put", "key": key, "path": str(Path(path).resolve())})
        return True

    def delete_prefix(self, prefix: str) -> None:
        """Queue the removal of every object under `prefix` (after the uploads queued before it)."""
        if self.storage.remote:
            self._intent({"op": "delete_prefix", "key": prefix})

    def pending(self) -> int:
        return len(self._intents())

    def _intent(self, body: dict[str, str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            name = f"{time.time_ns():020d}-{next(self._seq):06d}"
        tmp = self.directory / f"{name}.tmp"
        tmp.write_text(json.dumps(body), encoding="utf-8")
        os.replace(tmp, self.directory / f"{name}.json")
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing: the intent waits on disk
                loop.call_soon_threadsafe(wake.set)

    def _intents(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*.json"))

    # -- uploading (the event loop) --------------------------------------------------------------------

    def start(self) -> None:
        """Start uploading; intents left by a previous process (a crash) go first, in their order."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._wake.set()
            self._task = asyncio.create_task(self._run(), name="storage-spool")

    async def close(self) -> None:
        """Stop; what is not uploaded stays spooled for the next start."""
        task, self._task = self._task, None
        self._loop = self._wake = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def drain(self, timeout: float) -> bool:
        """Wait until every intent is done (tests, shutdown); False if some are still waiting."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _run(self) -> None:
        assert self._wake is not None
        wake = self._wake
        delay = self.retry_initial
        while True:
            wake.clear()
            intents = self._intents()
            if not intents:
                await wake.wait()
                continue
            for intent in intents:
                if not await self._do(intent):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max)
                    break
                delay = self.retry_initial

    async def _do(self, intent: Path) -> bool:
        try:
            body = json.loads(intent.read_text(encoding="utf-8"))
            op, key = body["op"], body["key"]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("dropping unreadable spool intent %s: %s", intent.name, exc)
            intent.unlink(missing_ok=True)
            return True
        try:
            if op == "put":
                path = Path(body["path"])
                if not path.is_file():
                    self.stats.missing += 1
                    log.info("spool: %s is gone before upload (superseded)", path)
                else:
                    size = path.stat().st_size
                    await self.storage.put_file(key, path)
                    self.stats.uploaded += 1
                    self.stats.uploaded_bytes += size
            elif op == "delete_prefix":
                self.stats.deleted += await self.storage.delete_prefix(key)
        except (StorageError, OSError) as exc:
            self.stats.failures += 1
            self.stats.last_error = str(exc)
            self.stats.last_failure_at = time.time()
            if self.stats.failures <= 3 or self.stats.failures % 50 == 0:
                log.warning("spool: %s %s failed (kept locally, will retry): %s", op, key, exc)
            return False
        intent.unlink(missing_ok=True)
        return True
