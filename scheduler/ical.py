"""iCalendar (RFC 5545) export of the term's lessons for a teacher, a classroom or a school.

One VEVENT per weekly series: DTSTART with TZID=Asia/Shanghai on the first regular date, a weekly RRULE
with UNTIL in UTC, EXDATE for holidays and for dates a lesson was moved away from. Lessons on make-up days
(调休) and moved lessons are events of their own. Expanded, the export gives exactly `occurrences()`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from icalendar import Calendar, Event, vRecur

from core.exports import neutralise
from scheduler.calendar import TZ, Move, Occurrence, lesson_times, occurrences
from scheduler.county import County, subject_label
from scheduler.timetable import Lesson, Timetable

PRODID = "-//Sanke//三课 timetable//ZH"


def _uid(lesson: Lesson, suffix: str = "") -> str:
    base = f"{lesson.teacher}-{lesson.weekday}-{lesson.period}".replace("@", "-")
    return f"{base}{suffix}@sanke"


def lessons_for(county: County, timetable: Timetable, *, teacher: str | None = None,
                classroom: str | None = None, school: str | None = None) -> list[Lesson]:
    """The weekly lessons concerning one teacher, one classroom or one (hub or remote) school."""
    teacher_school = {t.id: t.school for t in county.teachers}
    room_school = {c.id: c.school for c in county.classrooms}
    out = []
    for ls in timetable.lessons:
        if teacher is not None and ls.teacher != teacher:
            continue
        if classroom is not None and classroom not in ls.classrooms:
            continue
        if school is not None and teacher_school.get(ls.teacher) != school and not any(
            room_school.get(c) == school for c in ls.classrooms
        ):
            continue
        out.append(ls)
    return out


def export(county: County, timetable: Timetable, lessons: list[Lesson], name: str,
           moves: list[Move] | None = None) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", neutralise(name))
    cal.add("x-wr-timezone", "Asia/Shanghai")
    if county.term is None:
        return cal.to_ical()
    keys = {ls.key for ls in lessons}
    sub = Timetable([ls for ls in timetable.lessons if ls.key in keys])
    occ = occurrences(county, sub, moves)
    by_lesson: dict[str, list[Occurrence]] = defaultdict(list)
    for o in occ:
        by_lesson[o.lesson_key].append(o)
    teachers = {t.id: t for t in county.teachers}
    rooms = {c.id: c for c in county.classrooms}
    until_local = dt.datetime.combine(county.term.end, dt.time(23, 59, 59), TZ)
    until = until_local.astimezone(dt.UTC)
    for lesson in sorted(lessons):
        summary = f"{subject_label(lesson.subject)} {'、'.join(map(str, lesson.all_grades))}年级 · {teachers[lesson.teacher].name}"
        where = "、".join(rooms[c].name + f"（{c}）" for c in lesson.classrooms)
        regular = [o for o in by_lesson[lesson.key] if o.kind == "regular"]
        first_day = county.term.start + dt.timedelta(days=(lesson.weekday - county.term.start.isoweekday()) % 7)
        if first_day <= county.term.end:
            start, end = lesson_times(county, lesson, first_day, lesson.weekday, lesson.period)
            ev = _event(_uid(lesson), summary, where, start, end, lesson)
            ev.add("rrule", vRecur({"FREQ": "WEEKLY", "UNTIL": until}))
            held = {o.date for o in regular}
            excluded = []
            day = first_day
            while day <= county.term.end:
                if day not in held:
                    excluded.append(lesson_times(county, lesson, day, lesson.weekday, lesson.period)[0])
                day += dt.timedelta(days=7)
            if excluded:
                ev.add("exdate", excluded)
            cal.add_component(ev)
        for o in by_lesson[lesson.key]:
            if o.kind != "regular":
                ev = _event(_uid(lesson, f"-{o.kind}-{o.date:%Y%m%d}"), summary, where, o.start, o.end, lesson)
                ev.add("comment", "调休补课" if o.kind == "makeup" else "调课")
                cal.add_component(ev)
    cal.add_missing_timezones()
    return cal.to_ical()


def _event(uid: str, summary: str, where: str, start: dt.datetime, end: dt.datetime, lesson: Lesson) -> Event:
    ev = Event()
    ev.add("uid", uid)
    ev.add("dtstamp", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    ev.add("summary", neutralise(summary))  # names typed by anyone: no formula if the file meets a spreadsheet
    ev.add("location", neutralise(where))
    ev.add("dtstart", start)
    ev.add("dtend", end)
    ev.add("x-sanke-lesson", lesson.key)
    return ev
