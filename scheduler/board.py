"""A timetable under construction that can say why one more class-lesson does not fit.

The greedy placer fills it to give CP-SAT a starting solution; the explainer asks it, for every place an
unplaced lesson could have gone, which rule blocks it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from scheduler.candidates import Candidate, CountyIndex
from scheduler.county import grades_may_mix, subject_label
from scheduler.timetable import Lesson


@dataclass
class _Lesson:
    subject: str
    classrooms: list[str] = field(default_factory=list)
    grades: Counter[int] = field(default_factory=Counter)
    """Grade → classrooms of that grade in the lesson (one grade unless the subject mixes grades)."""


class Board:
    def __init__(self, index: CountyIndex) -> None:
        self.index = index
        self.max_n = index.county.settings.max_n
        self.lessons: dict[tuple[str, int, int], _Lesson] = {}
        self.class_busy: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.subject_days: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.placed: dict[tuple[str, str], int] = defaultdict(int)
        self.teacher_week: dict[str, int] = defaultdict(int)
        self.teacher_day: dict[tuple[str, int], int] = defaultdict(int)
        self.hub_at: dict[tuple[str, int, int], int] = defaultdict(int)
        self.hub_room: dict[tuple[str, int, int], int] = defaultdict(int)
        self.streams: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.assigned: dict[str, list[Candidate]] = defaultdict(list)
        """Classroom → its placed candidates."""

    def blocker(self, c: Candidate) -> str | None:
        """Why `c` cannot be added now, in a coordinator's words; None if it can."""
        return next(self._rules(c), None)

    def blockers(self, c: Candidate) -> list[str]:
        """Every rule that blocks `c` now (the explainer counts them all, not just the first)."""
        return list(self._rules(c))

    def _rules(self, c: Candidate) -> Iterator[str]:
        ix = self.index
        teacher = ix.teachers[c.teacher]
        hub = ix.schools[c.hub]
        remote = ix.schools[c.remote]
        if any(s < c.busy_end and c.busy_start < e for s, e in self.class_busy[c.classroom]):
            yield f"{remote.name}{ix.classrooms[c.classroom].name}在这些时段已有别的专递课"
        if c.weekday in self.subject_days[(c.classroom, c.subject)]:
            yield f"同一天已有{subject_label(c.subject)}课（每班每科每天最多一节）"
        lesson = self.lessons.get(c.lesson)
        if lesson is not None:
            if not grades_may_mix(self.index.county.settings.mix(c.subject), [*lesson.grades, c.grade]):
                yield f"{teacher.name}老师在这些节次已给其他年级上课"
            if len(lesson.classrooms) >= self.max_n:
                yield f"{teacher.name}老师每节课最多 {self.max_n} 个听讲教室（1+N 上限），这些节次已满"
        else:
            if self.teacher_week[c.teacher] >= teacher.max_per_week:
                yield f"{teacher.name}老师每周最多 {teacher.max_per_week} 节，已排满"
            if self.teacher_day[(c.teacher, c.weekday)] >= teacher.max_per_day:
                yield f"{teacher.name}老师每天最多 {teacher.max_per_day} 节，这些日子已排满"
            if self.hub_at[(c.hub, c.weekday, c.period)] >= hub.max_lessons_at_once:
                yield f"{hub.name}同一时间最多开 {hub.max_lessons_at_once} 节专递课，这些节次已达上限"
            if teacher.classroom is not None and self.hub_room[(teacher.classroom, c.weekday, c.period)]:
                yield f"{teacher.name}老师所在的主讲教室在这些节次已有别的专递课"
        overlapping = sum(1 for s, e in self.streams[c.remote] if s < c.end and c.start < e)
        if overlapping >= remote.streams:
            yield f"{remote.name}的网络同时只能接{remote.streams}路"

    def add(self, c: Candidate) -> None:
        lesson = self.lessons.get(c.lesson)
        if lesson is None:
            lesson = self.lessons[c.lesson] = _Lesson(c.subject)
            self.teacher_week[c.teacher] += 1
            self.teacher_day[(c.teacher, c.weekday)] += 1
            self.hub_at[(c.hub, c.weekday, c.period)] += 1
            own = self.index.teachers[c.teacher].classroom
            if own is not None:
                self.hub_room[(own, c.weekday, c.period)] += 1
        lesson.classrooms.append(c.classroom)
        lesson.grades[c.grade] += 1
        self.class_busy[c.classroom].append((c.busy_start, c.busy_end))
        self.subject_days[(c.classroom, c.subject)].add(c.weekday)
        self.placed[(c.classroom, c.subject)] += 1
        self.streams[c.remote].append((c.start, c.end))
        self.assigned[c.classroom].append(c)

    def remove(self, c: Candidate) -> None:
        """Undo `add(c)`; the lesson goes when its last classroom leaves."""
        lesson = self.lessons[c.lesson]
        lesson.classrooms.remove(c.classroom)
        lesson.grades[c.grade] -= 1
        if not lesson.grades[c.grade]:
            del lesson.grades[c.grade]
        if not lesson.classrooms:
            del self.lessons[c.lesson]
            self.teacher_week[c.teacher] -= 1
            self.teacher_day[(c.teacher, c.weekday)] -= 1
            self.hub_at[(c.hub, c.weekday, c.period)] -= 1
            own = self.index.teachers[c.teacher].classroom
            if own is not None:
                self.hub_room[(own, c.weekday, c.period)] -= 1
        self.class_busy[c.classroom].remove((c.busy_start, c.busy_end))
        self.subject_days[(c.classroom, c.subject)].discard(c.weekday)
        self.placed[(c.classroom, c.subject)] -= 1
        self.streams[c.remote].remove((c.start, c.end))
        self.assigned[c.classroom].remove(c)

    def related(self, c: Candidate) -> list[Candidate]:
        """Placed class-lessons whose removal might make room for `c`, nearest first."""
        own = [
            p for p in self.assigned[c.classroom]
            if (p.busy_start < c.busy_end and c.busy_start < p.busy_end)
            or (p.subject == c.subject and p.weekday == c.weekday)
        ]
        lesson = self.lessons.get(c.lesson)
        same_lesson = [
            p for room in (lesson.classrooms if lesson else []) for p in self.assigned[room] if p.lesson == c.lesson
        ]
        return own + same_lesson

    def has(self, c: Candidate) -> bool:
        lesson = self.lessons.get(c.lesson)
        return lesson is not None and c.classroom in lesson.classrooms

    def timetable_lessons(self) -> list[Lesson]:
        return sorted(
            Lesson(wd, p, t, ls.subject, min(ls.grades), tuple(sorted(ls.classrooms)),
                   tuple(sorted(ls.grades)) if len(ls.grades) > 1 else ())
            for (t, wd, p), ls in self.lessons.items() if ls.classrooms
        )

