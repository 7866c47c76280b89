"""The term's lessons land on the right dates, and the iCalendar export expands to exactly those lessons."""

from __future__ import annotations

import datetime as dt

from dateutil.rrule import rrulestr
from icalendar import Calendar

from scheduler.calendar import TZ, Move, occurrences
from scheduler.county import County
from scheduler.ical import export, lessons_for
from scheduler.timetable import Lesson, Timetable

# Li Ying's grade-3 English on Friday period 2 at 城关一小 (08:50–09:30), to three remote classes
FRIDAY = Lesson(5, 2, "t-eng", "english", 3, ("r1-3", "r2-3", "r3-3"))
# Chen Mei's art on Wednesday period 5 at 实验小学 (14:00–14:45)
WEDNESDAY = Lesson(3, 5, "t-art", "art", 5, ("r1-5",))


def test_holidays_dropped_and_makeup_days_follow_their_weekday(small: County) -> None:
    occ = occurrences(small, Timetable([FRIDAY, WEDNESDAY]))
    fridays = [o for o in occ if o.lesson_key == FRIDAY.key]
    dates = [o.date for o in fridays]
    assert dt.date(2026, 9, 4) in dates                  # the first Friday of term
    assert dt.date(2026, 9, 25) not in dates             # 中秋节, a Friday holiday
    assert dt.date(2026, 10, 2) not in dates             # 国庆节
    sunday = next(o for o in fridays if o.date == dt.date(2026, 9, 27))  # Sunday 调休 follows Friday
    assert sunday.kind == "makeup" and sunday.follows == 5
    assert sunday.start == dt.datetime(2026, 9, 27, 8, 50, tzinfo=TZ)
    assert sunday.end == dt.datetime(2026, 9, 27, 9, 30, tzinfo=TZ)
    assert len(fridays) == 9 - 2 + 1                     # 9 Fridays in Sept–Oct, 2 holidays, 1 make-up
    wednesdays = [o.date for o in occ if o.lesson_key == WEDNESDAY.key]
    assert dt.date(2026, 10, 10) in wednesdays           # Saturday 调休 follows Wednesday
    assert dt.date(2026, 10, 7) not in wednesdays
    assert all(o.start.tzinfo == TZ for o in occ)


def _expand(ics: bytes) -> set[tuple[str, dt.datetime, dt.datetime]]:
    """Expand every VEVENT (RRULE minus EXDATE, or a single event) as any calendar client would."""
    out = set()
    for ev in Calendar.from_ical(ics).walk("VEVENT"):
        key = str(ev["x-sanke-lesson"])
        start, end = ev.decoded("dtstart"), ev.decoded("dtend")
        assert start.tzinfo is not None and str(ev["dtstart"].params["TZID"]) == "Asia/Shanghai"
        if "rrule" in ev:
            rule = ev["rrule"].to_ical().decode()
            assert "UNTIL=" in rule and rule.split("UNTIL=")[1][:16].endswith("Z")
            starts = set(rrulestr(rule, dtstart=start))
            exdates = ev.get("exdate") or []
            for ex in exdates if isinstance(exdates, list) else [exdates]:
                starts -= {d.dt for d in ex.dts}
        else:
            starts = {start}
        out |= {(key, s, s + (end - start)) for s in starts}
    return out


def test_ical_round_trip_equals_occurrences(small: County) -> None:
    tt = Timetable([FRIDAY, WEDNESDAY])
    moves = [Move(FRIDAY.key, dt.date(2026, 10, 16), dt.date(2026, 10, 15), 3)]   # moved to Thursday p3
    occ = occurrences(small, tt, moves)
    assert any(o.kind == "moved" and o.date == dt.date(2026, 10, 15) for o in occ)
    ics = export(small, tt, lessons_for(small, tt, classroom="r1-3") + [WEDNESDAY], "石桥小学", moves)
    assert _expand(ics) == {(o.lesson_key, o.start, o.end) for o in occ}
    assert b"TZID=Asia/Shanghai" in ics and b"BEGIN:VTIMEZONE" in ics


def test_ical_per_teacher_only_holds_her_lessons(small: County) -> None:
    tt = Timetable([FRIDAY, WEDNESDAY])
    ics = export(small, tt, lessons_for(small, tt, teacher="t-art"), "陈美")
    assert {k for k, _s, _e in _expand(ics)} == {WEDNESDAY.key}
    assert lessons_for(small, tt, school="r3") == [FRIDAY]
