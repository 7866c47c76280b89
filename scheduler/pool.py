"""The independent parts of a county solved in worker processes, so that a solve uses both cores of a small
county server (County-L: 8 parts).

Deterministic: each part is solved alone, in whichever worker, from the same input with the same fixed
budgets, and the results are taken in part order, never in the order they complete. The workers are forked
from a fork server (not from the server process, whose threads a fork would copy half-way) and kept for the
next solve: importing OR-Tools costs a worker about a second, paid once. Each builds the county's index once
per solve.

Cancel (a coordinator's DELETE, shutdown, SIGTERM through `SolveJobs.cancel_all`): the token is checked
every 0.1 s while the parts run; a cancelled solve kills the workers (a running CP-SAT search cannot be
reached across processes any faster) and the next solve starts fresh ones. A worker also exits as soon as
the server process has ended, however it ended (`core.orphans.die_with`). If the pool breaks under a solve
that was not cancelled (a worker killed, or another solve's cancel), `scheduler.solver` solves the parts in
its own thread instead. As with any fork-server pool, a worker imports the parent's main script: a script
that solves needs the `if __name__ == "__main__":` guard (`sanke`, `python -m …` and pytest have it).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from core.orphans import die_with
from scheduler.cancel import Cancelled
from scheduler.candidates import CountyIndex, DemandOptions
from scheduler.county import County

if TYPE_CHECKING:
    from scheduler.cancel import CancelToken
    from scheduler.solver import PartResult, SolveOptions

POLL = 0.1
"""Seconds between looks at the cancel token while the parts run."""

_pool: tuple[int, ProcessPoolExecutor] | None = None
_lock = threading.Lock()
_cache: tuple[str, CountyIndex, list[list[DemandOptions]]] | None = None
"""In a worker: the county index and parts of the solve it last worked on."""


def _start_worker(parent: int) -> None:
    die_with(parent)
    import scheduler.part  # noqa: F401  (OR-Tools, once per worker)


def _index(key: str, county: County) -> tuple[CountyIndex, list[list[DemandOptions]]]:
    """In a worker: the index and parts of the solve `key`, built on its first call."""
    from scheduler.solver import _parts

    global _cache
    if _cache is None or _cache[0] != key:
        index = CountyIndex(county)
        _cache = (key, index, _parts(index.options))
    return _cache[1], _cache[2]


def _prepare(key: str, county: County) -> None:
    _index(key, county)


def _work(key: str, county: County, number: int, options: SolveOptions, keep: set) -> PartResult:
    """In a worker: part `number` of `county` (parts numbered as `scheduler.solver._parts` orders them)."""
    from scheduler.part import solve_part

    index, parts = _index(key, county)
    return solve_part(index, parts[number], options, keep)


def _workers(options: SolveOptions) -> int:
    return max(1, min(options.processes, os.cpu_count() or 1))


def prepare(county: County, options: SolveOptions) -> str:
    """Start the workers and have them index `county` now, while the caller indexes it too; returns the key
    to pass to `solve_parts`. Otherwise a fresh pool's workers import OR-Tools, then build their index, only
    after the caller's index and the parts are ready: about 3 s of a County-L solve's 30 on 2 cores. A worker
    that took no `prepare` task indexes at its first part; the result is the same either way."""
    key = secrets.token_hex(8)
    pool = _get_pool(_workers(options))
    try:
        for _ in range(_workers(options)):
            pool.submit(_prepare, key, county)
    except BrokenProcessPool:   # `solve_parts` starts a fresh pool
        _discard(pool)
    return key


def _get_pool(workers: int) -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is not None and _pool[0] != workers:
            _discard(_pool[1])
            _pool = None
        if _pool is None:
            ctx = multiprocessing.get_context("forkserver")
            _pool = (workers, ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_start_worker,
                                                  initargs=(os.getpid(),)))
        return _pool[1]


def _discard(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now (a running part cannot be cancelled through the pool) and forget the pool."""
    global _pool
    with _lock:
        if _pool is not None and _pool[1] is pool:
            _pool = None
    for proc in list((getattr(pool, "_processes", None) or {}).values()):  # CPython < 3.14: no terminate_workers()
        with contextlib.suppress(Exception):
            proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def solve_parts(
    county: County, parts: int, options: SolveOptions, keep: set,
    progress: Callable[[int, int], None] | None = None, cancel: CancelToken | None = None, key: str | None = None,
) -> list[PartResult]:
    """Every part's result, in part order; `progress(done, parts)` as each part completes; `key` from
    `prepare` if it was called for this solve."""
    pool = _get_pool(_workers(options))
    key = key or secrets.token_hex(8)
    futures: list[Future[PartResult]] = []
    try:
        futures = [pool.submit(_work, key, county, i, options, keep) for i in range(parts)]
        pending = set(futures)
        while pending:
            if cancel is not None and cancel.cancelled:
                _discard(pool)
                raise Cancelled()
            finished, pending = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
            for f in finished:
                f.result()   # a worker's exception is raised here, in this thread
            if finished and progress is not None:
                progress(parts - len(pending), parts)
    except BrokenProcessPool:   # a worker died (killed, or another solve's cancel): the caller solves here
        _discard(pool)
        if cancel is not None:
            cancel.check()
        raise
    return [f.result() for f in futures]
