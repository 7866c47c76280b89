"""One CP-SAT run with the parameters every stage of the solver shares: deterministic (one worker unless
interleaved, a fixed seed, a deterministic time budget, the wall clock only as a safety net) and
cancellable (the token stops the search from another thread).

The solver's stages, the neighbourhood steps (`scheduler.lns`) and the piece bounds (`scheduler.cuts`) all
go through `run`, so what makes a result reproducible is said once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

if TYPE_CHECKING:
    from scheduler.cancel import CancelToken

WALL_TIME = 600.0
"""Safety net only: hitting it makes a result depend on machine speed."""


@dataclass(frozen=True)
class Params:
    budget: float
    """Deterministic time units."""
    seed: int = 0
    presolve: bool = False
    linearization: int = 1
    workers: int = 1
    interleave: bool = False
    wall_time: float = WALL_TIME


def run(model: cp_model.CpModel, params: Params, cancel: CancelToken | None = None) -> tuple[cp_model.CpSolver, str]:
    """Solve `model`; returns the solver and its status ("OPTIMAL", "FEASIBLE", …; `found` says whether that is
    a solution). Raises `Cancelled` if cancelled."""
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.num_workers = params.workers
    p.interleave_search = params.interleave
    p.random_seed = params.seed
    p.cp_model_presolve = params.presolve
    p.linearization_level = params.linearization
    p.max_deterministic_time = params.budget
    p.max_time_in_seconds = params.wall_time
    if cancel is None:
        status = solver.solve(model)
    else:
        with cancel.running(solver):
            status = solver.solve(model)
    return solver, solver.status_name(status)


def found(status: str) -> bool:
    return status in ("OPTIMAL", "FEASIBLE")
