"""Parts solved in worker processes: the same timetable as in one process, a cancel that stops them, and a
web app that does not import OR-Tools until a solve runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from scheduler import pool
from scheduler.cancel import Cancelled, CancelToken
from scheduler.solver import SolveOptions, solve
from scheduler.synthetic import Tier, generate

ROOT = Path(__file__).resolve().parents[2]
TWO_PARTS = Tier("P", 4, 6, busy=(0.5, 0.7))
"""Two clusters of two hubs: two independent parts."""
LONG_PARTS = Tier("P", 4, 12, busy=(0.5, 0.7))
"""Two parts with twice the remote classrooms: at 50× the budgets they search for about 7 s on a fast machine
(TWO_PARTS took 1.4 s, and a cancel a second after the workers started came after the end)."""


def test_parts_in_processes_give_the_same_timetable() -> None:
    county, _planted = generate(TWO_PARTS, 3)
    quick = SolveOptions(piece_time=0.5, piece_search_time=0.3)
    here = solve(county, replace(quick, processes=1))
    spread = solve(county, replace(quick, processes=2))
    assert spread.parts == 2
    assert spread.timetable.to_json() == here.timetable.to_json()
    assert (spread.objective, spread.bound) == (here.objective, here.bound)
    assert spread.worker_cpu > 0 and here.worker_cpu == 0   # the workers' CPU is counted, not lost


def test_cancel_kills_the_workers_and_raises() -> None:
    county, _planted = generate(LONG_PARTS, 4)
    token = CancelToken()
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            solve(county, SolveOptions(processes=2).scaled(50), cancel=token)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001  (the test reads it)
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    # the executor starts its processes as the parts are submitted, a moment after the pool exists
    while (pool._pool is None or not pool._pool[1]._processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool._pool is not None
    workers = [p.pid for p in (pool._pool[1]._processes or {}).values()]
    time.sleep(1.0)
    token.cancel()
    thread.join(10)
    assert not thread.is_alive() and isinstance(outcome[0], Cancelled)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers and not any(_alive(pid) for pid in workers)
    # the next solve starts fresh workers
    result = solve(county, SolveOptions(processes=2, piece_search_time=0.2, piece_time=0.5))
    assert result.timetable.placed_count() > 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a killed worker stays a zombie until the pool's manager thread reaps it
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("module", ["scheduler.jobs", "web.api.scheduler"])
def test_importing_does_not_import_ortools(module: str) -> None:
    """`sanke serve` imports the scheduler at start; CP-SAT (and the pandas it pulls in, ~2 s under load) only
    when a solve runs."""
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in ('ortools', 'pandas')))"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_a_pooled_solve_leaves_ortools_to_the_workers() -> None:
    """The process that hands the parts to worker processes never imports CP-SAT: importing it there held up a
    fresh solve's start by about a second, and the workers' results unpickle without it."""
    code = ("import sys\nfrom scheduler.solver import SolveOptions, solve\nfrom scheduler.synthetic import Tier, generate\n"
            "county, _ = generate(Tier('P', 4, 6, busy=(0.5, 0.7)), 3)\n"
            "r = solve(county, SolveOptions(processes=2, piece_time=0.5, piece_search_time=0.3))\n"
            "print(r.parts, r.timetable.placed_count() > 0, sorted(m for m in sys.modules if m.startswith('ortools')))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=180, check=True)
    assert out.stdout.strip() == "2 True []", out.stdout + out.stderr
