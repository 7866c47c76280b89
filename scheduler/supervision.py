"""Planned vs held (督导): lessons planned by the timetable against lessons that really took place.

A lesson is held for a remote classroom when its room went live and that classroom was present, while the
room was live, for at least half of the planned lesson. It is held for the hub teacher when the room was
live for at least half of the planned lesson. 开课比 = held / planned. Only lessons already over count.
The inputs are plain facts read from the rooms' rows, so this module needs no database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from core.exports import safe_row
from scheduler.calendar import Occurrence

Span = tuple[dt.datetime, dt.datetime]


@dataclass
class RoomFacts:
    """What the room created for one occurrence recorded."""

    live_at: dt.datetime | None
    ended_at: dt.datetime | None
    classroom_presence: dict[str, list[Span]] = field(default_factory=dict)
    """County classroom id → join/leave spans."""


@dataclass
class Line:
    group: str
    key: str
    label: str
    planned: int = 0
    held: int = 0

    @property
    def ratio(self) -> float | None:
        return self.held / self.planned if self.planned else None

    def to_json(self) -> dict:
        return {"group": self.group, "key": self.key, "label": self.label, "planned": self.planned,
                "held": self.held, "ratio": self.ratio}


def _overlap(spans: list[Span], window: Span) -> float:
    """Seconds of `window` covered by the union of `spans`."""
    clipped = sorted((max(s, window[0]), min(e, window[1])) for s, e in spans if s < window[1] and e > window[0])
    total, reach = 0.0, None
    for s, e in clipped:
        if reach is not None and s < reach:
            s = reach
        if e > s:
            total += (e - s).total_seconds()
            reach = e if reach is None else max(reach, e)
    return total


def planned_vs_held(
    occurrences: list[Occurrence], facts: dict[str, RoomFacts], now: dt.datetime,
    teacher_names: dict[str, str], classroom_names: dict[str, str],
) -> list[Line]:
    lines: dict[tuple[str, str], Line] = {}

    def line(group: str, key: str, label: str) -> Line:
        return lines.setdefault((group, key), Line(group, key, label))

    for occ in occurrences:
        if occ.end > now:
            continue
        planned_seconds = (occ.end - occ.start).total_seconds()
        room = facts.get(occ.ref)
        live: Span | None = None
        if room is not None and room.live_at is not None:
            live = (room.live_at, room.ended_at or now)
        year, week, _ = occ.date.isocalendar()
        week_line = line("week", f"{year}-W{week:02d}", f"{year} 第{week}周")
        teacher_line = line("teacher", occ.lesson.teacher, teacher_names.get(occ.lesson.teacher, occ.lesson.teacher))
        teacher_line.planned += 1
        if live is not None and (live[1] - live[0]).total_seconds() >= planned_seconds / 2:
            teacher_line.held += 1
        for room_id in occ.lesson.classrooms:
            class_line = line("classroom", room_id, classroom_names.get(room_id, room_id))
            class_line.planned += 1
            week_line.planned += 1
            spans = room.classroom_presence.get(room_id, []) if room is not None else []
            if live is not None and _overlap(spans, live) >= planned_seconds / 2:
                class_line.held += 1
                week_line.held += 1
    order = {"week": 0, "teacher": 1, "classroom": 2}
    return sorted(lines.values(), key=lambda ln: (order[ln.group], ln.key))


def to_csv(lines: list[Line]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180: a CR or LF inside a cell is quoted
    writer.writerow(["分组", "编号", "名称", "计划节数", "实开节数", "开课比"])
    names = {"week": "周", "teacher": "主讲教师", "classroom": "听讲教室"}
    for ln in lines:
        writer.writerow(safe_row([names[ln.group], ln.key, ln.label, ln.planned, ln.held,
                                  "" if ln.ratio is None else f"{ln.ratio:.2%}"]))  # no formula injection
    return buf.getvalue()
