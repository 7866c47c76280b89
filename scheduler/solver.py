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

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from scheduler.board import Board
from scheduler.candidates import Candidate, CountyIndex, DemandOptions
from scheduler.county import County
from scheduler.greedy import best_greedy
from scheduler.reasons import explain_unplaced
from scheduler.timetable import Lesson, Timetable

W_PLACE = 1000
W_KEEP = 100
W_LESSON = 20
W_SPREAD = 2
W_GAP = 1


@dataclass(frozen=True)
class SolveOptions:
    deterministic_time: float = 0.05
    """CP-SAT budget per part for the full objective, in its deterministic time units, started from a hint
    that places everything it can (without presolve, so the hint is checked and improved at once)."""
    repair_time: float = 2.0
    """Budget per part for the placement-only stage, run when the hint leaves demand unplaced."""
    wall_time: float = 600.0
    """Safety net only: hitting it makes the result depend on machine speed."""
    workers: int = 1
    """CP-SAT workers; 1 keeps the search order, hence the result, fixed."""
    seed: int = 0
    linearization: int = 1
    """CP-SAT's linearization level (1, its default, was the fastest to a placement here)."""


@dataclass
class SolveResult:
    timetable: Timetable
    seconds: float
    parts: int
    statuses: list[str]


def solve(
    county: County, options: SolveOptions | None = None, previous: Timetable | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SolveResult:
    """Solve the county; `progress(done, parts)` is called after each independent part (for a progress bar)."""
    options = options or SolveOptions()
    began = time.perf_counter()
    index = CountyIndex(county)
    keep = previous.assignments() if previous is not None else set()
    lessons: list[Lesson] = []
    statuses: list[str] = []
    parts = _parts(index.options)
    for done, part in enumerate(parts, start=1):
        part_lessons, status = _solve_part(index, part, options, keep)
        lessons.extend(part_lessons)
        statuses.append(status)
        if progress is not None:
            progress(done, len(parts))
    lessons.sort()
    board = Board(index)
    by_key = {(c.classroom, *c.lesson): c for opt in index.options for c in opt.candidates}
    for ls in lessons:
        for room in ls.classrooms:
            board.add(by_key[(room, ls.teacher, ls.weekday, ls.period)])
    unplaced = explain_unplaced(index, board)
    return SolveResult(Timetable(lessons, unplaced), time.perf_counter() - began, len(parts), statuses)


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
    index: CountyIndex, part: list[DemandOptions], options: SolveOptions, keep: set[tuple[str, str, int, int]]
) -> tuple[list[Lesson], str]:
    model = cp_model.CpModel()
    max_n = index.county.settings.max_n
    x: dict[tuple[str, str, int, int], cp_model.IntVar] = {}
    cand: dict[tuple[str, str, int, int], Candidate] = {}
    y: dict[tuple[str, int, int, int], cp_model.IntVar] = {}
    members: dict[tuple[str, int, int, int], list[cp_model.IntVar]] = defaultdict(list)
    for opt in part:
        for c in opt.candidates:
            k = (c.classroom, c.teacher, c.weekday, c.period)
            x[k] = model.new_bool_var("")
            cand[k] = c
            lk = (c.teacher, c.weekday, c.period, c.grade)
            if lk not in y:
                y[lk] = model.new_bool_var("")
            members[lk].append(x[k])

    for lk, xs in members.items():
        for v in xs:
            model.add_implication(v, y[lk])
        model.add(sum(xs) <= max_n * y[lk])
        model.add(sum(xs) >= y[lk])

    teacher_slot: dict[tuple[str, int, int], list[cp_model.IntVar]] = defaultdict(list)
    for (t, wd, p, _g), v in y.items():
        teacher_slot[(t, wd, p)].append(v)
    active: dict[tuple[str, int, int], cp_model.LinearExprT] = {}
    per_week: dict[str, list] = defaultdict(list)
    per_day: dict[tuple[str, int], list] = defaultdict(list)
    hub_at: dict[tuple[str, int, int], list] = defaultdict(list)
    hub_room: dict[tuple[str, int, int], list] = defaultdict(list)
    for (t, wd, p), vs in sorted(teacher_slot.items()):
        if len(vs) > 1:
            model.add_at_most_one(vs)
        active[(t, wd, p)] = sum(vs)
        per_week[t].extend(vs)
        per_day[(t, wd)].extend(vs)
        hub_at[(index.teachers[t].school, wd, p)].extend(vs)
        if index.teachers[t].classroom is not None:
            hub_room[(index.teachers[t].classroom, wd, p)].extend(vs)
    for t, vs in per_week.items():
        if len(vs) > index.teachers[t].max_per_week:
            model.add(sum(vs) <= index.teachers[t].max_per_week)
    for (t, _wd), vs in per_day.items():
        if len(vs) > index.teachers[t].max_per_day:
            model.add(sum(vs) <= index.teachers[t].max_per_day)
    for vs in hub_room.values():
        if len(vs) > 1:
            model.add_at_most_one(vs)
    for (hub, _wd, _p), vs in hub_at.items():
        if len(vs) > index.schools[hub].max_lessons_at_once:
            model.add(sum(vs) <= index.schools[hub].max_lessons_at_once)

    spread_terms = []
    for opt in part:
        d = opt.demand
        vs = [x[(c.classroom, c.teacher, c.weekday, c.period)] for c in opt.candidates]
        model.add(sum(vs) <= d.per_week)
        by_day: dict[int, list] = defaultdict(list)
        day_keys: dict[int, list] = defaultdict(list)
        for c, v in zip(opt.candidates, vs, strict=True):
            by_day[c.weekday].append(v)
            day_keys[c.weekday].append(_key(c))
        for day_vs in by_day.values():
            if len(day_vs) > 1:
                model.add_at_most_one(day_vs)
        if d.per_week <= 3:
            for wd in sorted(by_day):
                if wd + 1 in by_day:
                    both = model.new_bool_var("")
                    model.add(sum(by_day[wd]) + sum(by_day[wd + 1]) <= 1 + both)
                    spread_terms.append((both, day_keys[wd], day_keys[wd + 1]))

    by_class: dict[str, list[Candidate]] = defaultdict(list)
    by_remote: dict[str, list[Candidate]] = defaultdict(list)
    for c in cand.values():
        by_class[c.classroom].append(c)
        by_remote[c.remote].append(c)
    for cs in by_class.values():
        for clique in _cliques([(c.busy_start, c.busy_end, x[_key(c)]) for c in cs]):
            model.add_at_most_one(clique)
    for remote, cs in by_remote.items():
        limit = index.schools[remote].streams
        if len({c.classroom for c in cs}) <= limit:
            continue
        for clique in _cliques([(c.start, c.end, x[_key(c)]) for c in cs]):
            if len(clique) > limit:
                model.add(sum(clique) <= limit)

    gap_terms = []
    for (t, wd, p), a in active.items():
        before, after = active.get((t, wd, p - 1)), active.get((t, wd, p + 1))
        if before is not None and after is not None:
            gap = model.new_bool_var("")
            model.add(before + after - a - 1 <= gap)
            gap_terms.append((gap, t, wd, p))

    kept = [v for k, v in x.items() if k in keep]
    demanded = sum(opt.demand.per_week for opt in part)

    def set_hint(chosen: set[tuple[str, str, int, int]]) -> None:
        model.clear_hints()
        for k, v in x.items():
            model.add_hint(v, k in chosen)
        lessons = {(c.teacher, c.weekday, c.period, c.grade) for k, c in cand.items() if k in chosen}
        for lk, v in y.items():
            model.add_hint(v, lk in lessons)
        for v, day1, day2 in spread_terms:
            model.add_hint(v, any(k in chosen for k in day1) and any(k in chosen for k in day2))
        busy = {(t, wd, p) for t, wd, p, _g in lessons}
        for v, t, wd, p in gap_terms:
            model.add_hint(v, (t, wd, p - 1) in busy and (t, wd, p + 1) in busy and (t, wd, p) not in busy)

    def run(budget: float, presolve: bool) -> tuple[cp_model.CpSolver, bool, str]:
        solver = cp_model.CpSolver()
        solver.parameters.cp_model_presolve = presolve
        solver.parameters.num_workers = options.workers
        solver.parameters.random_seed = options.seed
        solver.parameters.max_deterministic_time = budget
        solver.parameters.max_time_in_seconds = options.wall_time
        solver.parameters.linearization_level = options.linearization
        status = solver.solve(model)
        return solver, status in (cp_model.OPTIMAL, cp_model.FEASIBLE), solver.status_name(status)

    hint = _hint(index, part, keep, cand)
    statuses = []
    if len(hint) < demanded:
        # placement first, alone: its bound (all demand) is known, so CP-SAT stops as soon as it gets there
        model.maximize(sum(x.values()) * (W_KEEP + 1) + sum(kept))
        set_hint(hint)
        solver, found, status = run(options.repair_time, True)
        statuses.append(status)
        if found:
            hint = {k for k, v in x.items() if solver.boolean_value(v)}
    model.maximize(
        W_PLACE * sum(x.values()) + W_KEEP * sum(kept) - W_LESSON * sum(y.values())
        - W_SPREAD * sum(v for v, _a, _b in spread_terms) - W_GAP * sum(v for v, *_ in gap_terms)
    )
    set_hint(hint)
    solver, found, status = run(options.deterministic_time, False)
    statuses.append(status if found else "HINT")
    chosen: dict[tuple[str, int, int, int], list[str]] = defaultdict(list)
    for k in sorted(x):
        if solver.boolean_value(x[k]) if found else k in hint:
            c = cand[k]
            chosen[(c.teacher, c.weekday, c.period, c.grade)].append(c.classroom)
    lessons = [
        Lesson(wd, p, t, index.teachers[t].subject, g, tuple(sorted(rooms)))
        for (t, wd, p, g), rooms in chosen.items()
    ]
    return lessons, "+".join(statuses)


def _key(c: Candidate) -> tuple[str, str, int, int]:
    return (c.classroom, c.teacher, c.weekday, c.period)


def _cliques(intervals: list[tuple[int, int, cp_model.IntVar]]) -> list[list[cp_model.IntVar]]:
    """Maximal sets of intervals sharing a point: 'at most one at any time' is exact for intervals.

    A sweep over the start points keeps the intervals open at each one."""
    order = sorted(range(len(intervals)), key=lambda i: intervals[i][0])
    out: list[list[cp_model.IntVar]] = []
    active: list[int] = []
    previous: frozenset[int] = frozenset()
    pos = 0
    for point in sorted({s for s, _e, _v in intervals}):
        while pos < len(order) and intervals[order[pos]][0] <= point:
            active.append(order[pos])
            pos += 1
        active = [i for i in active if intervals[i][1] > point]
        members = frozenset(active)
        if len(members) > 1 and not members <= previous:
            out.append([intervals[i][2] for i in sorted(members)])
        previous = members
    return out


def _hint(
    index: CountyIndex, part: list[DemandOptions], keep: set, cand: dict[tuple[str, str, int, int], Candidate]
) -> set[tuple[str, str, int, int]]:
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
