"""Structured large-neighbourhood search: re-solve one subject and two adjacent grades exactly, the rest fixed.

The greedy hint joins classrooms only where it happens to meet them, and CP-SAT's own search from that hint
(one worker, small budget) hardly moves it: on a county where each classroom is open in a third of its
periods a lesson that gathers classrooms needs periods open for all of them *and* the teacher. Freeing all
class-lessons of one subject for two adjacent grades (the classrooms one teacher can gather) and fixing the
rest gives CP-SAT a model it solves to optimality in a fraction of a unit; sweeping over subjects and grades
until a whole round brings nothing (or the budget is spent) is a deterministic descent on the full cost.
Each step starts from the current timetable as a complete hint, so a step never makes it worse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from scheduler.model import Key, PartModel

if TYPE_CHECKING:
    from scheduler.cancel import CancelToken

STEP_TIME = 0.25
"""CP-SAT budget of one neighbourhood, in deterministic units (most are solved to optimality well within)."""


def neighbourhoods(pm: PartModel) -> list[frozenset[Key]]:
    """The class-lessons freed together: per subject, each window of two adjacent grades present."""
    by_subject: dict[str, dict[int, set[Key]]] = {}
    for k, c in pm.cand.items():
        by_subject.setdefault(c.subject, {}).setdefault(c.grade, set()).add(k)
    out: list[frozenset[Key]] = []
    for subject in sorted(by_subject):
        grades = by_subject[subject]
        order = sorted(grades)
        windows = [order[i:i + 2] for i in range(max(1, len(order) - 1))]
        out.extend(frozenset().union(*(grades[g] for g in w)) for w in windows)
    return out


def improve(
    pm: PartModel, chosen: set[Key], budget: float, seed: int = 0, cancel: CancelToken | None = None,
) -> tuple[set[Key], int]:
    """Descend on `pm`'s full cost from `chosen` within `budget` deterministic units; returns the best
    placement and its cost. `pm.full_objective()` must be set."""
    cost = pm.cost(chosen)
    hoods = neighbourhoods(pm)
    spent = 0.0
    improved = True
    while improved and spent < budget:
        improved = False
        for free in hoods:
            if spent >= budget:
                break
            pm.set_hint(chosen)
            model = pm.model.clone()
            for k, v in pm.x.items():
                if k not in free:
                    domain = model.proto.variables[v.index].domain
                    domain[0] = domain[1] = int(k in chosen)
            solver = cp_model.CpSolver()
            solver.parameters.num_workers = 1
            solver.parameters.random_seed = seed
            solver.parameters.max_deterministic_time = min(STEP_TIME, budget - spent)
            if cancel is None:
                status = solver.solve(model)
            else:
                with cancel.running(solver):
                    status = solver.solve(model)
                cancel.check()
            spent += solver.response_proto.deterministic_time
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE) or round(solver.objective_value) >= cost:
                continue
            chosen = {k for k, v in pm.x.items() if solver.boolean_value(v)}
            cost = pm.cost(chosen)
            improved = True
    return chosen, cost
