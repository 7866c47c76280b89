"""County data: the one typed model the importer fills and the solver, validator and calendar read.

Everything a coordinator enters lives here as pydantic models, so the JSON format, its JSON Schema
(`docs/county.schema.json`) and the checks are one definition. Cross-reference checks (unknown ids,
overlapping bells, …) are in `County.problems()` so the importer can report them by file, row and field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FORMAT = "sanke-county/1"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
SUBJECT_ZH = {
    "english": "英语", "music": "音乐", "art": "美术", "pe": "体育", "science": "科学",
    "it": "信息技术", "chinese": "语文", "math": "数学", "calligraphy": "书法", "psychology": "心理健康",
}
MINUTES_PER_DAY = 24 * 60
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

MAX_SCHOOLS = 1000
MAX_CLASSROOMS = 10_000
MAX_TEACHERS = 5000
MAX_PAIRINGS = 20_000
MAX_DEMAND = 50_000
"""Size limits of one county (docs/county-format.md); far above a real county's few hundred classrooms."""

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def weekday_number(name: str) -> int:
    """ISO weekday (1 = Monday) of a weekday key."""
    return WEEKDAYS.index(name) + 1


def hhmm_to_minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def minutes_to_hhmm(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def subject_label(subject: str) -> str:
    return SUBJECT_ZH.get(subject, subject)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Strict):
    """One bell period, e.g. ["08:00", "08:40"]: start and end in local time (Asia/Shanghai)."""

    start: str = Field(pattern=_HHMM.pattern, description="HH:MM, 24 h")
    end: str = Field(pattern=_HHMM.pattern, description="HH:MM, 24 h, after start")

    @property
    def start_min(self) -> int:
        return hhmm_to_minutes(self.start)

    @property
    def end_min(self) -> int:
        return hhmm_to_minutes(self.end)


class Bells(_Strict):
    """A school's bell schedule: `default` applies to Monday–Friday unless a weekday has its own list.

    Saturday and Sunday have lessons only when listed explicitly.
    """

    default: list[Period] = Field(default_factory=list)
    mon: list[Period] | None = None
    tue: list[Period] | None = None
    wed: list[Period] | None = None
    thu: list[Period] | None = None
    fri: list[Period] | None = None
    sat: list[Period] | None = None
    sun: list[Period] | None = None

    def for_weekday(self, weekday: int) -> list[Period]:
        own = getattr(self, WEEKDAYS[weekday - 1])
        if own is not None:
            return own
        return self.default if weekday <= 5 else []


