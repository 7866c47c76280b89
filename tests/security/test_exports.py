"""Exports a coordinator opens in Excel/WPS never run a formula typed into a name (CSV injection)."""

from __future__ import annotations

import copy
import csv
import io

from icalendar import Calendar

from core.exports import FORMULA_START, neutralise
from scheduler.county import County
from scheduler.ical import export
from scheduler.supervision import Line, to_csv
from scheduler.timetable import Lesson, Timetable
from tests.scheduler.conftest import SMALL

EVIL = ["=HYPERLINK(\"http://x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def test_csv_export_cells_cannot_start_a_formula() -> None:
    lines = [Line("teacher", f"t{i}", name, planned=3, held=2) for i, name in enumerate(EVIL)]
    rows = list(csv.reader(io.StringIO(to_csv(lines), newline="")))[1:]
    labels = [r[2] for r in rows]
    assert labels == ["'" + name for name in EVIL]
    assert all(not cell.startswith(FORMULA_START) for r in rows for cell in r)
    assert neutralise(-3) == -3 and neutralise("王老师") == "王老师"  # numbers and plain text unchanged


def test_ical_export_neutralises_names() -> None:
    data = copy.deepcopy(SMALL)
    teacher = next(t for t in data["teachers"] if t["id"] == "t-eng")
    teacher["name"] = "=HYPERLINK(\"http://evil\")"
    county = County.model_validate(data)
    lesson = Lesson(5, 2, "t-eng", "english", 3, ("r1-3",))
    ics = export(county, Timetable([lesson]), [lesson], "@SUM(A1)")
    cal = Calendar.from_ical(ics)
    assert str(cal["x-wr-calname"]) == "'@SUM(A1)"
    summaries = [str(ev["summary"]) for ev in cal.walk("VEVENT")]
    assert summaries and all(not s.startswith(FORMULA_START) for s in summaries)
