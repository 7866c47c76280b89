"""The county timetable solver: OR-Tools CP-SAT over candidates in absolute minutes of the week.

The county splits into independent parts (hub schools and the remote schools paired with them); each
part is one CP-SAT model, solved with a fixed seed, one worker and a *deterministic* time budget, so the
same input always gives the same timetable. A greedy placement with repair (or, when re-planning, the
previous timetable topped up greedily) is the solution hint. When the hint leaves demand unplaced, a first
CP-SAT stage maximises placement alone (its bound is known, so it stops once all is placed); the second
stage optimises the full objective from there. If a stage finds nothing within its budget the hint, valid
by construction, is kept (status "HINT").

Hard: classroom (remote, or the hub classroom a teacher teaches from) and teacher never in two lessons
at once; teacher weekly/daily limits and unavailability;
at most N remote classrooms per lesson; each remote school's stream limit and each hub's lessons at once;
grade match; at most one lesson of a subject per classroom per day.
Soft, in this order: place the most; keep the previous timetable when re-planning; fewer lessons (larger
N); a subject not on two consecutive days for a classroom; fewer single-period gaps for teachers.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from scheduler.board import Board
from scheduler.bound import lp_bound
from scheduler.candidates import Candidate, CountyIndex, DemandOptions
from scheduler.county import County
from scheduler.greedy import best_greedy
from scheduler.lns import improve
from scheduler.model import W_PLACE, Key, PartModel
from scheduler.reasons import explain_unplaced
from scheduler.timetable import Lesson, Timetable

if TYPE_CHECKING:
    from scheduler.cancel import CancelToken


@dataclass(frozen=True)
class SolveOptions:
    deterministic_time: float = 0.05
    """CP-SAT budget per part for the full objective, in its deterministic time units, started from a hint
    that places everything it can (without presolve, so the hint is checked and improved at once)."""
    improve_time: float = 0.2
    """Budget per part for the neighbourhood search (`scheduler.lns`) from the greedy hint: on L-busy 0.2 took
    about the CPU that 0.5 of the old subject/grade neighbourhoods took, for ~17 % fewer lessons."""
    repair_time: float = 2.0
    """Budget per part for the placement-only stage, run when the hint leaves demand unplaced."""
    wall_time: float = 600.0
    """Safety net only: hitting it makes the result depend on machine speed."""
    workers: int = 1
    """CP-SAT workers; 1 keeps the search order, hence the result, fixed (more only with `interleave`)."""
    interleave: bool = False
    """CP-SAT's interleaved search: several subsolvers (LNS among them) in a fixed, deterministic order."""
    seed: int = 0
    linearization: int = 1
    """CP-SAT's linearization level (1, its default, was the fastest to a placement here)."""
    presolve: bool = False
    """Presolve in the full-objective stage."""
    replan_factor: float = 10.0
    """Budget multiplier for the parts a re-plan's change touches."""

    def scaled(self, factor: float) -> SolveOptions:
        """Every search budget × `factor` (the benchmark's 10× column)."""
        return replace(self, deterministic_time=self.deterministic_time * factor,
                       improve_time=self.improve_time * factor, repair_time=self.repair_time * factor)


@dataclass
class PartResult:
    lessons: list[Lesson]
    status: str
    cost: int
    bound: int


@dataclass
class SolveResult:
    timetable: Timetable
    seconds: float
    parts: int
    statuses: list[str]
    objective: int = 0
    """The cost minimised (see `scheduler.model`), summed over the parts."""
    bound: int = 0
    """CP-SAT's lower bound on that cost: no timetable can cost less."""

    @property
    def gap_pct(self) -> float:
        return 100.0 * (self.objective - self.bound) / self.objective if self.objective else 0.0

    @property
    def quality(self) -> str:
        """What a coordinator reads in the solve status."""
        if self.objective <= self.bound:
            return "proven optimal"
        return f"within {self.gap_pct:.1f} % of the bound"


def solve(
    county: County, options: SolveOptions | None = None, previous: Timetable | None = None,
    progress: Callable[[int, int], None] | None = None, cancel: CancelToken | None = None,
) -> SolveResult:
    """Solve the county; `progress(done, parts)` is called after each independent part (for a progress bar);
    `cancel` stops it between parts and inside CP-SAT (raising `scheduler.cancel.Cancelled`)."""
    options = options or SolveOptions()
    began = time.perf_counter()
    index = CountyIndex(county)
    keep = previous.assignments() if previous is not None else set()
    lessons: list[Lesson] = []
    statuses: list[str] = []
    cost = bound = 0
    parts = _parts(index.options)
    for done, part in enumerate(parts, start=1):
        if cancel is not None:
            cancel.check()
        result = _solve_part(index, part, options, keep, cancel)
        lessons.extend(result.lessons)
        statuses.append(result.status)
        cost, bound = cost + result.cost, bound + result.bound
        if progress is not None:
            progress(done, len(parts))
    lessons.sort()
    board = Board(index)
    by_key = {(c.classroom, *c.lesson): c for opt in index.options for c in opt.candidates}
    for ls in lessons:
        for room in ls.classrooms:
            board.add(by_key[(room, ls.teacher, ls.weekday, ls.period)])
    unplaced = explain_unplaced(index, board)
    # demand with no candidate at all is in no part: its cost is certain, in the objective and in the bound
    lost = sum(opt.demand.per_week for opt in index.options if not opt.candidates) * W_PLACE
    return SolveResult(Timetable(lessons, unplaced), time.perf_counter() - began, len(parts), statuses,
                       cost + lost, bound + lost)


