"""County data written back as the spreadsheet templates: example files for coordinators, and an export.

The importer reads exactly these files, so a county written here imports back unchanged.
"""

from __future__ import annotations

import csv
import io

from scheduler.county import WEEKDAYS, County
from scheduler.importer import TEMPLATES


def _periods(items: list) -> str:
    """Weekday periods in the templates' syntax: 'wed:1,2;fri'."""
    return ";".join(u.weekday + (":" + ",".join(map(str, u.periods)) if u.periods else "") for u in items)


def county_to_tables(county: County) -> dict[str, str]:
    rows: dict[str, list[dict[str, object]]] = {name: [] for name in TEMPLATES}
    rows["county.csv"].append({"name": county.name, "min_overlap_minutes": county.settings.min_overlap_minutes,
                               "max_n": county.settings.max_n,
                               "mix_grades": "; ".join(f"{k}:{v}" for k, v in county.settings.mix_grades.items())})
    for s in county.schools:
        rows["schools.csv"].append({"id": s.id, "name": s.name, "kind": s.kind, "streams": s.streams,
                                    "max_lessons_at_once": s.max_lessons_at_once})
        for day in ("default", *WEEKDAYS):
            periods = getattr(s.bells, day)
            for i, p in enumerate(periods or [], start=1):
                rows["bells.csv"].append({"school": s.id, "weekday": day, "period": i, "start": p.start, "end": p.end})
    for c in county.classrooms:
        rows["classrooms.csv"].append({
            **c.model_dump(exclude={"open", "busy"}),
            "open": _periods(c.open) if c.open is not None else "", "busy": _periods(c.busy),
        })
    for t in county.teachers:
        rows["teachers.csv"].append({
            "id": t.id, "name": t.name, "school": t.school, "subject": t.subject,
            "grades": ",".join(str(g) for g in t.grades), "max_per_week": t.max_per_week,
            "max_per_day": t.max_per_day,
            "unavailable": _periods(t.unavailable),
            "classroom": t.classroom or "",
        })
    rows["pairings.csv"] = [p.model_dump() for p in county.pairings]
    rows["demand.csv"] = [{**d.model_dump(), "teacher": d.teacher or ""} for d in county.demand]
    if county.term is not None:
        term = county.term
        rows["term.csv"].append({"kind": "term", "start": term.start, "end": term.end})
        for h in term.holidays:
            rows["term.csv"].append({"kind": "holiday", "start": h.start, "end": h.end or "", "name": h.name})
        for m in term.makeup_days:
            rows["term.csv"].append({"kind": "makeup", "start": m.date, "name": m.name, "follows": m.follows})
    out = {}
    for name, header in TEMPLATES.items():
        if name == "term.csv" and not rows[name]:
            continue
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows[name])
        out[name] = buf.getvalue()
    return out
