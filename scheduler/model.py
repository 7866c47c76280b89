"""The CP-SAT model of one independent part of the county.

Variables: `x[c, t, d, p]` — classroom `c` joins teacher `t`'s lesson in hub period `(d, p)`; `y[t, d, p, g]`
— that lesson has classrooms of grade `g`; `z[t, d, p]` — the lesson runs (one variable per period of a
teacher whose subject may mix grades; otherwise the lesson's one `y`). Only candidates that pass grade,
pairing, pinned teacher, bell overlap, teacher availability and both classrooms' open periods exist.

The objective is a cost to minimise, so CP-SAT's bound and gap mean something to a coordinator:
`1000·unplaced + 100·moved (re-plan) + 20·lessons + 2·(same subject on consecutive days) + 1·(teacher gaps)`.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from scheduler.candidates import CountyIndex, DemandOptions
from scheduler.groups import Groups, Key, Slot, cliques, key_of
from scheduler.weights import W_GAP, W_KEEP, W_LESSON, W_PLACE, W_SPREAD

__all__ = ["W_GAP", "W_KEEP", "W_LESSON", "W_PLACE", "W_SPREAD", "Key", "PartModel", "cliques", "key_of"]


class PartModel:
    """Builds the model once; `placement_objective()` and `full_objective()` switch what it minimises."""

    def __init__(self, index: CountyIndex, part: list[DemandOptions], keep: set[Key]) -> None:
        self.index = index
        self.part = part
        m = self.model = cp_model.CpModel()
        max_n = index.county.settings.max_n
        g = self.groups = Groups.of(index, part)
        self.cand = g.cand
        self.x: dict[Key, cp_model.IntVar] = {}
        self.y: dict[tuple[str, int, int, int], cp_model.IntVar] = {}
        for k, c in g.cand.items():
            self.x[k] = m.new_bool_var("")
            lk = (c.teacher, c.weekday, c.period, c.grade)
            if lk not in self.y:
                self.y[lk] = m.new_bool_var("")
        for lk, keys in g.lessons.items():
            xs = [self.x[k] for k in keys]
            for v in xs:
                m.add_implication(v, self.y[lk])
            m.add(sum(xs) <= max_n * self.y[lk])
            m.add(sum(xs) >= self.y[lk])

        self.active: dict[Slot, cp_model.IntVar] = {}
        self.own_active: set[Slot] = set()
        """Slots whose `active` is a variable of its own (not the lesson's one `y`)."""
        for slot, grades in sorted(g.slots.items()):
            gs = [(grade, self.y[(*slot, grade)]) for grade in grades]
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
            m.add(sum(self.x[k] for k in g.slot_keys[slot]) <= max_n)
            if policy == "adjacent":
                for a, v in gs:
                    for b, w in gs:
                        if b > a + 1:
                            m.add_bool_or([v.Not(), w.Not()])

        for slots, limit in g.limits:
            if len(slots) > limit:
                if limit == 1:
                    m.add_at_most_one(self.active[s] for s in slots)
                else:
                    m.add(sum(self.active[s] for s in slots) <= limit)

        self.spread_terms: list[tuple[cp_model.IntVar, list[Key], list[Key]]] = []
        for dg in g.demands:
            m.add(sum(self.x[k] for k in dg.keys) <= dg.demand.demand.per_week)
            for day_keys in dg.days.values():
                if len(day_keys) > 1:
                    m.add_at_most_one(self.x[k] for k in day_keys)
            if dg.demand.demand.per_week <= 3:
                for wd in sorted(dg.days):
                    if wd + 1 in dg.days:
                        both = m.new_bool_var("")
                        m.add(sum(self.x[k] for k in dg.days[wd] + dg.days[wd + 1]) <= 1 + both)
                        self.spread_terms.append((both, dg.days[wd], dg.days[wd + 1]))

        for clique in g.class_cliques:
            m.add_at_most_one(self.x[k] for k in clique)
        for clique, limit in g.stream_cliques:
            m.add(sum(self.x[k] for k in clique) <= limit)

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