def _parts(options: list[DemandOptions]) -> list[list[DemandOptions]]:
    """Independent parts: demands linked through a shared hub school or remote school."""
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for opt in options:
        for c in opt.candidates:
            parent[find("h:" + c.hub)] = find("r:" + c.remote)
    groups: dict[str, list[DemandOptions]] = defaultdict(list)
    for opt in options:
        if opt.candidates:
            groups[find("r:" + opt.candidates[0].remote)].append(opt)
    return [groups[k] for k in sorted(groups, key=lambda k: min(o.demand.classroom for o in groups[k]))]


def _solve_part(
    index: CountyIndex, part: list[DemandOptions], options: SolveOptions, keep: set[Key],
    cancel: CancelToken | None,
) -> PartResult:
    pm = PartModel(index, part, keep)

    def run(budget: float, presolve: bool) -> tuple[cp_model.CpSolver, bool, str]:
        solver = cp_model.CpSolver()
        solver.parameters.cp_model_presolve = presolve
        solver.parameters.num_workers = options.workers
        solver.parameters.interleave_search = options.interleave
        solver.parameters.random_seed = options.seed
        solver.parameters.max_deterministic_time = budget
        solver.parameters.max_time_in_seconds = options.wall_time
        solver.parameters.linearization_level = options.linearization
        if cancel is None:
            status = solver.solve(pm.model)
        else:
            with cancel.running(solver):
                status = solver.solve(pm.model)
        return solver, status in (cp_model.OPTIMAL, cp_model.FEASIBLE), solver.status_name(status)

    hint = _hint(index, part, keep, pm.cand)
    statuses = []
    pm.full_objective()
    if options.improve_time > 0:
        hint, _cost = improve(pm, hint, options.improve_time, options.seed, cancel)
    if len(hint) < pm.demanded:
        # placement first, alone: its bound (all demand) is known, so CP-SAT stops as soon as it gets there
        pm.placement_objective()
        pm.set_hint(hint)
        solver, found, status = run(options.repair_time, True)
        statuses.append(status)
        pm.full_objective()
        if found and sum(solver.boolean_value(v) for v in pm.x.values()) > len(hint):
            hint = {k for k, v in pm.x.items() if solver.boolean_value(v)}
            if options.improve_time > 0:   # placement alone may have opened lessons: gather them again
                hint, _cost = improve(pm, hint, options.improve_time, options.seed, cancel)
    pm.set_hint(hint)
    # a re-plan spends its time where the change is: a part whose previous lessons no longer all fit gets
    # `replan_factor` × the budget to bring back what the hint had to move; untouched parts keep the default
    rooms = {opt.demand.classroom for opt in part}
    touched = any(k[0] in rooms and k not in pm.x for k in keep)
    budget = options.deterministic_time * (options.replan_factor if touched else 1)
    solver, found, status = run(budget, options.presolve)
    statuses.append(status if found else "HINT")
    chosen_keys = {k for k in pm.x if solver.boolean_value(pm.x[k])} if found else hint
    cost = round(solver.objective_value) if found else pm.cost(hint)
    # CP-SAT's bound at this budget is weak; the LP relaxation's, proven by its dual, is the better one
    bound = min(cost, max(0, math.ceil(solver.best_objective_bound - 1e-6), lp_bound(pm, cancel=cancel)))
    chosen: dict[tuple[str, int, int], list[str]] = defaultdict(list)
    for k in sorted(chosen_keys):
        c = pm.cand[k]
        chosen[(c.teacher, c.weekday, c.period)].append(c.classroom)
    lessons = []
    for (t, wd, p), rooms in chosen.items():
        grades = sorted({index.classrooms[r].grade for r in rooms})
        lessons.append(Lesson(wd, p, t, index.teachers[t].subject, grades[0], tuple(sorted(rooms)),
                              tuple(grades) if len(grades) > 1 else ()))
    return PartResult(lessons, "+".join(statuses), cost, bound)


def _hint(
    index: CountyIndex, part: list[DemandOptions], keep: set[Key], cand: dict[Key, Candidate]
) -> set[Key]:
    """Previous timetable (what still fits) topped up greedily, or a plain greedy placement."""
    def start() -> Board:
        board = Board(index)
        for k in sorted(keep):
            c = cand.get(k)
            if c is not None and board.blocker(c) is None:
                board.add(c)
        return board

    board = best_greedy(index, part, start)
    return {(room, t, wd, p) for (t, wd, p), ls in board.lessons.items() for room in ls.classrooms}
