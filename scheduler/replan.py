"""What a re-plan moved, and what the change forced it to move.

A re-plan starts from the timetable the schools follow (usually the published one of the previous county
version), matched by county ids: (classroom, teacher, weekday, period) of every class-lesson. A class-lesson
is *forced* to move when the new county no longer allows it where it was (the teacher became unavailable,
the classroom busy, the demand shrank or went, the teacher or classroom is gone, a pin changed), and also
when it is *displaced*: a forced lesson whose classroom has few open periods may fit only where another of
its lessons is, which then moves, and so on (L-busy seed 3: one forced class-lesson, seven displaced). The
solver proves how many must give way (`SolveResult.least_moves`: CP-SAT's bound on the previous class-lessons
any timetable placing as much must move), so a chain the change makes unavoidable is counted as forced, and
nothing the solver moved by choice is. The benchmark's target is moved ≤ 2 × forced.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from scheduler.candidates import CountyIndex
from scheduler.county import County
from scheduler.timetable import Timetable

Assignment = tuple[str, str, int, int]
"""A class-lesson's place: (classroom, teacher, weekday, period), as `Timetable.assignments`."""


@dataclass
class MoveReport:
    moved: int
    """Class-lessons of the previous timetable not at the same teacher and period any more."""
    forced: int
    """Of the previous class-lessons, those the new county data no longer allows where they were, and those
    that must give way to them for everything to stay placed (`displaced`)."""
    added: int
    """Class-lessons in the new timetable that were not in the previous one (moved ones land here too)."""
    by_teacher: dict[str, int] = field(default_factory=dict)
    by_classroom: dict[str, int] = field(default_factory=dict)
    displaced: int = 0
    """Of `forced`, those the new data still allows where they were but that no timetable placing as much
    can keep (proven by CP-SAT)."""

    def to_json(self) -> dict:
        return {"moved": self.moved, "forced": self.forced, "displaced": self.displaced, "added": self.added,
                "by_teacher": self.by_teacher, "by_classroom": self.by_classroom}


def forced_moves(county: County, previous: Timetable, allowed: set[Assignment] | None = None) -> set[Assignment]:
    """Previous class-lessons that cannot stay where they are under `county` (`allowed`: its places, if known)."""
    if allowed is None:
        allowed = _allowed(CountyIndex(county))
    demand = {(d.classroom, d.subject): d.per_week for d in county.demand}
    forced = {a for a in previous.assignments() if a not in allowed}
    placed: Counter[tuple[str, str]] = Counter()
    for ls in sorted(previous.lessons):
        for room in ls.classrooms:
            if (room, ls.teacher, ls.weekday, ls.period) in forced:
                continue
            placed[(room, ls.subject)] += 1
            if placed[(room, ls.subject)] > demand.get((room, ls.subject), 0):
                forced.add((room, ls.teacher, ls.weekday, ls.period))
    return forced


def move_report(county: County, previous: Timetable, after: Timetable, least_moves: int = 0) -> MoveReport:
    """`least_moves`: the solver's proven fewest moves among the previous class-lessons the new data still
    allows (`SolveResult.least_moves`); those beyond the ones a shrunk demand forces are the displaced."""
    old, new = previous.assignments(), after.assignments()
    gone = old - new
    by_teacher = Counter(t for _room, t, _wd, _p in gone)
    by_classroom = Counter(room for room, _t, _wd, _p in gone)
    allowed = _allowed(CountyIndex(county))
    forced = forced_moves(county, previous, allowed)
    displaced = max(0, least_moves - len(forced & allowed))
    return MoveReport(
        moved=len(gone), forced=len(forced) + displaced, added=len(new - old),
        by_teacher=dict(sorted(by_teacher.items())), by_classroom=dict(sorted(by_classroom.items())),
        displaced=displaced,
    )


def _allowed(index: CountyIndex) -> set[Assignment]:
    return {(c.classroom, c.teacher, c.weekday, c.period) for o in index.options for c in o.candidates}
