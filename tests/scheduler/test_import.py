"""Import: a good county comes in whole; a bad one comes in not at all, with every error by file, row, field."""

from __future__ import annotations

import io
import json
from pathlib import Path

from openpyxl import Workbook

from scheduler.county import County, json_schema
from scheduler.importer import import_csv_files, import_json, import_xlsx
from scheduler.templates import county_to_tables

ROOT = Path(__file__).resolve().parents[2]


def test_json_imports_whole(small_dict: dict, small: County) -> None:
    result = import_json(json.dumps(small_dict, ensure_ascii=False))
    assert result.ok and result.county == small


def test_json_errors_name_list_item_and_field(small_dict: dict) -> None:
    small_dict["teachers"][2]["max_per_week"] = "many"
    small_dict["schools"][1]["bells"]["default"][0]["start"] = "8:10"
    small_dict["classrooms"][3]["school"] = "r9"
    result = import_json(json.dumps(small_dict))
    assert result.county is None
    got = {(p.file, p.row, p.field) for p in result.problems}
    assert ("county.json", 3, "teachers.2.max_per_week") in got
    assert ("county.json", 2, "schools.1.bells.default.0.start") in got
    # cross-references are checked only once the shapes are right: fix those, see the unknown school
    small_dict["teachers"][2]["max_per_week"] = 8
    small_dict["schools"][1]["bells"]["default"][0]["start"] = "08:10"
    result = import_json(json.dumps(small_dict))
    assert [(p.row, p.field) for p in result.problems] == [(4, "school")]
    assert "r9" in result.problems[0].message


def test_csv_templates_round_trip(small: County) -> None:
    files = {name: text.encode("utf-8-sig") for name, text in county_to_tables(small).items()}
    result = import_csv_files(files)
    assert result.problems == [] and result.county == small


def test_csv_errors_by_file_row_and_column(small: County) -> None:
    tables = county_to_tables(small)
    lines = {name: text.splitlines() for name, text in tables.items()}
    lines["teachers.csv"][2] = lines["teachers.csv"][2].replace('"1,2,3,4,5,6"', '"3-x"')  # 王乐, row 3
    lines["bells.csv"][4] = lines["bells.csv"][4].replace("10:40", "25:00")                   # row 5
    lines["demand.csv"][5] = lines["demand.csv"][5].replace("english,3", "english,0")         # row 6
    lines["classrooms.csv"][2] = lines["classrooms.csv"][2].replace(",r1,", ",r7,")           # row 3
    files = {name: ("\n".join(ls) + "\n").encode("gb18030") for name, ls in lines.items()}
    result = import_csv_files(files, encoding="gb18030")  # declared by the coordinator
    assert result.county is None
    got = {(p.file, p.row, p.field) for p in result.problems}
    assert got == {("teachers.csv", 3, "grades"), ("bells.csv", 5, "start"), ("demand.csv", 6, "per_week")}
    # cross-references are checked once every row has the right shape
    for name, row in (("teachers.csv", 2), ("bells.csv", 4), ("demand.csv", 5)):
        lines[name][row] = tables[name].splitlines()[row]
    files = {name: ("\n".join(ls) + "\n").encode("utf-8") for name, ls in lines.items()}
    result = import_csv_files(files)
    assert [(p.file, p.row, p.field) for p in result.problems] == [("classrooms.csv", 3, "school")]
    assert "r7" in result.problems[0].message and result.county is None


def test_missing_file_and_unknown_file_reported() -> None:
    result = import_csv_files({"schools.csv": b"id,name,kind\n", "notes.csv": b"x\n"})
    names = {p.file for p in result.problems}
    assert {"county.csv", "bells.csv", "teachers.csv", "notes.csv"} <= names and result.county is None


def test_xlsx_workbook_imports(small: County) -> None:
    book = Workbook()
    book.remove(book.active)
    for name, text in county_to_tables(small).items():
        sheet = book.create_sheet(name.removesuffix(".csv"))
        for line in text.splitlines():
            sheet.append(line.split(",") if "\"" not in line else next(iter([_csv_row(line)])))
    buf = io.BytesIO()
    book.save(buf)
    result = import_xlsx(buf.getvalue())
    assert result.problems == [] and result.county == small


def _csv_row(line: str) -> list[str]:
    import csv

    return next(csv.reader([line]))


def test_committed_json_schema_is_current() -> None:
    committed = json.loads((ROOT / "docs" / "county.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema()
