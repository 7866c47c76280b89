"""Teaching progress (教学进度): a teaching group's ordered textbook sections with planned lesson counts and
weeks, and what each lesson occurrence teaches.

Pure functions over plain data: the catalogue's sections come in as `Section`s (the web layer reads them
from the library), the lessons as `LessonFact`s (from the term calendar, the rooms that were held and
the teachers' corrections). Walking the lessons in order gives every occurrence its planned section, the
next one after what was actually taught: a lesson not held does not move the plan (what follows shifts
instead of content being skipped), a correction moves the plan to the section really taught.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from scheduler.calendar import school_days
from scheduler.county import Term

ON_TRACK_SLACK = 1  # lessons ahead or behind that still count as on track


@dataclass(frozen=True, slots=True)
class Section:
    """A textbook section (节), or a chapter without sections, as the plan orders it."""

    node_id: int
    chapter: str
    section: str
    knowledge: tuple[str, ...] = ()  # knowledge-point names it teaches


@dataclass(slots=True)
class PlanItem:
    section: Section
    lessons: int  # planned number of lessons (课时)
    week: int  # planned teaching week of the term (1 = the term's first week)


@dataclass(frozen=True, slots=True)
class LessonFact:
    """One occurrence of the group's lessons: held (True), not held (False) or still to come (None)."""

    ref: str  # the timetable reference a room carries: "<lesson key>/<date>"
    date: dt.date
    held: bool | None
    corrected_node: int | None = None  # the section the teacher says was (or is being) taught


@dataclass(frozen=True, slots=True)
class Assigned:
    ref: str
    date: dt.date
    node_id: int | None  # what this lesson teaches (planned, or corrected); None past the plan's end
    planned_node: int | None  # what the plan had for it
    state: str  # taught | corrected | not_held | planned


@dataclass(slots=True)
class Walk:
    lessons: list[Assigned] = field(default_factory=list)
    position: int = 0  # lessons of the plan taught so far (in plan units: sections before + taught in current)
    current: int | None = None  # index of the next planned item


def term_week(term: Term, day: dt.date) -> int:
    """Week of the term a day falls in (1-based, Monday to Sunday)."""
    first_monday = term.start - dt.timedelta(days=term.start.weekday())
    return (day - first_monday).days // 7 + 1


def teaching_weeks(term: Term) -> list[int]:
    """Term weeks with at least one school day (a holiday week has none; a 调休 Saturday counts)."""
    return sorted({term_week(term, day) for day in _weekdays(term)})


def _weekdays(term: Term) -> list[dt.date]:
    """School days that run a Monday–Friday timetable (weekends only when they are 调休 days)."""
    return [day for day, follows, _ in school_days(term) if follows <= 5]


def default_plan(sections: list[Section], lesson_dates: list[dt.date], term: Term, per_week: int = 2) -> list[PlanItem]:
    """Spread the sections over the group's lessons of the term: each section gets an equal share of the
    lessons (earlier sections take the remainder, at least one each), and the week of its first lesson.

    `lesson_dates` are the group's timetabled dates (holidays already out); without a timetable the term's
    teaching weeks × `per_week` stand in for them.
    """
    if not sections:
        return []
    dates = sorted(lesson_dates)
    if not dates:
        by_week: dict[int, list[dt.date]] = {}
        for day in _weekdays(term):
            by_week.setdefault(term_week(term, day), []).append(day)
        dates = [d for week in sorted(by_week) for d in by_week[week][:per_week]]
    total = max(len(dates), len(sections))
    base, extra = divmod(total, len(sections))
    items: list[PlanItem] = []
    used = 0
    for i, section in enumerate(sections):
        lessons = base + (1 if i < extra else 0)
        start = dates[min(used, len(dates) - 1)] if dates else term.start
        items.append(PlanItem(section, lessons, term_week(term, start)))
        used += lessons
    return items


def walk(items: list[PlanItem], facts: list[LessonFact]) -> Walk:
    """Give each lesson, in date order, its section; see the module docstring for the rules."""
    out = Walk()
    index = {item.section.node_id: i for i, item in enumerate(items)}
    cur, done = 0, 0  # item index, lessons taught in it

    def advance(i: int, same: bool) -> tuple[int, int]:
        taught = (done if same else 0) + 1
        if taught >= items[i].lessons:
            return i + 1, 0
        return i, taught

    def covered() -> None:
        out.position = sum(item.lessons for item in items[:cur]) + done
        out.current = cur if cur < len(items) else None

    covered()
    for fact in sorted(facts, key=lambda f: (f.date, f.ref)):
        planned = items[cur].section.node_id if cur < len(items) else None
        if fact.corrected_node is not None and fact.corrected_node in index:
            i = index[fact.corrected_node]
            state = "corrected" if fact.corrected_node != planned else ("taught" if fact.held else "planned")
            out.lessons.append(Assigned(fact.ref, fact.date, fact.corrected_node, planned, state))
            if fact.held is not False:
                cur, done = advance(i, i == cur)
            if fact.held is not None:
                covered()
            continue
        if fact.held is False:
            out.lessons.append(Assigned(fact.ref, fact.date, planned, planned, "not_held"))
            continue
        out.lessons.append(Assigned(fact.ref, fact.date, planned, planned, "taught" if fact.held else "planned"))
        if planned is not None:
            cur, done = advance(cur, True)
        if fact.held:
            covered()  # position and current stop at what happened; later lessons are a projection
    return out


@dataclass(frozen=True, slots=True)
class Status:
    expected: int  # lessons the plan puts before this week
    actual: int  # lessons of the plan covered
    verdict: str  # ahead | on_track | behind
    by: int  # lessons ahead or behind

    def to_json(self) -> dict:
        return {"expected": self.expected, "actual": self.actual, "verdict": self.verdict, "by": self.by}


def status(items: list[PlanItem], facts: list[LessonFact], term: Term, today: dt.date) -> Status:
    """Planned vs actual: the plan's lessons in weeks before this one against what was taught."""
    week = term_week(term, today)
    expected = sum(item.lessons for item in items if item.week < week)
    actual = walk(items, facts).position
    delta = actual - expected
    if abs(delta) <= ON_TRACK_SLACK:
        return Status(expected, actual, "on_track", abs(delta))
    return Status(expected, actual, "ahead" if delta > 0 else "behind", abs(delta))
