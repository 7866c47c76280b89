"""Bell geometry in absolute minutes of the week (Monday 00:00 = 0).

Per-school bells are exact: a hub period serves a remote classroom only where it overlaps one of that
classroom's own periods by at least `min_overlap` minutes and overlaps none of its other periods, i.e. the
lesson never runs across the remote school's break into its next period. While the lesson runs the remote
classroom is taken from the start of the earlier to the end of the later of the two periods.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.county import MINUTES_PER_DAY, School


@dataclass(frozen=True)
class Slot:
    """One bell period of one school, placed in the week."""

    weekday: int
    period: int
    start: int
    end: int


def school_slots(school: School) -> list[Slot]:
    slots: list[Slot] = []
    for weekday in range(1, 8):
        base = (weekday - 1) * MINUTES_PER_DAY
        for i, p in enumerate(school.bells.for_weekday(weekday), start=1):
            slots.append(Slot(weekday, i, base + p.start_min, base + p.end_min))
    return slots


@dataclass(frozen=True)
class Match:
    """How a hub slot lands in a remote school's day: its period and the span the classroom is taken."""

    period: int
    overlap: int
    busy_start: int
    busy_end: int


def match(hub: Slot, remote_slots_of_day: list[Slot], min_overlap: int) -> Match | None:
    """The remote period a hub slot serves, or None if the bells are not compatible."""
    touching = [s for s in remote_slots_of_day if s.start < hub.end and hub.start < s.end]
    if len(touching) != 1:
        return None
    s = touching[0]
    overlap = min(hub.end, s.end) - max(hub.start, s.start)
    if overlap < min_overlap:
        return None
    return Match(s.period, overlap, min(hub.start, s.start), max(hub.end, s.end))


def slots_by_day(slots: list[Slot]) -> dict[int, list[Slot]]:
    out: dict[int, list[Slot]] = {}
    for s in slots:
        out.setdefault(s.weekday, []).append(s)
    return out
