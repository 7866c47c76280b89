"""What the timetable page shows: lessons with names and times, the validator's findings, and each
classroom's busy periods so the grid can grey them and refuse a drag onto one before asking the server."""

from __future__ import annotations

from scheduler.county import County, subject_label
from scheduler.slots import school_slots
from scheduler.timetable import Timetable
from scheduler.validator import validate


def county_summary(county: County) -> dict:
    return {
        "name": county.name, "schools": len(county.schools), "classrooms": len(county.classrooms),
        "teachers": len(county.teachers), "demand": sum(d.per_week for d in county.demand),
        "term": county.term.model_dump(mode="json") if county.term else None,
    }


def busy_periods(county: County) -> dict[str, list[list[int]]]:
    """Classroom id → [weekday, period, start, end] of each period of its own bells it is busy in, in
    minutes of the week (Monday 00:00 = 0); classrooms with every period open are left out."""
    schools = {s.id: s for s in county.schools}
    out: dict[str, list[list[int]]] = {}
    for room in county.classrooms:
        if room.open is None and not room.busy or room.school not in schools:
            continue
        out[room.id] = [[s.weekday, s.period, s.start, s.end] for s in school_slots(schools[room.school])
                        if room.is_busy(s.weekday, s.period)]
    return out


def timetable_view(county: County, row_id: int, state: str, tt: Timetable) -> dict:
    teachers = {t.id: t for t in county.teachers}
    rooms = {c.id: c for c in county.classrooms}
    schools = {s.id: s for s in county.schools}
    lessons = []
    for ls in tt.lessons:
        teacher = teachers.get(ls.teacher)
        hub = schools.get(teacher.school) if teacher else None
        day = hub.bells.for_weekday(ls.weekday) if hub else []
        period = day[ls.period - 1] if ls.period <= len(day) else None
        lessons.append({
            **ls.to_json(), "subject_label": subject_label(ls.subject),
            "teacher_name": teacher.name if teacher else ls.teacher, "hub": teacher.school if teacher else "",
            "hub_classroom": teacher.classroom if teacher else None,
            "start": period.start if period else "", "end": period.end if period else "",
            "classroom_names": [f"{schools[rooms[c].school].name} {rooms[c].name}" if c in rooms else c
                                for c in ls.classrooms],
            "schools": sorted({rooms[c].school for c in ls.classrooms if c in rooms}),
        })
    violations = validate(county, tt)
    return {
        "id": row_id, "state": state, "placed": tt.placed_count(),
        "demanded": sum(d.per_week for d in county.demand), "lessons": lessons,
        "unplaced": tt.to_json()["unplaced"],
        "violations": [{"code": v.code, "lesson": v.lesson, "message": v.message} for v in violations],
        "schools": [{"id": s.id, "name": s.name, "kind": s.kind} for s in county.schools],
        "teachers": [{"id": t.id, "name": t.name, "school": t.school, "subject": t.subject,
                      "classroom": t.classroom} for t in county.teachers],
        "classrooms": [{"id": c.id, "name": c.name, "school": c.school, "grade": c.grade,
                        "label": f"{schools[c.school].name} {c.name}" if c.school in schools else c.name}
                       for c in county.classrooms],
        "hub_periods": {s.id: [[p.weekday, p.period, p.start, p.end] for p in school_slots(s)]
                        for s in county.schools if s.kind == "hub"},
        "busy": busy_periods(county),
    }