class School(_Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["hub", "remote"] = Field(description="hub: has the teachers; remote: receives lessons")
    streams: int = Field(default=4, ge=0, le=100, description="live streams the school's link takes at once")
    max_lessons_at_once: int = Field(
        default=4, ge=0, le=100, description="hub only: delivery lessons the school may run at the same time"
    )
    bells: Bells


class DayPeriods(_Strict):
    """Periods of one weekday (1-based, of the classroom's own school's bells); none listed: the whole day."""

    weekday: Weekday
    periods: list[int] = Field(default_factory=list)

    def covers(self, weekday: int, period: int) -> bool:
        return self.weekday == WEEKDAYS[weekday - 1] and (not self.periods or period in self.periods)


class Classroom(_Strict):
    id: str = Field(min_length=1, max_length=64)
    school: str = Field(min_length=1, description="school id")
    name: str = Field(min_length=1, max_length=200)
    grade: int = Field(ge=1, le=12)
    students: int = Field(default=0, ge=0, le=200)
    open: list[DayPeriods] | None = Field(
        default=None, max_length=70,
        description="the only periods in which the classroom may receive (remote) or give (hub) a delivery "
        "lesson; absent: every period is open",
    )
    busy: list[DayPeriods] = Field(
        default_factory=list, max_length=70,
        description="periods taken by the classroom's own lessons: no delivery lesson may touch them",
    )

    def is_busy(self, weekday: int, period: int) -> bool:
        """Busy in this period of its own school's bells (listed busy, or not listed open)."""
        if any(b.covers(weekday, period) for b in self.busy):
            return True
        return self.open is not None and not any(o.covers(weekday, period) for o in self.open)


class Unavailable(_Strict):
    """A teacher cannot teach on this weekday: in the listed periods (1-based), or all day if none listed."""

    weekday: Weekday
    periods: list[int] = Field(default_factory=list)


class Teacher(_Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    school: str = Field(min_length=1, description="hub school id")
    subject: str = Field(min_length=1, max_length=40)
    grades: list[int] = Field(min_length=1)
    max_per_week: int = Field(default=12, ge=0, le=60)
    max_per_day: int = Field(default=4, ge=0, le=12)
    unavailable: list[Unavailable] = Field(default_factory=list)
    classroom: str | None = Field(
        default=None, description="the hub classroom she teaches from (her own class), joining every lesson"
    )

    @field_validator("grades")
    @classmethod
    def _grades_in_range(cls, grades: list[int]) -> list[int]:
        if any(g < 1 or g > 12 for g in grades):
            raise ValueError("grades must be between 1 and 12")
        return grades

    def is_unavailable(self, weekday: int, period: int) -> bool:
        name = WEEKDAYS[weekday - 1]
        return any(u.weekday == name and (not u.periods or period in u.periods) for u in self.unavailable)


class Pairing(_Strict):
    """The coordinator's pairing: this remote school receives lessons from this hub school."""

    hub: str
    remote: str


class Demand(_Strict):
    classroom: str
    subject: str = Field(min_length=1, max_length=40)
    per_week: int = Field(ge=1, le=10)
    teacher: str | None = Field(
        default=None, description="pinned hub teacher (e.g. the one the class had last term); absent: the solver "
        "chooses among the paired hubs' teachers of the subject and grade",
    )


class Holiday(_Strict):
    start: dt.date
    end: dt.date | None = Field(default=None, description="inclusive; defaults to start")
    name: str = ""

    @property
    def last(self) -> dt.date:
        return self.end or self.start


class MakeupDay(_Strict):
    """调休: on this date (usually a weekend) schools follow another weekday's timetable."""

    date: dt.date
    follows: Weekday
    name: str = ""


class Term(_Strict):
    start: dt.date
    end: dt.date
    holidays: list[Holiday] = Field(default_factory=list)
    makeup_days: list[MakeupDay] = Field(default_factory=list)


MixGrades = Literal["none", "adjacent", "any"]


class Settings(_Strict):
    min_overlap_minutes: int = Field(default=30, ge=1, le=120)
    max_n: int = Field(default=6, ge=1, le=100, description="most remote classrooms in one lesson")
    mix_grades: dict[str, MixGrades] = Field(
        default_factory=dict, max_length=100,
        description="subject → which grades may share one lesson: none (one grade, the default), adjacent (two "
        "consecutive grades, e.g. 3 and 4) or any",
    )

    def mix(self, subject: str) -> str:
        return self.mix_grades.get(subject, "none")


def grades_may_mix(policy: str, grades: set[int] | list[int]) -> bool:
    """Whether these grades may sit in one lesson under a subject's `mix_grades` policy."""
    if len(set(grades)) <= 1 or policy == "any":
        return True
    return policy == "adjacent" and max(grades) - min(grades) <= 1


class County(_Strict):
    format: Literal["sanke-county/1"] = FORMAT
    name: str = Field(min_length=1, max_length=200)
    settings: Settings = Field(default_factory=Settings)
    schools: list[School] = Field(max_length=MAX_SCHOOLS)
    classrooms: list[Classroom] = Field(max_length=MAX_CLASSROOMS)
    teachers: list[Teacher] = Field(max_length=MAX_TEACHERS)
    pairings: list[Pairing] = Field(default_factory=list, max_length=MAX_PAIRINGS,
                                    description="empty: every hub may serve every remote")
    demand: list[Demand] = Field(max_length=MAX_DEMAND)
    term: Term | None = None

    def problems(self) -> list[Problem]:
        """Cross-reference and consistency problems, each naming the list, index and field."""
        out: list[Problem] = []
        schools = {s.id: s for s in self.schools}
        classrooms = {c.id: c for c in self.classrooms}
        teachers = {t.id: t for t in self.teachers}
        pairs = {(p.hub, p.remote) for p in self.pairings}
        for name, items in (("schools", self.schools), ("classrooms", self.classrooms), ("teachers", self.teachers)):
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.id in seen:
                    out.append(Problem(name, i, "id", f"编号 {item.id} 重复"))
                seen.add(item.id)
        for i, school in enumerate(self.schools):
            for weekday in range(1, 8):
                periods = school.bells.for_weekday(weekday)
                key = WEEKDAYS[weekday - 1]
                field = f"bells.{key}" if getattr(school.bells, key) is not None else "bells.default"
                for j, p in enumerate(periods):
                    if p.end_min <= p.start_min:
                        out.append(Problem("schools", i, f"{field}[{j}]", f"第 {j + 1} 节结束时间不晚于开始时间"))
                    if j and p.start_min < periods[j - 1].end_min:
                        out.append(Problem("schools", i, f"{field}[{j}]", f"第 {j + 1} 节与上一节时间重叠"))
        for i, room in enumerate(self.classrooms):
            if room.school not in schools:
                out.append(Problem("classrooms", i, "school", f"没有编号为 {room.school} 的学校"))
                continue
            if room.open is not None and room.busy:
                out.append(Problem("classrooms", i, "busy", "open 与 busy 只能填一个（开放节次或占用节次）"))
            for kind, items in (("open", room.open or []), ("busy", room.busy)):
                for j, item in enumerate(items):
                    count = len(schools[room.school].bells.for_weekday(weekday_number(item.weekday)))
                    bad = [p for p in item.periods if p < 1 or p > count]
                    if bad:
                        out.append(Problem("classrooms", i, f"{kind}[{j}].periods",
                                           f"该日只有 {count} 节课，没有第 {bad[0]} 节"))
        for i, teacher in enumerate(self.teachers):
            school = schools.get(teacher.school)
            if school is None:
                out.append(Problem("teachers", i, "school", f"没有编号为 {teacher.school} 的学校"))
            elif school.kind != "hub":
                out.append(Problem("teachers", i, "school", f"{school.name} 不是主讲学校"))
            if teacher.classroom is not None:
                own = classrooms.get(teacher.classroom)
                if own is None:
                    out.append(Problem("teachers", i, "classroom", f"没有编号为 {teacher.classroom} 的教室"))
                elif own.school != teacher.school:
                    out.append(Problem("teachers", i, "classroom", f"{own.name} 不在该教师的学校"))
            for j, u in enumerate(teacher.unavailable):
                if school is None:
                    continue
                count = len(school.bells.for_weekday(weekday_number(u.weekday)))
                bad = [p for p in u.periods if p < 1 or p > count]
                if bad:
                    out.append(Problem("teachers", i, f"unavailable[{j}].periods", f"该日只有 {count} 节课，没有第 {bad[0]} 节"))
        for i, pair in enumerate(self.pairings):
            for field, kind in (("hub", "hub"), ("remote", "remote")):
                school = schools.get(getattr(pair, field))
                if school is None:
                    out.append(Problem("pairings", i, field, f"没有编号为 {getattr(pair, field)} 的学校"))
                elif school.kind != kind:
                    out.append(Problem("pairings", i, field, f"{school.name} 不是{'主讲' if kind == 'hub' else '听讲'}学校"))
        seen_demand: set[tuple[str, str]] = set()
        for i, d in enumerate(self.demand):
            room = classrooms.get(d.classroom)
            if room is None:
                out.append(Problem("demand", i, "classroom", f"没有编号为 {d.classroom} 的教室"))
            elif schools.get(room.school) is not None and schools[room.school].kind != "remote":
                out.append(Problem("demand", i, "classroom", f"{room.name} 不属于听讲学校"))
            if d.teacher is not None:
                pinned = teachers.get(d.teacher)
                if pinned is None:
                    out.append(Problem("demand", i, "teacher", f"没有编号为 {d.teacher} 的教师"))
                elif pinned.subject != d.subject:
                    out.append(Problem("demand", i, "teacher", f"{pinned.name} 不教{subject_label(d.subject)}"))
                elif room is not None and room.grade not in pinned.grades:
                    out.append(Problem("demand", i, "teacher", f"{pinned.name} 不教 {room.grade} 年级"))
                elif room is not None and self.pairings and (pinned.school, room.school) not in pairs:
                    out.append(Problem("demand", i, "teacher", f"{pinned.name} 的学校未与该教室的学校配对"))
            if (d.classroom, d.subject) in seen_demand:
                out.append(Problem("demand", i, "subject", f"{d.classroom} 的 {subject_label(d.subject)} 需求重复"))
            seen_demand.add((d.classroom, d.subject))
        if self.term is not None:
            if self.term.end < self.term.start:
                out.append(Problem("term", 0, "end", "学期结束日期早于开始日期"))
            for j, h in enumerate(self.term.holidays):
                if h.last < h.start:
                    out.append(Problem("term", 0, f"holidays[{j}].end", "假期结束日期早于开始日期"))
        return out


@dataclass(frozen=True)
class Problem:
    """A problem in county data, located by list (e.g. "teachers"), 0-based index and field."""

    section: str
    index: int
    field: str
    message: str


def json_schema() -> dict:
    """The JSON Schema of the county format, as committed in `docs/county.schema.json`."""
    schema = County.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://sanke.example/schemas/county-1.json"
    return schema
