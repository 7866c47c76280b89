"""A progress plan as a file: CSV, XLSX or JSON, one row per section in teaching order.

Columns `chapter, section, lessons, week` (+ `knowledge`, written for reading and ignored on import). An
import is all or nothing: every problem is reported with its row (as a spreadsheet numbers it, header = 1;
for JSON the item number) and field, as the county import does.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from core.exports import neutralise, safe_row
from core.uploads import LIMITS, UploadRefused, check_json, check_xlsx, decode_csv, too_many_rows
from scheduler.progress import PlanItem, Section

COLUMNS = ["chapter", "section", "lessons", "week", "knowledge"]
FORMATS = ("csv", "xlsx", "json")
MAX_ROWS = 500


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int
    field: str
    message: str

    def to_json(self) -> dict:
        return {"row": self.row, "field": self.field, "message": self.message}


class PlanFileError(ValueError):
    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems

    def __reduce__(self) -> tuple[type, tuple[list[RowProblem]]]:  # crosses the upload worker's process boundary
        return (type(self), (self.problems,))


def _rows(items: list[PlanItem]) -> list[dict[str, object]]:
    return [
        {"chapter": i.section.chapter, "section": i.section.section, "lessons": i.lessons, "week": i.week,
         "knowledge": "、".join(i.section.knowledge)}
        for i in items
    ]  # fmt: skip


def export(items: list[PlanItem], fmt: str) -> bytes:
    rows = _rows(items)
    if fmt == "json":
        return json.dumps({"format": "sanke-progress/1", "items": rows}, ensure_ascii=False, indent=1).encode()
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "progress"
        ws.append(COLUMNS)
        for r in rows:
            ws.append(safe_row(r[c] for c in COLUMNS))  # no formula injection from a section's name
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS)
    writer.writeheader()
    writer.writerows({k: neutralise(v) for k, v in r.items()} for r in rows)
    return ("\ufeff" + out.getvalue()).encode()  # BOM: Excel opens it as UTF-8


def _read(blob: bytes, fmt: str) -> list[tuple[int, dict[str, str]]]:
    """(row number, cells) of a file; raises PlanFileError when the file itself cannot be read."""
    try:
        if fmt == "json":
            check_json(blob, "plan.json")  # limits before parsing (core.uploads)
            data = json.loads(blob)
            items = data.get("items") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise PlanFileError([RowProblem(0, "items", "expected a list of items")])
            return [(i + 1, {k: str(v) for k, v in (x if isinstance(x, dict) else {}).items()})
                    for i, x in enumerate(items)]  # fmt: skip
        if fmt == "xlsx":
            from openpyxl import load_workbook

            check_xlsx(blob, "plan.xlsx")
            ws = load_workbook(io.BytesIO(blob), read_only=True, data_only=True).worksheets[0]
            values = []
            for row in ws.iter_rows(values_only=True):
                values.append(["" if v is None else str(v).strip() for v in row])
                if len(values) > LIMITS.rows_per_sheet:
                    raise too_many_rows("plan.xlsx")
        else:
            values = list(csv.reader(io.StringIO(decode_csv(blob, "plan.csv"))))
    except (PlanFileError, UploadRefused):
        raise
    except Exception as e:  # a broken upload is the user's problem to fix, reported, never a 500
        raise PlanFileError([RowProblem(0, "file", f"cannot read the {fmt} file: {e}")]) from e
    if not values:
        raise PlanFileError([RowProblem(1, "header", f"expected the header {','.join(COLUMNS[:4])}")])
    header = [h.strip().lower() for h in values[0]]
    missing = [c for c in COLUMNS[:4] if c not in header]
    if missing:
        raise PlanFileError([RowProblem(1, missing[0], f"the header lacks the column {missing[0]}")])
    return [
        (n + 2, {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)})
        for n, row in enumerate(values[1:])
        if any(cell.strip() for cell in row)
    ]


def parse(blob: bytes, fmt: str, sections: list[Section], max_week: int) -> list[PlanItem]:
    """Rows → plan items over the volume's sections (matched by chapter and section names)."""
    if fmt not in FORMATS:
        raise PlanFileError([RowProblem(0, "format", f"format must be one of {', '.join(FORMATS)}")])
    rows = _read(blob, fmt)
    if len(rows) > MAX_ROWS:
        raise PlanFileError([RowProblem(MAX_ROWS + 2, "file", f"at most {MAX_ROWS} rows")])
    by_name = {(s.chapter, s.section): s for s in sections}
    problems: list[RowProblem] = []
    items: list[PlanItem] = []
    seen: set[int] = set()
    for n, cells in rows:
        section = by_name.get((cells.get("chapter", ""), cells.get("section", "")))
        if section is None:
            problems.append(RowProblem(n, "section", f"no section {cells.get('chapter')!r} / "
                                       f"{cells.get('section')!r} in this volume"))  # fmt: skip
            continue
        if section.node_id in seen:
            problems.append(RowProblem(n, "section", "this section is listed twice"))
            continue
        seen.add(section.node_id)
        numbers = {}
        for name, high in (("lessons", 40), ("week", max_week)):
            raw = cells.get(name, "")
            try:
                value = int(float(raw))
            except ValueError:
                problems.append(RowProblem(n, name, f"{name} must be a whole number, not {raw!r}"))
                continue
            if not 1 <= value <= high:
                problems.append(RowProblem(n, name, f"{name} must be between 1 and {high}"))
                continue
            numbers[name] = value
        if len(numbers) == 2:
            items.append(PlanItem(section, numbers["lessons"], numbers["week"]))
    if problems:
        raise PlanFileError(problems)
    if not items:
        raise PlanFileError([RowProblem(2, "file", "the plan has no rows")])
    return items
