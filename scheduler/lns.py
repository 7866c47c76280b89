"""Large-neighbourhood search: free the class-lessons of a few classrooms, fix the rest, re-solve exactly.

Lessons are what the cost counts, and a lesson closes only when *all* its classrooms go elsewhere — each of
them into a period that is open for it and not taken by its own lessons of other subjects. So the
neighbourhoods are sets of classrooms with every subject of theirs freed: the classrooms of two small
lessons of the same subject and grade (can they sit in one?), of one lesson (can it dissolve into the
others?), and of one remote school. These models are tiny (a few dozen class-lessons) and CP-SAT solves
most of them in a few hundredths of a unit. When a whole round of them brings nothing, wide neighbourhoods
(one subject, two adjacent grades, every classroom) take their turn, then the small ones again.

Before those, when the part splits into pieces (`scheduler.cuts`: one grade with all its subjects, unless a
subject mixes grades), each piece and each two pieces of neighbouring grades are re-solved with the rest
fixed (`piece_search`): a piece alone is solved to optimality in a unit or two, so with the other pieces
fixed only the teachers they share are left to settle — the start joined from the pieces' own optima then
comes within a few per cent of the bound.

Each step starts from the current timetable as a complete hint and is kept only if it costs less, so the
search is a deterministic descent on the full cost (sorted orders, one worker, fixed seed, deterministic
time). It stops when neither kind brings anything or the budget is spent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from scheduler.county import grades_may_mix
from scheduler.cpsat import Params, found, run
from scheduler.model import Key, PartModel

if TYPE_CHECKING:
    from scheduler.cancel import CancelToken

STEP_TIME = 0.1
"""CP-SAT budget of one neighbourhood, in deterministic units (most are solved to optimality well within)."""
PIECE_STEP_TIME = 0.3
"""CP-SAT budget of one piece (or two) re-solved with the rest fixed."""

Hood = frozenset[Key]


def _by_classroom(pm: PartModel) -> dict[str, set[Key]]:
    rooms: dict[str, set[Key]] = defaultdict(set)
    for k in pm.cand:
        rooms[k[0]].add(k)
    return rooms


def small_neighbourhoods(pm: PartModel, chosen: set[Key]) -> list[Hood]:
    """Per remote school; per pair of lessons of one subject that could be one lesson; per lesson."""
    rooms = _by_classroom(pm)
    lessons: dict[tuple[str, int, int], set[str]] = defaultdict(set)
    grades: dict[tuple[str, int, int], set[int]] = defaultdict(set)
    for k in chosen:
        lessons[k[1:]].add(k[0])
        grades[k[1:]].add(pm.cand[k].grade)
    settings = pm.index.county.settings
    subject = {slot: pm.index.teachers[slot[0]].subject for slot in lessons}
    order = sorted(lessons, key=lambda s: (len(lessons[s]), s))
    pairs = [
        lessons[a] | lessons[b]
        for i, a in enumerate(order) for b in order[i + 1:]
        if subject[a] == subject[b] and len(lessons[a]) + len(lessons[b]) <= settings.max_n
        and grades_may_mix(settings.mix(subject[a]), grades[a] | grades[b])
    ]
    schools: dict[str, set[str]] = defaultdict(set)
    for room in rooms:
        schools[pm.cand[next(iter(rooms[room]))].remote].add(room)
    sets = [schools[s] for s in sorted(schools)] + pairs + [lessons[s] for s in order]
    return _unique(frozenset(k for room in sorted(s) for k in rooms[room]) for s in sets)


def wide_neighbourhoods(pm: PartModel) -> list[Hood]:
    """Per subject, each window of two adjacent grades present, every classroom of them."""
    by_subject: dict[str, dict[int, set[Key]]] = {}
    for k, c in pm.cand.items():
        by_subject.setdefault(c.subject, {}).setdefault(c.grade, set()).add(k)
    out: list[Hood] = []
    for subject in sorted(by_subject):
        grades = by_subject[subject]
        order = sorted(grades)
        windows = [order[i:i + 2] for i in range(max(1, len(order) - 1))]
        out.extend(frozenset().union(*(grades[g] for g in w)) for w in windows)
    return out


def _unique(hoods: object) -> list[Hood]:
    seen: set[Hood] = set()
    out = []
    for h in hoods:  # type: ignore[attr-defined]
        if h and h not in seen:
            seen.add(h)
            out.append(h)
    return out


class _Stepper:
    """One neighbourhood re-solve on a copy of the part's model: the rest fixed, the timetable as hint."""

    def __init__(self, pm: PartModel, seed: int, cancel: CancelToken | None) -> None:
        self.pm, self.seed, self.cancel = pm, seed, cancel
        self.index = {k: v.index for k, v in pm.x.items()}
        self.spent = 0.0

    def __call__(self, chosen: set[Key], cost: int, free: Hood, budget: float) -> tuple[set[Key], int] | None:
        """A placement cheaper than `chosen` (which costs `cost`) that differs only inside `free`, or None."""
        pm = self.pm
        model = pm.model.clone()
        proto = model.proto
        for k, i in self.index.items():
            if k not in free:
                domain = proto.variables[i].domain
                domain[0] = domain[1] = int(k in chosen)
        hint = proto.solution_hint
        hint.vars.clear()
        hint.values.clear()
        variables, values = pm.hint_values(chosen)
        hint.vars.extend(variables)
        hint.values.extend(values)
        # no presolve: the step is small, and presolving the whole copy cost more than solving it
        solver, status = run(model, Params(budget, seed=self.seed), self.cancel)
        self.spent += solver.response_proto.deterministic_time
        if not found(status):
            return None
        solution = solver.response_proto.solution
        better = {k for k, i in self.index.items() if solution[i]}
        new_cost = pm.cost(better)
        return (better, new_cost) if new_cost < cost else None


