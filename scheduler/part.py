"""One independent part of the county, solved: the CP-SAT stages from a start to a result with its bound.

Apart from `scheduler.solver` (which splits the county and may hand the parts to worker processes, see
`scheduler.pool`), so that importing the solver's options does not import OR-Tools: only a solve does.

Stages, all deterministic (one worker, fixed seed, deterministic budgets):

1. the pieces (`scheduler.cuts`): each grade with all its subjects solved alone — a proven lower bound
   per piece for the LP, and each piece's best placement;
2. the start: the cheaper of the greedy placement (`scheduler.greedy`; from the previous timetable when
   re-planning) and the pieces' placements joined (largest lessons first, each class-lesson only where it
   fits beside the others, then topped up greedily);
3. the piece search (`scheduler.lns`), or the classroom neighbourhoods when the part is one piece;
4. only when demand is still left out: placement alone, then the classroom neighbourhoods again;
5. the full cost without presolve: CP-SAT checks the result against every constraint;
6. the bound: the LP relaxation with the piece rows (`scheduler.bound`), or CP-SAT's, the larger.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import TYPE_CHECKING

from scheduler.board import Board
from scheduler.bound import lp_bound
from scheduler.candidates import CountyIndex, DemandOptions
from scheduler.cpsat import Params, found, run
from scheduler.cuts import PieceBound, piece_bounds
from scheduler.greedy import best_greedy, greedy_hint
from scheduler.lns import improve, piece_neighbourhoods, piece_search
from scheduler.model import Key, PartModel
from scheduler.solver import PartResult
from scheduler.timetable import Lesson

if TYPE_CHECKING:
    from scheduler.cancel import CancelToken
    from scheduler.solver import SolveOptions

LEAST_MOVES_TIME = 2.0
"""CP-SAT budget of the proof of a re-plan's fewest moves (`least_moves`); only its bound is used."""


def solve_part(
    index: CountyIndex, part: list[DemandOptions], options: SolveOptions, keep: set[Key],
    cancel: CancelToken | None = None,
) -> PartResult:
    cpu0 = time.process_time()
    pm = PartModel(index, part, keep)
    pm.full_objective()
    cuts = piece_bounds(pm, options.piece_time, cancel, options.pieces_time) if options.piece_time > 0 else []
    hint = greedy_hint(index, part, keep)
    if cuts:
        joined = join_pieces(pm, cuts)
        if pm.cost(joined) < pm.cost(hint):
            hint = joined
        # the bound needs only the pieces, so it is known before the search, which stops once the part is
        # within `settle_gap` of it: the rest of its budget would buy a few units of cost (L-busy seed 1)
        bound = lp_bound(pm, cuts)
        enough = math.floor(bound / (1 - options.settle_gap))
        hint, _cost = piece_search(pm, hint, piece_neighbourhoods(pm, [(c.keys, c.grades) for c in cuts]),
                                   options.piece_search_time, options.seed, cancel, enough)
    elif options.improve_time > 0:   # after the piece search they gained 0.1 % for a third more CPU (L-busy)
        hint, _cost = improve(pm, hint, options.improve_time, options.seed, cancel)
    statuses = []

    def params(budget: float, presolve: bool) -> Params:
        return Params(budget, seed=options.seed, presolve=presolve, linearization=options.linearization,
                      workers=options.workers, interleave=options.interleave, wall_time=options.wall_time)

    if len(hint) < pm.demanded:
        # placement first, alone: its bound (all demand) is known, so CP-SAT stops as soon as it gets there
        pm.placement_objective()
        pm.set_hint(hint)
        solver, status = run(pm.model, params(options.repair_time, True), cancel)
        statuses.append(status)
        pm.full_objective()
        if found(status) and sum(solver.boolean_value(v) for v in pm.x.values()) > len(hint):
            hint = {k for k, v in pm.x.items() if solver.boolean_value(v)}
            if options.improve_time > 0:   # placement alone may have opened lessons: gather them again
                hint, _cost = improve(pm, hint, options.improve_time, options.seed, cancel)
    if not cuts:
        bound = lp_bound(pm, cuts)
    proven = 2 * sum(c.proven for c in cuts) >= len(cuts)
    if cuts and proven and options.whole_time > 0 and pm.cost(hint) - bound > options.whole_gap * pm.cost(hint):
        # the pieces' coupling through teachers of many grades is what the piece search cannot undo (L-busy
        # seed 2, one part: 1472 after it, 1410 after 3 units of this, bound 1279); CP-SAT's own search on
        # the whole part with its LP (linearization 2) moves lessons of all grades and subjects at once. Only
        # where at least half the pieces are proven: then the gap is their coupling. Where none are
        # (tight teacher limits, tier M) it is the bound's, and the stage bought 0.2 % for a third more CPU
        pm.set_hint(hint)
        solver, status = run(pm.model, Params(options.whole_time, seed=options.seed, presolve=True, linearization=2,
                                              wall_time=options.wall_time), cancel)
        statuses.append(status)
        bound = max(bound, math.ceil(solver.best_objective_bound - 1e-6))
        if found(status) and round(solver.objective_value) < pm.cost(hint):
            hint = {k for k, v in pm.x.items() if solver.boolean_value(v)}
    pm.set_hint(hint)
    # a re-plan spends its time where the change is: a part whose previous lessons no longer all fit gets
    # `replan_factor` × the budget to bring back what the hint had to move; untouched parts keep the default
    rooms = {opt.demand.classroom for opt in part}
    touched = any(k[0] in rooms and k not in pm.x for k in keep)
    budget = options.deterministic_time * (options.replan_factor if touched else 1)
    solver, status = run(pm.model, params(budget, options.presolve), cancel)
    solved = found(status)
    statuses.append(status if solved else "HINT")
    chosen_keys = {k for k in pm.x if solver.boolean_value(pm.x[k])} if solved else hint
    cost = round(solver.objective_value) if solved else pm.cost(hint)
    # CP-SAT's bound at this budget is weak; the LP relaxation's, proven by its dual, is the better one
    bound = min(cost, max(0, math.ceil(solver.best_objective_bound - 1e-6), bound))
    least = least_moves(pm, chosen_keys, options, cancel)
    chosen: dict[tuple[str, int, int], list[str]] = defaultdict(list)
    for k in sorted(chosen_keys):
        c = pm.cand[k]
        chosen[(c.teacher, c.weekday, c.period)].append(c.classroom)
    lessons = []
    for (t, wd, p), members in chosen.items():
        grades = sorted({index.classrooms[r].grade for r in members})
        lessons.append(Lesson(wd, p, t, index.teachers[t].subject, grades[0], tuple(sorted(members)),
                              tuple(grades) if len(grades) > 1 else ()))
    return PartResult(lessons, "+".join(statuses), cost, bound, time.process_time() - cpu0, least)


