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

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from scheduler.board import Board
from scheduler.candidates import CountyIndex, DemandOptions
from scheduler.county import County
from scheduler.reasons import explain_unplaced
from scheduler.timetable import Lesson, Timetable
from scheduler.weights import W_PLACE

if TYPE_CHECKING:
    from scheduler.cancel import CancelToken



@dataclass(frozen=True)
class SolveOptions:
    deterministic_time: float = 0.05
    """CP-SAT budget per part for the full objective, in its deterministic time units, started from a hint
    that places everything it can (without presolve, so the hint is checked and improved at once)."""
    improve_time: float = 0.2
    """Budget per part for the classroom neighbourhoods (`scheduler.lns.improve`) where the part does not
    split into pieces (every subject mixing grades), and after a placement-only stage."""
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
    piece_time: float = 3.0
    """Budget of each piece (one grade with its subjects) solved alone: its bound is a row of the LP bound, its
    placement part of the start (`scheduler.cuts`); 0 skips both."""
    pieces_time: float = 6.0
    """Budget of all the pieces of one part together (each still ≤ `piece_time`): bench tier M, whose tight
    teacher limits keep every piece from being proven optimal, spent 57 CPU s without it (2.4 before pieces)."""
    piece_search_time: float = 1.5
    """Budget per part for re-solving pieces and neighbouring pairs of them with the rest fixed
    (`scheduler.lns.piece_search`)."""
    settle_gap: float = 0.02
    """The piece search stops once the part's cost is within this share of its bound (cost − bound ≤ 2 % of
    cost)."""
    whole_time: float = 3.0
    """Budget per part for CP-SAT on the whole part (presolve, linearization 2) from the piece search's result,
    spent only where that result is more than `whole_gap` above the part's bound."""
    whole_gap: float = 0.08
    """8 %, not 5 %: the parts between 5 and 8 % above their bound gave back little for the stage's CPU (L-busy
    seed 1 37.5 s → 31.1 s for 2.9 → 3.7 % gap; seed 2 4.8 % either way), so only the worst parts pay for it."""
    processes: int = 2
    """Worker processes the independent parts are spread over (`scheduler.pool`); 1 solves in this thread.
    The result does not depend on it: each part is solved alone, deterministically, and the results are
    taken in part order."""

    def scaled(self, factor: float) -> SolveOptions:
        """Every search budget × `factor` (the benchmark's 10× column)."""
        return replace(self, deterministic_time=self.deterministic_time * factor,
                       improve_time=self.improve_time * factor, repair_time=self.repair_time * factor,
                       piece_time=self.piece_time * factor, pieces_time=self.pieces_time * factor,
                       piece_search_time=self.piece_search_time * factor, whole_time=self.whole_time * factor)


@dataclass
class PartResult:
    """One independent part solved (`scheduler.part`). Defined here, not there, so that a worker's result
    unpickles in the server without importing OR-Tools."""

    lessons: list[Lesson]
    status: str
    cost: int
    bound: int
    cpu: float = 0.0
    """CPU seconds of the process that solved it, while it did (a worker's are not in the server's rusage)."""
    least_moves: int = 0
    """Re-plan: the proven fewest previous class-lessons (of those still allowed) any timetable placing as many
    must move (`scheduler.part.least_moves`)."""


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
    worker_cpu: float = 0.0
    """CPU seconds spent in worker processes (`scheduler.pool`), which this process's rusage does not show."""
    least_moves: int = 0
    """Re-plan: the parts' `PartResult.least_moves` summed (`scheduler.replan.move_report` takes it)."""

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
    prepared = _prepare(county, options)
    index = CountyIndex(county)
    keep = previous.assignments() if previous is not None else set()
    lessons: list[Lesson] = []
    statuses: list[str] = []
    cost = bound = 0
    parts = _parts(index.options)
    results, pooled = _solve_parts(county, index, parts, options, keep, progress, cancel, prepared)
    for result in results:
        lessons.extend(result.lessons)
        statuses.append(result.status)
        cost, bound = cost + result.cost, bound + result.bound
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
                       cost + lost, bound + lost, sum(r.cpu for r in results) if pooled else 0.0,
                       sum(r.least_moves for r in results))


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


def _prepare(county: County, options: SolveOptions) -> str | None:
    """The worker processes started and indexing `county` while this thread indexes it (`scheduler.pool`)."""
    if options.processes <= 1:
        return None
    from scheduler.pool import prepare
    return prepare(county, options)


def _solve_parts(
    county: County, index: CountyIndex, parts: list[list[DemandOptions]], options: SolveOptions, keep: set,
    progress: Callable[[int, int], None] | None, cancel: CancelToken | None, prepared: str | None = None,
) -> tuple[list[PartResult], bool]:
    """Each part's result, in part order, and whether worker processes solved them (when there are several
    parts and `options.processes` > 1)."""
    if options.processes > 1 and len(parts) > 1:
        from concurrent.futures.process import BrokenProcessPool

        from scheduler.pool import solve_parts
        with contextlib.suppress(BrokenProcessPool):   # a worker died: solve here instead
            return solve_parts(county, len(parts), options, keep, progress, cancel, prepared), True
    # OR-Tools is imported by a solve in this thread, not by importing this module, nor when the workers solve
    # (importing it here took a second of the parts' start)
    from scheduler.part import solve_part
    results = []
    for done, part in enumerate(parts, start=1):
        if cancel is not None:
            cancel.check()
        results.append(solve_part(index, part, options, keep, cancel))
        if progress is not None:
            progress(done, len(parts))
    return results, False
