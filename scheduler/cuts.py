"""Piece sub-bounds: valid rows for the LP bound from CP-SAT's proven bound on one grade's lessons alone.

The LP relaxation is weak where a classroom's few open periods are shared by its subjects: fractionally
its English, music and art each take half of the periods where most classrooms of that grade are open
together; in integers one subject gets a period and the others must gather elsewhere. A *piece* is the
demands that share a classroom or could share a lesson — one grade with all its subjects when no subject
mixes grades. It owns its placements `x`, its lessons `y` (a teacher's lesson of that grade) and its spread
terms; only teachers (their grades) and the hub's limits couple pieces. Dropping the other pieces relaxes
the part, so any lower bound `LB` of the piece's own cost `1000·unplaced + 100·moved + 20·lessons +
2·spread` (the full cost without teacher gaps, which span pieces) holds for every timetable of the part: a
row `piece cost ≥ LB` the LP takes beside its own rows, which keep the teachers' coupling.

`LB` is CP-SAT's proven bound on the piece model (one worker, a deterministic budget, so the rows and the
bound are the same on every run). On L-busy a grade piece is solved to optimality in 0.1–2.2 units.

The same solves are the solver's best start: each piece's optimal placement, joined (`scheduler.part`), is
a timetable that only the teachers' coupling keeps from being optimal, and the neighbourhood search then
re-solves piece by piece with the others fixed. One CP-SAT run per piece serves both the bound and the start.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from scheduler.candidates import DemandOptions
from scheduler.cpsat import Params, found, run
from scheduler.greedy import greedy_hint
from scheduler.model import W_KEEP, W_LESSON, W_PLACE, W_SPREAD, Key, PartModel

if TYPE_CHECKING:
    from scheduler.cancel import CancelToken

PIECE_TIME = 3.0
"""CP-SAT budget of one piece, in deterministic units: every grade piece of L-busy (seeds 1, 2) is proven
optimal within it (the hardest took 2.2); 0.5 loses a third of the bound's gain."""


@dataclass(frozen=True)
class PieceBound:
    """`Σ piece cost ≥ value` over the keys and lesson slots of one piece."""

    keys: frozenset[Key]
    demanded: int
    value: int
    chosen: frozenset[Key] = frozenset()
    """The best placement of the piece alone that CP-SAT found (optimal when `value` is its cost)."""
    grades: tuple[int, ...] = ()
    proven: bool = False
    """CP-SAT proved `value` the piece's optimum."""


def pieces(part: list[DemandOptions], mix: dict[str, str]) -> list[list[DemandOptions]]:
    """Demands that share a classroom or could share a lesson, grouped: one grade (all its subjects) when
    no subject mixes grades; a mixing subject joins its grades into one piece."""
    parent: dict[object, object] = {}

    def find(a: object) -> object:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: object, b: object) -> None:
        parent[find(a)] = find(b)

    for opt in part:
        subject, grade = opt.demand.subject, opt.candidates[0].grade
        union(("room", opt.demand.classroom), ("lesson", subject, grade))
        if mix.get(subject, "none") != "none":
            union(("lesson", subject, grade), ("subject", subject))
    groups: dict[object, list[DemandOptions]] = defaultdict(list)
    for opt in part:
        groups[find(("room", opt.demand.classroom))].append(opt)
    return sorted(groups.values(), key=lambda g: min((o.demand.classroom, o.demand.subject) for o in g))


def piece_cost(pm: PartModel) -> cp_model.LinearExprT:
    """The part's cost without teacher gaps (the only term that spans pieces)."""
    return (
        W_PLACE * (pm.demanded - sum(pm.x.values())) + W_KEEP * (len(pm.kept) - sum(pm.kept))
        + W_LESSON * sum(pm.active.values()) + W_SPREAD * sum(v for v, _a, _b in pm.spread_terms)
    )


def piece_bounds(
    pm: PartModel, budget: float = PIECE_TIME, cancel: CancelToken | None = None, total: float = math.inf,
) -> list[PieceBound]:
    """One proven lower bound per piece of `pm`'s part; none when the part is one piece (grades mixing in
    every subject): that would be CP-SAT on the whole part again, whose bound the solver already has.

    `budget` per piece, `total` for all of them (each piece gets at least a tenth of `budget`): on counties
    whose teachers' weekly limits are tight (bench tier M) no piece is proven optimal and each would spend
    all of `budget`; on L-busy the part that needs most spends 6.3 units."""
    keep = pm.keep_keys
    out: list[PieceBound] = []
    groups = pieces(pm.part, {s: pm.index.county.settings.mix(s) for s in {o.demand.subject for o in pm.part}})
    if len(groups) == 1:
        return out
    spent = 0.0
    for piece in groups:
        sub = PartModel(pm.index, piece, keep)
        sub.model.minimize(piece_cost(sub))
        sub.set_hint(greedy_hint(pm.index, piece, keep))
        # linearization 2 puts x ≤ y in CP-SAT's LP: level 1 leaves the bound near 0
        allowed = max(0.1 * budget, min(budget, total - spent))
        solver, status = run(sub.model, Params(allowed, presolve=True, linearization=2), cancel)
        spent += solver.response_proto.deterministic_time
        optimal = status == "OPTIMAL"
        best = solver.objective_value if optimal else solver.best_objective_bound
        value = max(0, math.ceil(best - 1e-6)) if math.isfinite(best) else 0   # a piece never costs < 0
        chosen = frozenset(k for k, v in sub.x.items() if solver.boolean_value(v)) if found(status) else frozenset()
        grades = tuple(sorted({c.grade for c in sub.cand.values()}))
        out.append(PieceBound(frozenset(sub.x), sub.demanded, value, chosen, grades, optimal))
    return out

