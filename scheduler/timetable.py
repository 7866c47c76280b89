"""The weekly timetable: 1+N delivery lessons on hub bell periods, and the demand left unplaced.

A lesson is named by its hub teacher and the hub school's (weekday, period); its place in absolute minutes
of the week follows from that school's bells. The remote classrooms join it live.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, order=True)
class Lesson:
    weekday: int
    period: int
    teacher: str
    subject: str
    grade: int
    """The lowest grade of the lesson (its only grade unless the subject may mix grades)."""
    classrooms: tuple[str, ...]
    grades: tuple[int, ...] = ()
    """Every grade of a mixed-grade lesson (`settings.mix_grades`); empty for a one-grade lesson."""

    @property
    def all_grades(self) -> tuple[int, ...]:
        return self.grades or (self.grade,)

    @property
    def key(self) -> str:
        """Stable id of the weekly series: one teacher teaches one lesson per hub period."""
        return f"{self.teacher}@{self.weekday}.{self.period}"

    def to_json(self) -> dict:
        data = asdict(self)
        data["classrooms"] = list(self.classrooms)
        data["grades"] = list(self.all_grades)
        data["key"] = self.key
        return data

    @classmethod
    def from_json(cls, data: dict) -> Lesson:
        return cls(
            weekday=int(data["weekday"]), period=int(data["period"]), teacher=str(data["teacher"]),
            subject=str(data["subject"]), grade=int(data["grade"]),
            classrooms=tuple(sorted(str(c) for c in data["classrooms"])),
            grades=_mixed(data.get("grades"), int(data["grade"])),
        )


def _mixed(grades: list | None, grade: int) -> tuple[int, ...]:
    """Stored grades as the `grades` field keeps them: empty for a one-grade lesson."""
    out = tuple(sorted({int(g) for g in grades or ()}))
    return out if len(out) > 1 or (out and out[0] != grade) else ()


@dataclass(frozen=True)
class Unplaced:
    """Demand the solver could not place, with the reasons in a coordinator's words."""

    classroom: str
    subject: str
    missing: int
    reasons: tuple[str, ...]


@dataclass
class Timetable:
    lessons: list[Lesson] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)

    def placed_count(self) -> int:
        """Class-lessons placed: a 1+N lesson counts N."""
        return sum(len(lesson.classrooms) for lesson in self.lessons)

    def assignments(self) -> set[tuple[str, str, int, int]]:
        """(classroom, teacher, weekday, period) for every classroom in every lesson."""
        return {(c, ls.teacher, ls.weekday, ls.period) for ls in self.lessons for c in ls.classrooms}

    def to_json(self) -> dict:
        return {
            "lessons": [ls.to_json() for ls in sorted(self.lessons)],
            "unplaced": [
                {"classroom": u.classroom, "subject": u.subject, "missing": u.missing, "reasons": list(u.reasons)}
                for u in self.unplaced
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> Timetable:
        return cls(
            lessons=sorted(Lesson.from_json(x) for x in data.get("lessons", [])),
            unplaced=[
                Unplaced(u["classroom"], u["subject"], int(u["missing"]), tuple(u.get("reasons", ())))
                for u in data.get("unplaced", [])
            ],
        )


def moved_fraction(before: Timetable, after: Timetable) -> float:
    """Share of the class-lessons of `before` that are not at the same teacher and period in `after`."""
    old = before.assignments()
    if not old:
        return 0.0
    return len(old - after.assignments()) / len(old)
