"""The CP-SAT model of one independent part of the county.

Variables: `x[c, t, d, p]` — classroom `c` joins teacher `t`'s lesson in hub period `(d, p)`; `y[t, d, p, g]`
— that lesson has classrooms of grade `g`; `z[t, d, p]` — the lesson runs (one variable per period of a
teacher whose subject may mix grades; otherwise the lesson's one `y`). Only candidates that pass grade,
pairing, pinned teacher, bell overlap, teacher availability and both classrooms' open periods exist.

The objective is a cost to minimise, so CP-SAT's bound and gap mean something to a coordinator:
`1000·unplaced + 100·moved (re-plan) + 20·lessons + 2·(same subject on consecutive days) + 1·(teacher gaps)`.
"""

from __future__ import annotations

from collections import defaultdict

from ortools.sat.python import cp_model

from scheduler.candidates import Candidate, CountyIndex, DemandOptions
from scheduler.weights import W_GAP, W_KEEP, W_LESSON, W_PLACE, W_SPREAD

__all__ = ["W_GAP", "W_KEEP", "W_LESSON", "W_PLACE", "W_SPREAD", "Key", "PartModel", "cliques", "key_of"]

Key = tuple[str, str, int, int]
Slot = tuple[str, int, int]


def key_of(c: Candidate) -> Key:
    return (c.classroom, c.teacher, c.weekday, c.period)


