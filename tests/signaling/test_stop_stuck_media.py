"""Stopping the server while a lesson records and its media worker no longer answers: the stop is bounded.

Each request to a media worker may wait 30 s for an answer. With the room's worker stuck, every connection's
close asked it to drop the participant and the library's cleanup context asked it to flush the recording,
one request after another: minutes, until a bound cut the stop short and the loop's closing closed the
context's two nested async generators at once ("athrow(): asynchronous generator is already running").
Now connections closing at shutdown leave the SFU to its one close, finalising has a deadline (what it
leaves, the next start finalises from the journal, as after a crash) and the context is not a generator.
(Here, not in tests/web: an async test after the Playwright tests there finds their event loop running.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path

import pytest

from media import worker_link, workers
from recorder.journal import read_status
from recorder.wiring import FINALISE_WITHIN
from tests.conftest import County, connect, seed_county, start_server, stop_server, user_token
from web.api.library import LIBRARY
from web.keys import DB, MEDIA


async def test_stop_with_a_stuck_media_worker_is_bounded_and_clean(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, runner = await start_server(tmp_path, with_media=True)
    sfu = server.app[MEDIA]
    stuck: list[int] = []
    reached: list[float] = []
    close_sfu = sfu.close

    async def close() -> None:  # the SFU's own close (10 s per stuck worker) is not what is measured here
        reached.append(time.perf_counter())
        for pid in stuck:
            os.kill(pid, signal.SIGCONT)
        await close_sfu()

    sfu.close = close
    try:
        county: County = await seed_county(server.app[DB])
        teacher = await connect(server, await user_token(server, "wang", county.room_id))
        await teacher.send({"type": "room.start", "id": "s"})
        await teacher.next("ok", id="s")
        recorder = server.app[LIBRARY].recorder
        async with asyncio.timeout(10):
            while (recording := recorder.recording_of(county.room_id)) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        worker = sfu.worker_of(county.room_id)
        os.kill(worker.process.pid, signal.SIGSTOP)  # the room's media worker stops answering
        stuck.append(worker.process.pid)
        caplog.set_level(logging.WARNING)
        began = time.perf_counter()
        await stop_server(runner, timeout=60)
        took = time.perf_counter() - began
    finally:
        for pid in stuck:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    assert reached, "the SFU was never closed"
    until_sfu = reached[0] - began
    print(f"\nstop: {until_sfu:.1f} s until the SFU's close, {took:.1f} s in all")
    assert until_sfu < FINALISE_WITHIN + 5, f"{until_sfu:.1f} s before the SFU's close"
    assert read_status(recording.directory) in ("recording", "finalising", "finalised")  # the journal finishes it
    assert not [r for r in caplog.records if "already running" in r.getMessage() or "athrow" in r.getMessage()]
    assert [r for r in caplog.records if "did not end within" in r.getMessage()]  # said, not silent


async def test_stuck_workers_are_stopped_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two media workers that no longer answer (stopped processes): the pool's close waits out one grace
    period for both and kills them, not one grace period per worker in turn (N × 10 s for a node's stop)."""
    monkeypatch.setattr(worker_link, "STOP_WITHIN", 3.0)
    pool = workers.WorkerPool(2)
    await pool.start()
    pids = [w.pid for w in pool.workers]
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        began = time.perf_counter()
        await pool.close()
        took = time.perf_counter() - began
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    print(f"\nclose with 2 stuck workers: {took:.1f} s (grace {worker_link.STOP_WITHIN} s each)")
    assert all(w.process.returncode is not None for w in pool.workers), "a stuck worker outlived the close"
    assert took < 1.6 * worker_link.STOP_WITHIN, f"{took:.1f} s: the stuck workers were waited for one after another"