def least_moves(pm: PartModel, chosen: set[Key], options: SolveOptions, cancel: CancelToken | None) -> int:
    """A re-plan's proven fewest moves among the previous class-lessons the new data still allows, for a
    timetable that places as many as `chosen`: the chain a forced lesson sets off where its classroom has
    few open periods (`scheduler.replan`). 0 when `chosen` moves none of them. Changes `pm`'s model: last."""
    moved = len(pm.keep_keys - chosen)
    if moved == 0:
        return 0
    pm.model.add(sum(pm.x.values()) >= len(chosen))
    pm.model.minimize(len(pm.kept) - sum(pm.kept))
    pm.set_hint(chosen)
    # L-busy seed 3's touched part (278 class-lessons): proven optimal in ~0.7 CPU s
    solver, _status = run(pm.model, Params(LEAST_MOVES_TIME, seed=options.seed, presolve=True, linearization=2,
                                           wall_time=options.wall_time), cancel)
    lower = solver.best_objective_bound
    return min(moved, max(0, math.ceil(lower - 1e-6))) if math.isfinite(lower) else 0


def join_pieces(pm: PartModel, cuts: list[PieceBound]) -> set[Key]:
    """The pieces' own placements as one timetable: their lessons, largest first, each class-lesson only
    where every rule still allows it (two grades may want the same teacher at once), then the rest placed
    greedily."""
    lessons: dict[tuple[str, int, int, int], list[Key]] = defaultdict(list)
    for cut in cuts:
        for k in sorted(cut.chosen):
            lessons[(*k[1:], pm.cand[k].grade)].append(k)
    order = sorted(lessons, key=lambda lk: (-len(lessons[lk]), lk))

    def start() -> Board:
        board = Board(pm.index)
        for lk in order:
            for k in lessons[lk]:
                if board.blocker(pm.cand[k]) is None:
                    board.add(pm.cand[k])
        return board

    board = best_greedy(pm.index, pm.part, start)
    return {(room, t, wd, p) for (t, wd, p), ls in board.lessons.items() for room in ls.classrooms}
