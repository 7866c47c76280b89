"""Term calendar × weekly timetable → the concrete lessons of the term.

A holiday drops the day; a make-up day (调休), usually a Saturday or Sunday, runs the timetable of the
weekday it follows. A lesson moved by hand for one date is dropped there and added on its new date.
Times are local to the county (Asia/Shanghai) and come from the hub school's bells for the weekday
whose timetable the day follows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from scheduler.county import County, Term, weekday_number
from scheduler.timetable import Lesson, Timetable

TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Move:
    """A one-off change: the lesson `lesson_key` of `date` is held on `new_date` in hub period `new_period`."""

    lesson_key: str
    date: dt.date
    new_date: dt.date
    new_period: int


@dataclass(frozen=True, order=True)
class Occurrence:
    start: dt.datetime
    end: dt.datetime
    lesson_key: str
    date: dt.date
    follows: int
    """ISO weekday whose timetable the day runs (differs from the date's own on a make-up day)."""
    kind: str
    """"regular", "makeup" or "moved"."""
    lesson: Lesson

    @property
    def ref(self) -> str:
        """The stable reference a room created for this occurrence carries (`timetable_ref`)."""
        return f"{self.lesson_key}/{self.date.isoformat()}"


def school_days(term: Term) -> list[tuple[dt.date, int, bool]]:
    """(date, weekday followed, is make-up day) for every day of the term that has a timetable."""
    holidays: set[dt.date] = set()
    for h in term.holidays:
        day = h.start
        while day <= h.last:
            holidays.add(day)
            day += dt.timedelta(days=1)
    makeup = {m.date: weekday_number(m.follows) for m in term.makeup_days}
    out = []
    day = term.start
    while day <= term.end:
        if day in makeup:
            out.append((day, makeup[day], True))
        elif day not in holidays:
            out.append((day, day.isoweekday(), False))
        day += dt.timedelta(days=1)
    return out


def is_holiday(term: Term, day: dt.date) -> bool:
    return any(h.start <= day <= h.last for h in term.holidays) and day not in {m.date for m in term.makeup_days}


def lesson_times(county: County, lesson: Lesson, day: dt.date, weekday: int, period: int) -> tuple[dt.datetime, dt.datetime]:
    teacher = next(t for t in county.teachers if t.id == lesson.teacher)
    school = next(s for s in county.schools if s.id == teacher.school)
    p = school.bells.for_weekday(weekday)[period - 1]
    start = dt.datetime.combine(day, dt.time(p.start_min // 60, p.start_min % 60), TZ)
    end = dt.datetime.combine(day, dt.time(p.end_min // 60, p.end_min % 60), TZ)
    return start, end


def occurrences(
    county: County, timetable: Timetable, moves: list[Move] | None = None,
    since: dt.date | None = None, until: dt.date | None = None,
) -> list[Occurrence]:
    if county.term is None:
        return []
    moved = {(m.lesson_key, m.date): m for m in moves or []}
    by_weekday: dict[int, list[Lesson]] = {}
    for lesson in timetable.lessons:
        by_weekday.setdefault(lesson.weekday, []).append(lesson)
    out: list[Occurrence] = []
    for day, follows, makeup in school_days(county.term):
        for lesson in by_weekday.get(follows, []):
            if (lesson.key, day) in moved:
                continue
            start, end = lesson_times(county, lesson, day, follows, lesson.period)
            out.append(Occurrence(start, end, lesson.key, day, follows, "makeup" if makeup else "regular", lesson))
    lessons = {ls.key: ls for ls in timetable.lessons}
    for m in moves or []:
        lesson = lessons.get(m.lesson_key)
        if lesson is None:
            continue
        start, end = lesson_times(county, lesson, m.new_date, m.new_date.isoweekday(), m.new_period)
        out.append(Occurrence(start, end, lesson.key, m.new_date, m.new_date.isoweekday(), "moved", lesson))
    out = [o for o in out if (since is None or o.date >= since) and (until is None or o.date <= until)]
    out.sort()
    return out
