"""Where each demanded lesson could go: (remote classroom, hub teacher, hub period) triples.

The solver, the greedy placer and the unplaced-demand explainer all reason over these candidates; the
validator does not use them, it recomputes everything from the county data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scheduler.county import Classroom, County, Demand, School, Teacher
from scheduler.slots import Slot, match, school_slots, slots_by_day


@dataclass(frozen=True)
class Candidate:
    classroom: str
    teacher: str
    weekday: int
    period: int
    subject: str
    grade: int
    hub: str
    remote: str
    start: int
    end: int
    busy_start: int
    busy_end: int

    @property
    def lesson(self) -> tuple[str, int, int]:
        return (self.teacher, self.weekday, self.period)


@dataclass
class DemandOptions:
    """Why a demand has the candidates it has; the explainer reads this when there are none."""

    demand: Demand
    paired_hubs: list[str]
    subject_teachers: list[str]
    grade_teachers: list[str]
    unavailable_slots: int
    candidates: list[Candidate] = field(default_factory=list)
    excluded: list[tuple[Candidate, tuple[str, ...]]] = field(default_factory=list)
    """Places whose bells line up but that a fixed rule shuts (teacher unavailable, a classroom busy with its
    own lessons), with those rules in a coordinator's words."""


class CountyIndex:
    """Lookups over one county, built once per solve."""

    def __init__(self, county: County) -> None:
        self.county = county
        self.schools: dict[str, School] = {s.id: s for s in county.schools}
        self.classrooms: dict[str, Classroom] = {c.id: c for c in county.classrooms}
        self.teachers: dict[str, Teacher] = {t.id: t for t in county.teachers}
        self.slots: dict[str, list[Slot]] = {s.id: school_slots(s) for s in county.schools}
        self._by_day = {sid: slots_by_day(slots) for sid, slots in self.slots.items()}
        hubs = sorted(s.id for s in county.schools if s.kind == "hub")
        self.paired: dict[str, list[str]] = {}
        if county.pairings:
            for p in county.pairings:
                self.paired.setdefault(p.remote, []).append(p.hub)
            self.paired = {r: sorted(set(h)) for r, h in self.paired.items()}
        else:
            self.paired = {s.id: hubs for s in county.schools if s.kind == "remote"}
        self.teachers_at: dict[str, list[Teacher]] = {}
        for t in sorted(county.teachers, key=lambda t: t.id):
            self.teachers_at.setdefault(t.school, []).append(t)
        self.min_overlap = county.settings.min_overlap_minutes
        self.options: list[DemandOptions] = [self._options(d) for d in county.demand]

    def slot(self, school: str, weekday: int, period: int) -> Slot | None:
        for s in self._by_day.get(school, {}).get(weekday, []):
            if s.period == period:
                return s
        return None

    def _options(self, demand: Demand) -> DemandOptions:
        room = self.classrooms[demand.classroom]
        hubs = self.paired.get(room.school, [])
        subject_teachers = [t for h in hubs for t in self.teachers_at.get(h, []) if t.subject == demand.subject]
        grade_teachers = [t for t in subject_teachers if room.grade in t.grades]
        if demand.teacher is not None:
            grade_teachers = [t for t in grade_teachers if t.id == demand.teacher]
        out = DemandOptions(demand, hubs, [t.id for t in subject_teachers], [t.id for t in grade_teachers], 0)
        remote_days = self._by_day.get(room.school, {})
        for t in grade_teachers:
            own = self.classrooms.get(t.classroom) if t.classroom is not None else None
            for s in self.slots[t.school]:
                m = match(s, remote_days.get(s.weekday, []), self.min_overlap)
                if m is None:
                    continue
                c = Candidate(room.id, t.id, s.weekday, s.period, demand.subject, room.grade, t.school, room.school,
                              s.start, s.end, m.busy_start, m.busy_end)
                shut = []
                if t.is_unavailable(s.weekday, s.period):
                    out.unavailable_slots += 1
                    shut.append(f"{t.name}老师在这些节次不能排课")
                if room.is_busy(s.weekday, m.period):
                    shut.append(f"{self.schools[room.school].name}{room.name}在这些节次有本校的课")
                if own is not None and own.is_busy(s.weekday, s.period):
                    shut.append(f"{t.name}老师所在的主讲教室{own.name}在这些节次有本校的课")
                if shut:
                    out.excluded.append((c, tuple(shut)))
                else:
                    out.candidates.append(c)
        return out
