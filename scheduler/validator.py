"""An independent check of any timetable against the county data.

It shares nothing with the solver but the county model: bell times, overlaps and limits are recomputed
here from the raw data, so a solver bug cannot hide behind its own bookkeeping. Tests and the benchmark
count violations with this, never with the solver's status.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from scheduler.county import WEEKDAY_ZH, WEEKDAYS, Classroom, County, Period, hhmm_to_minutes
from scheduler.timetable import Lesson, Timetable

DAY = 1440


@dataclass(frozen=True)
class Violation:
    code: str
    lesson: str
    message: str


def validate(county: County, timetable: Timetable) -> list[Violation]:
    schools = {s.id: s for s in county.schools}
    rooms = {c.id: c for c in county.classrooms}
    teachers = {t.id: t for t in county.teachers}
    demand = {(d.classroom, d.subject): d.per_week for d in county.demand}
    pinned = {(d.classroom, d.subject): d.teacher for d in county.demand if d.teacher is not None}
    pairs = {(p.hub, p.remote) for p in county.pairings}
    min_overlap = county.settings.min_overlap_minutes
    out: list[Violation] = []

    def bad(code: str, lesson: Lesson, message: str) -> None:
        out.append(Violation(code, lesson.key, message))

    def periods(school_id: str, weekday: int) -> list[Period]:
        bells = schools[school_id].bells
        own = getattr(bells, WEEKDAYS[weekday - 1])
        return own if own is not None else (bells.default if weekday <= 5 else [])

    teacher_slots: Counter[tuple[str, int, int]] = Counter()
    teacher_week: Counter[str] = Counter()
    teacher_day: Counter[tuple[str, int]] = Counter()
    hub_at: Counter[tuple[str, int, int]] = Counter()
    hub_room: Counter[tuple[str, int, int]] = Counter()
    busy: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    streams: dict[str, list[tuple[int, int]]] = defaultdict(list)
    subject_day: Counter[tuple[str, str, int]] = Counter()
    placed: Counter[tuple[str, str]] = Counter()

    for lesson in timetable.lessons:
        teacher = teachers.get(lesson.teacher)
        if teacher is None:
            bad("unknown-teacher", lesson, f"没有教师 {lesson.teacher}")
            continue
        if teacher.subject != lesson.subject:
            bad("subject", lesson, f"{teacher.name} 不教 {lesson.subject}")
        for g in lesson.grades or (lesson.grade,):
            if g not in teacher.grades:
                bad("teacher-grade", lesson, f"{teacher.name} 不教 {g} 年级")
        hub_periods = periods(teacher.school, lesson.weekday) if teacher.school in schools else []
        if not 1 <= lesson.period <= len(hub_periods):
            bad("no-period", lesson, f"主讲学校该日没有第 {lesson.period} 节")
            continue
        hp = hub_periods[lesson.period - 1]
        base = (lesson.weekday - 1) * DAY
        start, end = base + hhmm_to_minutes(hp.start), base + hhmm_to_minutes(hp.end)
        if any(
            u.weekday == WEEKDAYS[lesson.weekday - 1] and (not u.periods or lesson.period in u.periods)
            for u in teacher.unavailable
        ):
            bad("teacher-unavailable", lesson, f"{teacher.name} 该节不能排课")
        if teacher.classroom is not None and teacher.classroom in rooms:
            own = rooms[teacher.classroom]
            for n, _rs, _re in _touching(periods(own.school, lesson.weekday), base, start, end):
                if _busy(own, lesson.weekday, n):
                    bad("classroom-busy", lesson, f"主讲教室 {own.name} {_day(lesson.weekday)}第 {n} 节有本校的课")
        teacher_slots[(teacher.id, lesson.weekday, lesson.period)] += 1
        teacher_week[teacher.id] += 1
        teacher_day[(teacher.id, lesson.weekday)] += 1
        hub_at[(teacher.school, lesson.weekday, lesson.period)] += 1
        if teacher.classroom is not None:
            hub_room[(teacher.classroom, lesson.weekday, lesson.period)] += 1
        if not lesson.classrooms:
            bad("empty", lesson, "没有听讲教室")
        if len(lesson.classrooms) > county.settings.max_n:
            bad("max-n", lesson, f"{len(lesson.classrooms)} 个听讲教室，超过上限 {county.settings.max_n}")
        if len(set(lesson.classrooms)) != len(lesson.classrooms):
            bad("duplicate-classroom", lesson, "同一教室出现两次")
        for room_id in lesson.classrooms:
            room = rooms.get(room_id)
            if room is None:
                bad("unknown-classroom", lesson, f"没有教室 {room_id}")
                continue
            if schools[room.school].kind != "remote":
                bad("not-remote", lesson, f"{room.name} 不属于听讲学校")
            if room.grade not in (lesson.grades or (lesson.grade,)):
                bad("grade", lesson, f"{room.name} 是 {room.grade} 年级，课是 {lesson.grade} 年级")
            if pinned.get((room_id, lesson.subject), teacher.id) != teacher.id:
                bad("pinned-teacher", lesson, f"{room.name} 的{lesson.subject}指定由 {pinned[(room_id, lesson.subject)]} 上")
            if pairs and (teacher.school, room.school) not in pairs:
                bad("not-paired", lesson, f"{room.school} 未与 {teacher.school} 配对")
            if (room_id, lesson.subject) not in demand:
                bad("no-demand", lesson, f"{room.name} 没有 {lesson.subject} 的需求")
            touching = _touching(periods(room.school, lesson.weekday), base, start, end)
            for n, _rs, _re in touching:
                if _busy(room, lesson.weekday, n):
                    bad("classroom-busy", lesson, f"{room.name} {_day(lesson.weekday)}第 {n} 节有本校的课")
            if len(touching) != 1:
                bad("bells", lesson, f"{room.name}: 与其 {len(touching)} 节课重叠（应恰好一节，不跨课间）")
                continue
            _n, rs, re_ = touching[0]
            if min(end, re_) - max(start, rs) < min_overlap:
                bad("bells", lesson, f"{room.name}: 与其节次重叠不足 {min_overlap} 分钟")
            busy[room_id].append((min(start, rs), max(end, re_), lesson.key))
            streams[room.school].append((start, end))
            subject_day[(room_id, lesson.subject, lesson.weekday)] += 1
            placed[(room_id, lesson.subject)] += 1

    for (t, wd, p), n in teacher_slots.items():
        if n > 1:
            out.append(Violation("teacher-double", f"{t}@{wd}.{p}", f"{teachers[t].name} 同一节有 {n} 节课"))
    for t, n in teacher_week.items():
        if n > teachers[t].max_per_week:
            out.append(Violation("teacher-week", t, f"{teachers[t].name} 每周 {n} 节，超过 {teachers[t].max_per_week}"))
    for (t, wd), n in teacher_day.items():
        if n > teachers[t].max_per_day:
            out.append(Violation("teacher-day", t, f"{teachers[t].name} 周{wd} {n} 节，超过 {teachers[t].max_per_day}"))
    for (hub, wd, p), n in hub_at.items():
        if hub in schools and n > schools[hub].max_lessons_at_once:
            out.append(Violation("hub-at-once", f"{hub}@{wd}.{p}", f"{schools[hub].name} 同时 {n} 节专递课"))
    for (room_id, wd, p), n in hub_room.items():
        if n > 1:
            out.append(Violation("hub-classroom-double", f"{room_id}@{wd}.{p}", f"主讲教室 {room_id} 同一节有 {n} 节专递课"))
    for room_id, spans in busy.items():
        spans.sort()
        reach, reach_key = -1, ""
        for s, e, k in spans:
            if s < reach:
                out.append(Violation("classroom-double", k, f"{rooms[room_id].name} 同时在 {reach_key} 和 {k}"))
            if e > reach:
                reach, reach_key = e, k
    for school_id, spans in streams.items():
        peak = peak_overlap(spans)
        if peak > schools[school_id].streams:
            out.append(Violation("streams", school_id, f"{schools[school_id].name} 同时 {peak} 路直播，超过 {schools[school_id].streams}"))
    for (room_id, subject, wd), n in subject_day.items():
        if n > 1:
            out.append(Violation("subject-day", room_id, f"{rooms[room_id].name} 周{wd} 有 {n} 节 {subject}"))
    for ls in timetable.lessons:
        grades = sorted({rooms[r].grade for r in ls.classrooms if r in rooms})
        policy = county.settings.mix_grades.get(ls.subject, "none")
        if ls.grades and (list(ls.grades) != grades or ls.grade != grades[0]):
            out.append(Violation("grade", ls.key, f"课的年级 {list(ls.grades)} 与教室的年级 {grades} 不符"))
        if len(grades) > 1 and (policy == "none" or (policy == "adjacent" and grades[-1] - grades[0] > 1)):
            out.append(Violation("mix-grades", ls.key, f"{ls.subject} 的混年级规则为 {policy}，这节课有 {grades} 年级"))
    for (room_id, subject), n in placed.items():
        if n > demand.get((room_id, subject), 0):
            out.append(Violation("over-demand", room_id, f"{rooms[room_id].name} 的 {subject} 排了 {n} 节，需求 {demand.get((room_id, subject), 0)}"))
    return out


def _touching(day: list[Period], base: int, start: int, end: int) -> list[tuple[int, int, int]]:
    """(period number, start, end) of the periods of a school's day that the span [start, end) touches."""
    out = []
    for n, p in enumerate(day, start=1):
        ps, pe = base + hhmm_to_minutes(p.start), base + hhmm_to_minutes(p.end)
        if ps < end and start < pe:
            out.append((n, ps, pe))
    return out


def _busy(room: Classroom, weekday: int, period: int) -> bool:
    """Busy with its own lessons: listed in `busy`, or `open` is given and does not list it."""
    name = WEEKDAYS[weekday - 1]

    def listed(items: list) -> bool:
        return any(i.weekday == name and (not i.periods or period in i.periods) for i in items)

    return listed(room.busy) or (room.open is not None and not listed(room.open))


def _day(weekday: int) -> str:
    return WEEKDAY_ZH[weekday - 1]


def peak_overlap(spans: list[tuple[int, int]]) -> int:
    """The most intervals open at one instant (a school's streams at once)."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    peak = level = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak
