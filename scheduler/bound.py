"""A lower bound on one part's cost from the LP relaxation, proven by its dual (weak duality).

CP-SAT's own bound at the default budget is 0 (its root LP never finishes within 0.05 units without
presolve). This is the same rules as `scheduler.model`, relaxed to 0 ≤ x ≤ 1, solved with GLOP. The
number reported is not GLOP's objective but the Lagrangian value of GLOP's duals: for *any* multipliers of
the right sign, Σ π·rhs + Σ min over each variable's bounds of its reduced cost is ≤ the cost of every
timetable. It is computed here in Python from the constraint rows we wrote, so a GLOP tolerance can only
make the bound weaker, never wrong. Strengthening rows (x ≤ y for each classroom of a lesson, and
Σ x ≤ max_n · active for mixed lessons) hold in every integer timetable, so they keep it valid; so do the
piece rows of `scheduler.cuts` (each grade's own cost ≥ CP-SAT's proven bound on that grade alone), which
carry the integer choice the LP is weakest at: which subject a classroom's few open periods go to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ortools.linear_solver import pywraplp

from scheduler.cuts import PieceBound
from scheduler.model import W_GAP, W_KEEP, W_LESSON, W_PLACE, W_SPREAD, Key, PartModel

Row = tuple[dict[int, float], float, float]
INF = math.inf


class _LP:
    def __init__(self) -> None:
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        self.vars: list[pywraplp.Variable] = []
        self.rows: list[Row] = []
        self.cost: list[float] = []

    def var(self, cost: float = 0.0) -> int:
        self.vars.append(self.solver.NumVar(0.0, 1.0, ""))
        self.cost.append(cost)
        return len(self.vars) - 1

    def row(self, terms: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append((terms, lo, hi))

    def solve(self) -> list[float]:
        """GLOP's duals, one per row (0 for a row GLOP did not use)."""
        s = self.solver
        cts = []
        for terms, lo, hi in self.rows:
            ct = s.Constraint(-s.infinity() if lo == -INF else lo, s.infinity() if hi == INF else hi)
            for j, a in terms.items():
                ct.SetCoefficient(self.vars[j], a)
            cts.append(ct)
        objective = s.Objective()
        for j, c in enumerate(self.cost):
            objective.SetCoefficient(self.vars[j], c)
        objective.SetMinimization()
        s.Solve()
        return [ct.dual_value() for ct in cts]

    def priced(self, duals: Sequence[float]) -> tuple[float, list[float]]:
        """Σ π·rhs over the rows and each variable's reduced cost, for multipliers of the right sign only
        (π > 0 on a row's lower side, π < 0 on its upper side; any other is taken as 0), so that for every
        feasible point cost ≥ Σ π·rhs + Σ reduced·value."""
        reduced = list(self.cost)
        value = 0.0
        for (terms, lo, hi), pi in zip(self.rows, duals, strict=True):
            rhs = lo if pi > 0 else hi
            if pi == 0 or rhs in (INF, -INF):
                continue
            value += pi * rhs
            for j, a in terms.items():
                reduced[j] -= pi * a
        return value, reduced


@dataclass
class Relaxation:
    """The LP of one part and where each model variable sits in it."""

    lp: _LP
    constant: float
    x: dict[Key, int]
    y: dict[tuple[str, int, int, int], int]
    active: dict[tuple[str, int, int], int]
    spread: dict[Key, int]
    """The spread term's variable, by the first key of its first day."""

    def bound(self) -> float:
        """Solve, then the Lagrangian value of the duals (valid whatever GLOP's accuracy)."""
        value, reduced = self.lp.priced(self.lp.solve())
        return self.constant + value + sum(min(0.0, d) for d in reduced)  # each variable in [0, 1]


def lp_bound(pm: PartModel, cuts: Sequence[PieceBound] = ()) -> int:
    """An integer no timetable of this part can cost less than: the LP with each piece's proven bound as a
    row (`scheduler.cuts.piece_bounds`)."""
    return integer_bound(relax(pm, cuts).bound())


