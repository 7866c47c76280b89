"""The index sets of one part's rules, computed once and shared by the CP-SAT model (`scheduler.model`) and
its LP relaxation (`scheduler.bound`), so that the bound relaxes exactly the rules the solver enforces.

Keys are `(classroom, teacher, weekday, period)` (a class-lesson), lessons `(teacher, weekday, period,
grade)`, slots `(teacher, weekday, period)` (a teacher's lesson, whatever its grades).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TypeVar

from scheduler.candidates import Candidate, CountyIndex, DemandOptions

Key = tuple[str, str, int, int]
LessonKey = tuple[str, int, int, int]
Slot = tuple[str, int, int]
T = TypeVar("T")


def key_of(c: Candidate) -> Key:
    return (c.classroom, c.teacher, c.weekday, c.period)


@dataclass
class DemandGroup:
    demand: DemandOptions
    keys: list[Key]
    days: dict[int, list[Key]]
    """Weekday → the keys of that day (at most one lesson of a subject a day)."""


@dataclass
class Groups:
    cand: dict[Key, Candidate] = field(default_factory=dict)
    """Every candidate, in the order of the part's demands."""
    lessons: dict[LessonKey, list[Key]] = field(default_factory=dict)
    """A teacher's lesson of one grade → the class-lessons that may join it (in order of first appearance)."""
    slots: dict[Slot, list[int]] = field(default_factory=dict)
    """A teacher's period → the grades she could teach in it (in order of first appearance)."""
    slot_keys: dict[Slot, list[Key]] = field(default_factory=dict)
    limits: list[tuple[list[Slot], int]] = field(default_factory=list)
    """At most `limit` of these slots run: each teacher's week, each teacher's day, each hub classroom's period
    (1), each hub's lessons at once — in that order."""
    demands: list[DemandGroup] = field(default_factory=list)
    class_cliques: list[list[Key]] = field(default_factory=list)
    """A classroom is in at most one of these at once (maximal sets of its candidates sharing a moment)."""
    stream_cliques: list[tuple[list[Key], int]] = field(default_factory=list)
    """At most `limit` of these at once (a remote school's streams), only where the limit can bind."""

    @classmethod
    def of(cls, index: CountyIndex, part: list[DemandOptions]) -> Groups:
        g = cls()
        lessons: dict[LessonKey, list[Key]] = defaultdict(list)
        slot_keys: dict[Slot, list[Key]] = defaultdict(list)
        for opt in part:
            days: dict[int, list[Key]] = defaultdict(list)
            for c in opt.candidates:
                k = key_of(c)
                g.cand[k] = c
                lessons[(c.teacher, c.weekday, c.period, c.grade)].append(k)
                days[c.weekday].append(k)
            g.demands.append(DemandGroup(opt, [key_of(c) for c in opt.candidates], dict(days)))
        for k in g.cand:
            slot_keys[k[1:]].append(k)
        g.lessons, g.slot_keys = dict(lessons), dict(slot_keys)
        slots: dict[Slot, list[int]] = defaultdict(list)
        for t, wd, p, grade in g.lessons:
            slots[(t, wd, p)].append(grade)
        g.slots = dict(slots)

        per_week: dict[str, list[Slot]] = defaultdict(list)
        per_day: dict[tuple[str, int], list[Slot]] = defaultdict(list)
        hub_at: dict[Slot, list[Slot]] = defaultdict(list)
        hub_room: dict[Slot, list[Slot]] = defaultdict(list)
        for slot in sorted(g.slots):
            t, wd, p = slot
            teacher = index.teachers[t]
            per_week[t].append(slot)
            per_day[(t, wd)].append(slot)
            hub_at[(teacher.school, wd, p)].append(slot)
            if teacher.classroom is not None:
                hub_room[(teacher.classroom, wd, p)].append(slot)
        g.limits = (
            [(s, index.teachers[t].max_per_week) for t, s in per_week.items()]
            + [(s, index.teachers[t].max_per_day) for (t, _wd), s in per_day.items()]
            + [(s, 1) for s in hub_room.values()]
            + [(s, index.schools[hub].max_lessons_at_once) for (hub, _wd, _p), s in hub_at.items()]
        )

        by_class: dict[str, list[Key]] = defaultdict(list)
        by_remote: dict[str, list[Key]] = defaultdict(list)
        for k, c in g.cand.items():
            by_class[c.classroom].append(k)
            by_remote[c.remote].append(k)
        for ks in by_class.values():
            g.class_cliques.extend(cliques([(g.cand[k].busy_start, g.cand[k].busy_end, k) for k in ks]))
        for remote, ks in by_remote.items():
            limit = index.schools[remote].streams
            if len({g.cand[k].classroom for k in ks}) <= limit:
                continue   # each classroom takes one stream at most: the limit cannot bind
            for clique in cliques([(g.cand[k].start, g.cand[k].end, k) for k in ks]):
                if len(clique) > limit:
                    g.stream_cliques.append((clique, limit))
        return g


def cliques(intervals: list[tuple[int, int, T]]) -> list[list[T]]:
    """Maximal sets of intervals sharing a point: 'at most one at any time' is exact for intervals.

    A sweep over the start points keeps the intervals open at each one."""
    order = sorted(range(len(intervals)), key=lambda i: intervals[i][0])
    out: list[list[T]] = []
    active: list[int] = []
    previous: frozenset[int] = frozenset()
    pos = 0
    for point in sorted({s for s, _e, _v in intervals}):
        while pos < len(order) and intervals[order[pos]][0] <= point:
            active.append(order[pos])
            pos += 1
        active = [i for i in active if intervals[i][1] > point]
        members = frozenset(active)
        if len(members) > 1 and not members <= previous:
            out.append([intervals[i][2] for i in sorted(members)])
        previous = members
    return out