class PartModel:
    """Builds the model once; `placement_objective()` and `full_objective()` switch what it minimises."""

    def __init__(self, index: CountyIndex, part: list[DemandOptions], keep: set[Key]) -> None:
        self.index = index
        self.part = part
        m = self.model = cp_model.CpModel()
        max_n = index.county.settings.max_n
        self.x: dict[Key, cp_model.IntVar] = {}
        self.cand: dict[Key, Candidate] = {}
        self.y: dict[tuple[str, int, int, int], cp_model.IntVar] = {}
        members: dict[tuple[str, int, int, int], list[cp_model.IntVar]] = defaultdict(list)
        for opt in part:
            for c in opt.candidates:
                k = key_of(c)
                self.x[k] = m.new_bool_var("")
                self.cand[k] = c
                lk = (c.teacher, c.weekday, c.period, c.grade)
                if lk not in self.y:
                    self.y[lk] = m.new_bool_var("")
                members[lk].append(self.x[k])
        for lk, xs in members.items():
            for v in xs:
                m.add_implication(v, self.y[lk])
            m.add(sum(xs) <= max_n * self.y[lk])
            m.add(sum(xs) >= self.y[lk])

        by_slot: dict[Slot, list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
        for (t, wd, p, g), v in self.y.items():
            by_slot[(t, wd, p)].append((g, v))
        slot_x: dict[Slot, list[cp_model.IntVar]] = defaultdict(list)
        for k, v in self.x.items():
            slot_x[k[1:]].append(v)
        self.active: dict[Slot, cp_model.IntVar] = {}
        self.own_active: set[Slot] = set()
        """Slots whose `active` is a variable of its own (not the lesson's one `y`)."""
        for slot, gs in sorted(by_slot.items()):
            policy = index.county.settings.mix(index.teachers[slot[0]].subject)
            if len(gs) == 1:
                self.active[slot] = gs[0][1]
                continue
            if policy == "none":
                m.add_at_most_one(v for _g, v in gs)
                self.active[slot] = m.new_bool_var("")
                self.own_active.add(slot)
                m.add(self.active[slot] == sum(v for _g, v in gs))
                continue
            z = self.active[slot] = m.new_bool_var("")
            self.own_active.add(slot)
            for _g, v in gs:
                m.add_implication(v, z)
            m.add(z <= sum(v for _g, v in gs))
            m.add(sum(slot_x[slot]) <= max_n)
            if policy == "adjacent":
                for g, v in gs:
                    for h, w in gs:
                        if h > g + 1:
                            m.add_bool_or([v.Not(), w.Not()])

        per_week: dict[str, list] = defaultdict(list)
        per_day: dict[tuple[str, int], list] = defaultdict(list)
        hub_at: dict[Slot, list] = defaultdict(list)
        hub_room: dict[Slot, list] = defaultdict(list)
        for (t, wd, p), a in sorted(self.active.items()):
            teacher = index.teachers[t]
            per_week[t].append(a)
            per_day[(t, wd)].append(a)
            hub_at[(teacher.school, wd, p)].append(a)
            if teacher.classroom is not None:
                hub_room[(teacher.classroom, wd, p)].append(a)
        for t, vs in per_week.items():
            if len(vs) > index.teachers[t].max_per_week:
                m.add(sum(vs) <= index.teachers[t].max_per_week)
        for (t, _wd), vs in per_day.items():
            if len(vs) > index.teachers[t].max_per_day:
                m.add(sum(vs) <= index.teachers[t].max_per_day)
        for vs in hub_room.values():
            if len(vs) > 1:
                m.add_at_most_one(vs)
        for (hub, _wd, _p), vs in hub_at.items():
            if len(vs) > index.schools[hub].max_lessons_at_once:
                m.add(sum(vs) <= index.schools[hub].max_lessons_at_once)

        self.spread_terms: list[tuple[cp_model.IntVar, list[Key], list[Key]]] = []
        for opt in part:
            d = opt.demand
            vs = [self.x[key_of(c)] for c in opt.candidates]
            m.add(sum(vs) <= d.per_week)
            by_day: dict[int, list] = defaultdict(list)
            day_keys: dict[int, list[Key]] = defaultdict(list)
            for c, v in zip(opt.candidates, vs, strict=True):
                by_day[c.weekday].append(v)
                day_keys[c.weekday].append(key_of(c))
            for day_vs in by_day.values():
                if len(day_vs) > 1:
                    m.add_at_most_one(day_vs)
            if d.per_week <= 3:
                for wd in sorted(by_day):
                    if wd + 1 in by_day:
                        both = m.new_bool_var("")
                        m.add(sum(by_day[wd]) + sum(by_day[wd + 1]) <= 1 + both)
                        self.spread_terms.append((both, day_keys[wd], day_keys[wd + 1]))

        by_class: dict[str, list[Candidate]] = defaultdict(list)
        by_remote: dict[str, list[Candidate]] = defaultdict(list)
        for c in self.cand.values():
            by_class[c.classroom].append(c)
            by_remote[c.remote].append(c)
        for cs in by_class.values():
            for clique in cliques([(c.busy_start, c.busy_end, self.x[key_of(c)]) for c in cs]):
                m.add_at_most_one(clique)
        for remote, cs in by_remote.items():
            limit = index.schools[remote].streams
            if len({c.classroom for c in cs}) <= limit:
                continue
            for clique in cliques([(c.start, c.end, self.x[key_of(c)]) for c in cs]):
                if len(clique) > limit:
                    m.add(sum(clique) <= limit)

        self.gap_terms: list[tuple[cp_model.IntVar, str, int, int]] = []
        for (t, wd, p), a in self.active.items():
            before, after = self.active.get((t, wd, p - 1)), self.active.get((t, wd, p + 1))
            if before is not None and after is not None:
                gap = m.new_bool_var("")
                m.add(before + after - a - 1 <= gap)
                self.gap_terms.append((gap, t, wd, p))

        self.keep_keys = {k for k in self.x if k in keep}
        self.kept = [self.x[k] for k in sorted(self.keep_keys)]
        self.demanded = sum(opt.demand.per_week for opt in part)

    def placement_objective(self) -> None:
        """Placement alone (keeping what can be kept breaks ties): its bound, all demand, is known."""
        self.model.minimize(
            (W_KEEP + 1) * (self.demanded - sum(self.x.values())) + (len(self.kept) - sum(self.kept))
        )

    def full_objective(self) -> None:
        self.model.minimize(
            W_PLACE * (self.demanded - sum(self.x.values())) + W_KEEP * (len(self.kept) - sum(self.kept))
            + W_LESSON * sum(self.active.values()) + W_SPREAD * sum(v for v, _a, _b in self.spread_terms)
            + W_GAP * sum(v for v, *_ in self.gap_terms)
        )

    def cost(self, chosen: set[Key]) -> int:
        """The full objective of a placement, computed directly (for a hint CP-SAT did not improve)."""
        values = self._values(chosen)
        kept = len(chosen & self.keep_keys)
        return (
            W_PLACE * (self.demanded - len(chosen)) + W_KEEP * (len(self.kept) - kept)
            + W_LESSON * len(values["active"]) + W_SPREAD * sum(values["spread"]) + W_GAP * sum(values["gap"])
        )

    def _values(self, chosen: set[Key]) -> dict:
        lessons = {(c.teacher, c.weekday, c.period, c.grade) for k, c in self.cand.items() if k in chosen}
        busy = {(t, wd, p) for t, wd, p, _g in lessons}
        spread = [any(k in chosen for k in a) and any(k in chosen for k in b) for _v, a, b in self.spread_terms]
        gaps = [(t, wd, p - 1) in busy and (t, wd, p + 1) in busy and (t, wd, p) not in busy
                for _v, t, wd, p in self.gap_terms]
        return {"lessons": lessons, "active": busy, "spread": spread, "gap": gaps}

    def set_hint(self, chosen: set[Key]) -> None:
        hint = self.model.proto.solution_hint
        hint.vars.clear()
        hint.values.clear()
        variables, values = self.hint_values(chosen)
        hint.vars.extend(variables)
        hint.values.extend(values)

    def hint_values(self, chosen: set[Key]) -> tuple[list[int], list[int]]:
        """Every variable's value in the placement `chosen`: a complete hint (written straight into the
        proto, which is ~30 times faster than one `add_hint` call per variable)."""
        values = self._values(chosen)
        pairs = [(v.index, int(k in chosen)) for k, v in self.x.items()]
        pairs += [(v.index, int(lk in values["lessons"])) for lk, v in self.y.items()]
        pairs += [(self.active[slot].index, int(slot in values["active"])) for slot in sorted(self.own_active)]
        pairs += [(v.index, int(on)) for (v, *_), on in zip(self.spread_terms, values["spread"], strict=True)]
        pairs += [(v.index, int(on)) for (v, *_), on in zip(self.gap_terms, values["gap"], strict=True)]
        return [i for i, _ in pairs], [b for _, b in pairs]


def cliques(intervals: list[tuple[int, int, cp_model.IntVar]]) -> list[list[cp_model.IntVar]]:
    """Maximal sets of intervals sharing a point: 'at most one at any time' is exact for intervals.

    A sweep over the start points keeps the intervals open at each one."""
    order = sorted(range(len(intervals)), key=lambda i: intervals[i][0])
    out: list[list[cp_model.IntVar]] = []
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
