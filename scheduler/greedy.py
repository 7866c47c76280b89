"""A fast greedy placement: CP-SAT starts from it (a solution hint), so a good timetable comes early."""

from __future__ import annotations

from scheduler.board import Board
from scheduler.candidates import Candidate, CountyIndex, DemandOptions


def greedy_place(index: CountyIndex, options: list[DemandOptions], board: Board | None = None) -> Board:
    """Place the most constrained demand first; join an existing lesson before opening a new one."""
    board = board or Board(index)
    order = sorted(
        options, key=lambda o: (len(o.candidates) / o.demand.per_week, o.demand.classroom, o.demand.subject)
    )
    for opt in order:
        key = (opt.demand.classroom, opt.demand.subject)
        while board.placed[key] < opt.demand.per_week:
            best: tuple[tuple, Candidate] | None = None
            for c in opt.candidates:
                if board.blocker(c) is not None:
                    continue
                lesson = board.lessons.get(c.lesson)
                score = (
                    (0, -len(lesson.classrooms)) if lesson is not None else (1, board.teacher_week[c.teacher]),
                    c.weekday, c.period, c.teacher,
                )
                if best is None or score < best[0]:
                    best = (score, c)
            if best is None:
                break
            board.add(best[1])
    return board