def integer_bound(value: float) -> int:
    """The least integer cost a (float) lower bound allows, a hair below for rounding."""
    return max(0, math.ceil(value - 1e-6 * max(1.0, abs(value))))


def relax(pm: PartModel, cuts: Sequence[PieceBound] = ()) -> Relaxation:
    """The LP relaxation of `pm` (0 ≤ every variable ≤ 1) plus the rows `cuts`, over the same groupings as the
    CP-SAT model (`pm.groups`, `scheduler.groups`)."""
    index, lp, g = pm.index, _LP(), pm.groups
    max_n = index.county.settings.max_n
    x = {k: lp.var(-W_PLACE - (W_KEEP if k in pm.keep_keys else 0)) for k in sorted(pm.x)}
    active = {slot: lp.var(W_LESSON) for slot in sorted(pm.active)}
    y: dict[tuple[str, int, int, int], int] = {}
    for lk, keys in g.lessons.items():
        y[lk] = lp.var()
        for k in keys:
            lp.row({x[k]: 1.0, y[lk]: -1.0}, -INF, 0.0)
        lp.row({**{x[k]: 1.0 for k in keys}, y[lk]: -float(max_n)}, -INF, 0.0)
    for slot, grades in g.slots.items():
        a = active[slot]
        ys = [y[(*slot, grade)] for grade in grades]
        if index.county.settings.mix(index.teachers[slot[0]].subject) == "none":
            lp.row({**{v: 1.0 for v in ys}, a: -1.0}, 0.0, 0.0)   # one grade: the lesson runs iff one y
        else:
            for v in ys:
                lp.row({v: 1.0, a: -1.0}, -INF, 0.0)
            lp.row({**{x[k]: 1.0 for k in g.slot_keys[slot]}, a: -float(max_n)}, -INF, 0.0)
    for slots, limit in g.limits:
        lp.row(dict.fromkeys((active[s] for s in slots), 1.0), -INF, limit)
    for dg in g.demands:
        lp.row(dict.fromkeys((x[k] for k in dg.keys), 1.0), -INF, dg.demand.demand.per_week)
        for day_keys in dg.days.values():
            lp.row(dict.fromkeys((x[k] for k in day_keys), 1.0), -INF, 1.0)
    for clique in g.class_cliques:
        lp.row(dict.fromkeys((x[k] for k in clique), 1.0), -INF, 1.0)
    for clique, limit in g.stream_cliques:
        lp.row(dict.fromkeys((x[k] for k in clique), 1.0), -INF, limit)
    spread: dict[Key, int] = {}
    for _v, day_a, day_b in pm.spread_terms:   # both ≥ Σ day a + Σ day b − 1
        both = spread[day_a[0]] = lp.var(W_SPREAD)
        lp.row({**{x[k]: 1.0 for k in day_a + day_b}, both: -1.0}, -INF, 1.0)
    for cut in cuts:   # piece cost ≥ its proven bound
        terms: dict[int, float] = {}
        for k in sorted(cut.keys):
            c = pm.cand[k]
            w = W_PLACE + (W_KEEP if k in pm.keep_keys else 0)
            terms[x[k]] = -w
            if index.county.settings.mix(c.subject) == "none":
                terms[y[(c.teacher, c.weekday, c.period, c.grade)]] = W_LESSON
            else:
                terms[active[c.lesson]] = W_LESSON
            if k in spread:
                terms[spread[k]] = W_SPREAD
        lp.row(terms, cut.value - cut.demanded * W_PLACE - len(cut.keys & pm.keep_keys) * W_KEEP, INF)
    for _v, t, wd, p in pm.gap_terms:          # gap ≥ before + after − active − 1
        gap = lp.var(W_GAP)
        lp.row({active[(t, wd, p - 1)]: 1.0, active[(t, wd, p + 1)]: 1.0, active[(t, wd, p)]: -1.0, gap: -1.0},
               -INF, 1.0)
    return Relaxation(lp, W_PLACE * pm.demanded + W_KEEP * len(pm.kept), x, y, active, spread)
