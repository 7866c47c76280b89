"""A fast greedy placement: CP-SAT starts from it (a solution hint), so a good timetable comes early.

Several demand orders are tried and the best board kept (most placed, then fewest lessons); all are
deterministic, so the hint and hence the solver's result are too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from scheduler.board import Board
from scheduler.candidates import Candidate, CountyIndex, DemandOptions

OrderKey = Callable[[DemandOptions], tuple]

ORDERS: dict[str, OrderKey] = {
    # most constrained first: fewest places per lesson needed
    "constrained": lambda o: (len(o.candidates) / o.demand.per_week, o.demand.classroom, o.demand.subject),
    # one subject at a time: classes of a grade gather into the same lessons (larger N)
    "by-subject": lambda o: (o.demand.subject, len(o.candidates) / o.demand.per_week, o.demand.classroom),
    # fewest teachers able to serve first
    "few-teachers": lambda o: (
        len({c.teacher for c in o.candidates}), len(o.candidates) / o.demand.per_week, o.demand.classroom,
        o.demand.subject,
    ),
}


def greedy_place(index: CountyIndex, options: list[DemandOptions], board: Board | None = None,
                 order: OrderKey = ORDERS["constrained"], gather: bool = True) -> Board:
    """Place demand in `order`; join an existing lesson before opening a new one, and open it (`gather`)
    where most demands still short of lessons could join it too."""
    board = board or Board(index)
    joinable: dict[tuple[str, int, int, int], list[DemandOptions]] = defaultdict(list)
    for o in options:
        for c in o.candidates:
            joinable[(*c.lesson, c.grade)].append(o)

    def open_to(c: Candidate) -> int:
        """Other demands that still need a lesson and could join one opened at `c`: open where many
        classrooms share an open period, so that later ones join instead of opening their own."""
        return sum(1 for o in joinable[(*c.lesson, c.grade)]
                   if board.placed[(o.demand.classroom, o.demand.subject)] < o.demand.per_week
                   and c.weekday not in board.subject_days[(o.demand.classroom, o.demand.subject)])

    for opt in sorted(options, key=order):
        key = (opt.demand.classroom, opt.demand.subject)
        while board.placed[key] < opt.demand.per_week:
            best: tuple[tuple, Candidate] | None = None
            for c in opt.candidates:
                if board.blocker(c) is not None:
                    continue
                lesson = board.lessons.get(c.lesson)
                score = (
                    (0, -len(lesson.classrooms)) if lesson is not None else (1, -open_to(c) if gather else 0, board.teacher_week[c.teacher]),
                    c.weekday, c.period, c.teacher,
                )
                if best is None or score < best[0]:
                    best = (score, c)
            if best is None:
                break
            board.add(best[1])
    return board


def repair(board: Board, options: list[DemandOptions]) -> None:
    """Place what greedy left out by clearing the way: for a place `c` the missing lesson could use, take
    out what blocks it (one class-lesson, or the whole lesson of another grade the teacher has then), add
    `c`, and put each removed class-lesson anywhere else it fits; undo all of it if one does not fit."""
    by_key = {(o.demand.classroom, o.demand.subject): o for o in options}
    for opt in options:
        key = (opt.demand.classroom, opt.demand.subject)
        progress = True
        while board.placed[key] < opt.demand.per_week and progress:
            progress = False
            for c in opt.candidates:
                if board.has(c):
                    continue
                lesson = board.lessons.get(c.lesson)
                groups = [[e] for e in board.related(c)]
                if lesson is not None and board.blocker(c) is not None and set(lesson.grades) != {c.grade}:
                    groups.append([e for room in lesson.classrooms for e in board.assigned[room] if e.lesson == c.lesson])
                if any(_eject(board, c, group, by_key) for group in groups):
                    progress = True
                    break


def _eject(board: Board, c: Candidate, group: list[Candidate], by_key: dict) -> bool:
    for e in group:
        board.remove(e)
    if board.blocker(c) is not None:
        for e in group:
            board.add(e)
        return False
    board.add(c)
    placed: list[Candidate] = []
    for e in group:
        other = by_key.get((e.classroom, e.subject))
        alternative = next((a for a in (other.candidates if other else [])
                            if a.lesson != e.lesson and not board.has(a) and board.blocker(a) is None), None)
        if alternative is None:
            for a in placed:
                board.remove(a)
            board.remove(c)
            for x in group:
                board.add(x)
            return False
        board.add(alternative)
        placed.append(alternative)
    return True


def best_greedy(index: CountyIndex, options: list[DemandOptions], start: Callable[[], Board]) -> Board:
    """The best board over all orders, each begun from a fresh `start()` (e.g. the kept lessons)."""
    best: tuple[tuple[int, int], Board] | None = None
    demanded = sum(o.demand.per_week for o in options)
    for order, gather in ((o, g) for g in (True, False) for o in ORDERS.values()):
        board = greedy_place(index, options, start(), order, gather)
        if sum(board.placed.values()) < demanded:
            repair(board, options)
        # the cost's own weights (scheduler.model): one class-lesson left out is worth 50 lessons
        score = (50 * (demanded - sum(board.placed.values())) + len(board.lessons), 0)
        if best is None or score < best[0]:
            best = (score, board)
    assert best is not None
    return best[1]


def greedy_hint(index: CountyIndex, options: list[DemandOptions],
                keep: set[tuple[str, str, int, int]]) -> set[tuple[str, str, int, int]]:
    """The best greedy placement as (classroom, teacher, weekday, period) keys, begun from the kept ones that
    still fit (the previous timetable when re-planning): the CP-SAT hint of a part or of one piece."""
    cand = {(c.classroom, c.teacher, c.weekday, c.period): c for o in options for c in o.candidates}

    def start() -> Board:
        board = Board(index)
        for k in sorted(keep & cand.keys()):
            if board.blocker(cand[k]) is None:
                board.add(cand[k])
        return board

    board = best_greedy(index, options, start)
    return {(room, t, wd, p) for (t, wd, p), ls in board.lessons.items() for room in ls.classrooms}