def piece_neighbourhoods(pm: PartModel, pieces: Sequence[tuple[Hood, tuple[int, ...]]]) -> list[Hood]:
    """Each piece (its keys, its grades), then each two pieces next to each other in grade order (a teacher
    of adjacent grades is what couples them most often), then each subject over all grades (its teachers'
    lessons all free at once: on one L-busy part of seed 2 that took the search from 1472 to 1410)."""
    order = [keys for keys, _grades in sorted(pieces, key=lambda p: (p[1], sorted(p[0])))]
    subjects: dict[str, set[Key]] = defaultdict(set)
    for k, c in pm.cand.items():
        subjects[c.subject].add(k)
    return _unique([*order, *(a | b for a, b in zip(order, order[1:], strict=False)),
                    *(frozenset(subjects[s]) for s in sorted(subjects))])


def piece_search(
    pm: PartModel, chosen: set[Key], hoods: Sequence[Hood], budget: float, seed: int = 0,
    cancel: CancelToken | None = None, enough: int = -1,
) -> tuple[set[Key], int]:
    """Rounds over the piece neighbourhoods (`piece_neighbourhoods`) until one brings nothing, `budget`
    deterministic units are spent or the cost is down to `enough`; returns the best placement and its cost."""
    step = _Stepper(pm, seed, cancel)
    cost = pm.cost(chosen)
    improved = True
    while improved and step.spent < budget and cost > enough:
        improved = False
        for free in hoods:
            if step.spent >= budget or cost <= enough:
                break
            better = step(chosen, cost, free, min(PIECE_STEP_TIME, budget - step.spent))
            if better is not None:
                (chosen, cost), improved = better, True
    return chosen, cost


def improve(
    pm: PartModel, chosen: set[Key], budget: float, seed: int = 0, cancel: CancelToken | None = None,
) -> tuple[set[Key], int]:
    """Descend on `pm`'s full cost from `chosen` within `budget` deterministic units; returns the best
    placement and its cost. `pm.full_objective()` must be set."""
    step = _Stepper(pm, seed, cancel)
    cost = pm.cost(chosen)
    wide = wide_neighbourhoods(pm)
    small = True
    idle = 0          # kinds tried in a row that brought nothing
    while idle < 2 and step.spent < budget:
        improved = False
        for free in small_neighbourhoods(pm, chosen) if small else wide:
            if step.spent >= budget:
                break
            better = step(chosen, cost, free, min(STEP_TIME, budget - step.spent))
            if better is not None:
                (chosen, cost), improved = better, True
        idle = 0 if improved else idle + 1
        if not improved or not small:
            small = not small
    return chosen, cost
