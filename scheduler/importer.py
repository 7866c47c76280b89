"""Import county data from the JSON format or the spreadsheet templates (CSV files or one XLSX workbook).

All or nothing: the result is either a valid `County` or the full list of problems, each with the file, the
row (1-based as a spreadsheet shows it; for JSON the item number in its list) and the field, so the
coordinator can fix them all in one pass.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from core.uploads import LIMITS, check_json, check_xlsx, decode_csv, too_many_rows
from scheduler.county import WEEKDAYS, County

TEMPLATES: dict[str, list[str]] = {
    "county.csv": ["name", "min_overlap_minutes", "max_n", "mix_grades"],
    "schools.csv": ["id", "name", "kind", "streams", "max_lessons_at_once"],
    "bells.csv": ["school", "weekday", "period", "start", "end"],
    "classrooms.csv": ["id", "school", "name", "grade", "students", "open", "busy"],
    "teachers.csv": ["id", "name", "school", "subject", "grades", "max_per_week", "max_per_day", "unavailable",
                     "classroom"],
    "pairings.csv": ["hub", "remote"],
    "demand.csv": ["classroom", "subject", "per_week", "teacher"],
    "term.csv": ["kind", "start", "end", "name", "follows"],
}
MAX_JSON_BYTES = 1024 * 1024
"""A county as one JSON body: 1 MiB, about 2 000 classrooms with their availability. Larger counties use
the CSV templates or one XLSX workbook (docs/county-format.md, "Size limits")."""
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
"""CSV files or one XLSX workbook, all parts of one upload together."""
TOO_LARGE_JSON = (
    f"县域数据 JSON 超过 {MAX_JSON_BYTES // 1024 // 1024} MiB 上限，请改用 CSV 模板或一个 XLSX 工作簿上传"
    f"（上限 {MAX_UPLOAD_BYTES // 1024 // 1024} MiB）。 / The county JSON exceeds the {MAX_JSON_BYTES // 1024 // 1024} MiB "
    f"limit; upload the CSV templates or one XLSX workbook instead (up to {MAX_UPLOAD_BYTES // 1024 // 1024} MiB)."
)
TOO_LARGE_UPLOAD = (
    f"上传的文件合计超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MiB 上限。 / The uploaded files exceed the "
    f"{MAX_UPLOAD_BYTES // 1024 // 1024} MiB limit."
)
REQUIRED = ("county.csv", "schools.csv", "bells.csv", "classrooms.csv", "teachers.csv", "demand.csv")
BELL_DAYS = ("default", *WEEKDAYS)


@dataclass(frozen=True)
class ImportProblem:
    file: str
    row: int
    field: str
    message: str

    def to_json(self) -> dict:
        return {"file": self.file, "row": self.row, "field": self.field, "message": self.message}


@dataclass
class ImportResult:
    county: County | None
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.county is not None and not self.problems


Origin = dict[tuple, tuple[str, int, str | None]]


def import_json(data: bytes | str, filename: str = "county.json") -> ImportResult:
    check_json(data, filename)  # raises UploadRefused: depth and items before json.loads recurses
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return ImportResult(None, [ImportProblem(filename, 0, "", f"不是有效的 JSON：{exc}")])
    if not isinstance(raw, dict):
        return ImportResult(None, [ImportProblem(filename, 0, "", "顶层应为对象")])
    return _finish(raw, filename, {})


def import_tables(tables: dict[str, list[dict[str, str]]], row_numbers: dict[str, list[int]] | None = None) -> ImportResult:
    """Import from template tables: file name → rows as dicts keyed by the header."""
    problems: list[ImportProblem] = []
    for name in REQUIRED:
        if name not in tables:
            problems.append(ImportProblem(name, 0, "", "缺少此文件"))
    for name, rows in tables.items():
        if name not in TEMPLATES:
            problems.append(ImportProblem(name, 0, "", f"不认识的文件；模板为 {', '.join(TEMPLATES)}"))
            continue
        if rows:
            missing = [c for c in TEMPLATES[name] if c not in rows[0]]
            for c in missing:
                if c in ("name", "id", "school", "classroom", "hub", "remote", "kind", "start", "subject", "weekday"):
                    problems.append(ImportProblem(name, 1, c, "缺少此列"))
    if problems:
        return ImportResult(None, problems)
    numbers = row_numbers or {name: list(range(2, len(rows) + 2)) for name, rows in tables.items()}
    origin: Origin = {}
    data: dict = {"schools": [], "classrooms": [], "teachers": [], "pairings": [], "demand": []}

    def val(row: dict[str, str], key: str) -> str | None:
        v = (row.get(key) or "").strip()
        return v or None

    county_rows = tables["county.csv"]
    if not county_rows:
        return ImportResult(None, [ImportProblem("county.csv", 2, "name", "需要一行县名")])
    settings: dict = {k: val(county_rows[0], k) for k in ("min_overlap_minutes", "max_n") if val(county_rows[0], k)}
    if val(county_rows[0], "mix_grades"):
        mix, err = _parse_mix(val(county_rows[0], "mix_grades") or "")
        if err:
            problems.append(ImportProblem("county.csv", numbers["county.csv"][0], "mix_grades", err))
        settings["mix_grades"] = mix
    data["name"] = val(county_rows[0], "name") or ""
    data["settings"] = settings
    origin[("name",)] = ("county.csv", numbers["county.csv"][0], "name")
    origin[("settings",)] = ("county.csv", numbers["county.csv"][0], None)
    school_index: dict[str, int] = {}
    for i, row in enumerate(tables["schools.csv"]):
        item = {k: val(row, k) for k in TEMPLATES["schools.csv"] if val(row, k) is not None}
        item["bells"] = {}
        school_index.setdefault(item.get("id", ""), len(data["schools"]))
        origin[("schools", len(data["schools"]))] = ("schools.csv", numbers["schools.csv"][i], None)
        data["schools"].append(item)
    for i, row in enumerate(tables["bells.csv"]):
        rown = numbers["bells.csv"][i]
        sid, day = val(row, "school") or "", (val(row, "weekday") or "").lower()
        if sid not in school_index:
            problems.append(ImportProblem("bells.csv", rown, "school", f"schools.csv 中没有学校 {sid}"))
            continue
        if day not in BELL_DAYS:
            problems.append(ImportProblem("bells.csv", rown, "weekday", f"应为 {'/'.join(BELL_DAYS)} 之一"))
            continue
        try:
            period = int(val(row, "period") or "")
        except ValueError:
            problems.append(ImportProblem("bells.csv", rown, "period", "应为节次序号 1, 2, …"))
            continue
        si = school_index[sid]
        day_list = data["schools"][si]["bells"].setdefault(day, [])
        day_list.append((period, {"start": val(row, "start") or "", "end": val(row, "end") or ""}, rown))
    for si, school in enumerate(data["schools"]):
        for day, entries in school["bells"].items():
            entries.sort(key=lambda e: e[0])
            for j, (_p, _period, rown) in enumerate(entries):
                origin[("schools", si, "bells", day, j)] = ("bells.csv", rown, None)
            school["bells"][day] = [p for _n, p, _r in entries]
    for i, row in enumerate(tables["classrooms.csv"]):
        rown = numbers["classrooms.csv"][i]
        origin[("classrooms", i)] = ("classrooms.csv", rown, None)
        room: dict = {k: val(row, k) for k in ("id", "school", "name", "grade", "students") if val(row, k) is not None}
        for key in ("open", "busy"):
            if val(row, key) is not None:
                periods, err = _parse_unavailable(val(row, key) or "")
                if err:
                    problems.append(ImportProblem("classrooms.csv", rown, key, err))
                room[key] = periods
        data["classrooms"].append(room)
    for i, row in enumerate(tables["teachers.csv"]):
        rown = numbers["teachers.csv"][i]
        origin[("teachers", i)] = ("teachers.csv", rown, None)
        item: dict = {k: val(row, k) for k in ("id", "name", "school", "subject", "max_per_week", "max_per_day",
                                               "classroom") if val(row, k) is not None}
        grades, err = _parse_grades(val(row, "grades") or "")
        if err:
            problems.append(ImportProblem("teachers.csv", rown, "grades", err))
        item["grades"] = grades
        unavailable, err = _parse_unavailable(val(row, "unavailable") or "")
        if err:
            problems.append(ImportProblem("teachers.csv", rown, "unavailable", err))
        item["unavailable"] = unavailable
        data["teachers"].append(item)
    for name, key in (("pairings.csv", "pairings"), ("demand.csv", "demand")):
        for i, row in enumerate(tables.get(name, [])):
            origin[(key, i)] = (name, numbers[name][i], None)
            data[key].append({k: val(row, k) for k in TEMPLATES[name] if val(row, k) is not None})
    if "term.csv" in tables:
        data["term"] = _term(tables["term.csv"], numbers["term.csv"], problems, origin)
    result = _finish(data, "county.json", origin)
    if problems:
        seen = {(p.file, p.row, p.field) for p in problems}
        problems += [p for p in result.problems if (p.file, p.row, p.field) not in seen]
        return ImportResult(None, problems)
    return result


def import_csv_files(files: dict[str, bytes], encoding: str = "utf-8") -> ImportResult:
    """CSV templates as uploaded: UTF-8 (with or without BOM), or GB18030 (as Excel in China saves them)
    when the coordinator declares it; a file that is neither is refused with the line (UploadRefused)."""
    tables: dict[str, list[dict[str, str]]] = {}
    for name, blob in files.items():
        text = decode_csv(blob, name, encoding)
        tables[name] = [dict(r) for r in csv.DictReader(io.StringIO(text))]
    return import_tables(tables)


def import_xlsx(blob: bytes, filename: str = "workbook.xlsx") -> ImportResult:
    """One workbook with a sheet per template, named like the CSV files without `.csv`."""
    from openpyxl import load_workbook

    check_xlsx(blob, filename)  # raises UploadRefused: the unpacked size, from the zip directory alone
    try:
        book = load_workbook(io.BytesIO(blob), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        return ImportResult(None, [ImportProblem("workbook.xlsx", 0, "", f"无法读取工作簿：{exc}")])
    tables: dict[str, list[dict[str, str]]] = {}
    numbers: dict[str, list[int]] = {}
    for sheet in book.worksheets:
        rows = []
        for values in sheet.iter_rows(values_only=True):
            rows.append(values)
            if len(rows) > LIMITS.rows_per_sheet + 1:
                raise too_many_rows(f"{filename}:{sheet.title}")
        if not rows:
            continue
        header = [str(h).strip() if h is not None else "" for h in rows[0]]
        name = f"{sheet.title}.csv"
        tables[name], numbers[name] = [], []
        for n, values in enumerate(rows[1:], start=2):
            if all(v is None or str(v).strip() == "" for v in values):
                continue
            tables[name].append({h: _cell(v) for h, v in zip(header, values, strict=False) if h})
            numbers[name].append(n)
    return import_tables(tables, numbers)


def template_csv(name: str) -> str:
    """An empty template with its header row, for coordinators to download."""
    return ",".join(TEMPLATES[name]) + "\n"


def _cell(v: object) -> str:
    if v is None:
        return ""
    if hasattr(v, "strftime"):
        return v.strftime("%H:%M") if type(v).__name__ == "time" else v.strftime("%Y-%m-%d")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _parse_grades(text: str) -> tuple[list[int], str | None]:
    """'3-6' or '3,4,5' (also with Chinese commas)."""
    grades: list[int] = []
    try:
        for part in text.replace("，", ",").replace("、", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                a, b = part.split("-", 1)
                grades.extend(range(int(a), int(b) + 1))
            else:
                grades.append(int(part))
    except ValueError:
        return [], "应为年级，如 3-6 或 3,4"
    return grades, (None if grades else "至少一个年级，如 3-6")


def _parse_mix(text: str) -> tuple[dict[str, str], str | None]:
    """'music:any; art:adjacent' — subject → mix_grades policy."""
    out = {}
    for part in text.replace("；", ";").split(";"):
        if not part.strip():
            continue
        subject, _, policy = part.partition(":")
        policy = policy.strip().lower()
        if policy not in ("none", "adjacent", "any"):
            return {}, f"{part.strip()}：应为 学科:none|adjacent|any，如 music:any; art:adjacent"
        out[subject.strip()] = policy
    return out, None


def _parse_unavailable(text: str) -> tuple[list[dict], str | None]:
    """'wed:1,2; fri' — weekday, optionally followed by periods; without periods the whole day (also the
    syntax of a classroom's `open` and `busy` periods)."""
    out = []
    for part in text.replace("；", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        day, _, periods = part.partition(":")
        day = day.strip().lower()
        if day not in WEEKDAYS:
            return [], f"{day} 不是星期（mon…sun）"
        try:
            nums = [int(p) for p in periods.replace("，", ",").split(",") if p.strip()]
        except ValueError:
            return [], "节次应为数字，如 wed:1,2"
        out.append({"weekday": day, "periods": nums})
    return out, None


def _term(rows: list[dict[str, str]], numbers: list[int], problems: list[ImportProblem], origin: Origin) -> dict:
    term: dict = {"holidays": [], "makeup_days": []}
    for i, row in enumerate(rows):
        kind = (row.get("kind") or "").strip()
        rown = numbers[i]
        clean = {k: v.strip() for k, v in row.items() if k and v and v.strip()}
        if kind == "term":
            term["start"], term["end"] = clean.get("start"), clean.get("end")
            origin[("term",)] = ("term.csv", rown, None)
        elif kind == "holiday":
            origin[("term", "holidays", len(term["holidays"]))] = ("term.csv", rown, None)
            term["holidays"].append({k: clean[k] for k in ("start", "end", "name") if k in clean})
        elif kind == "makeup":
            origin[("term", "makeup_days", len(term["makeup_days"]))] = ("term.csv", rown, None)
            item = {"date": clean.get("start"), "follows": (clean.get("follows") or "").lower()}
            if "name" in clean:
                item["name"] = clean["name"]
            term["makeup_days"].append(item)
        else:
            problems.append(ImportProblem("term.csv", rown, "kind", "应为 term、holiday 或 makeup"))
    if "start" not in term:
        problems.append(ImportProblem("term.csv", 0, "kind", "需要一行 kind=term 给出学期起止日期"))
    return term


_FIELD_FOR_CSV = {"makeup_days": {"date": "start"}}


def _locate(loc: tuple, default_file: str, origin: Origin) -> tuple[str, int, str]:
    """Map a pydantic/consistency location to (file, row, field)."""
    for cut in range(len(loc), 0, -1):
        hit = origin.get(tuple(loc[:cut]))
        if hit is not None:
            file, row, column = hit
            rest = [str(p) for p in loc[cut:] if not isinstance(p, int)]
            if loc and loc[0] == "term" and len(loc) > 1 and loc[1] == "makeup_days" and rest == ["date"]:
                rest = ["start"]
            return file, row, column or ".".join(rest)
    row = next((p + 1 for p in loc if isinstance(p, int)), 0)
    return default_file, row, ".".join(str(p) for p in loc)


def _finish(raw: dict, default_file: str, origin: Origin) -> ImportResult:
    try:
        county = County.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            file, row, fieldname = _locate(tuple(err["loc"]), default_file, origin)
            problems.append(ImportProblem(file, row, fieldname, _message(err)))
        return ImportResult(None, problems)
    problems = []
    for p in county.problems():
        loc: tuple = (p.section, p.index) if p.section != "term" else ("term",)
        if origin:
            sub = tuple(int(x) if x.isdigit() else x for x in p.field.replace("[", ".").replace("]", "").split("."))
            file, row, fieldname = _locate(loc + sub, default_file, origin)
        else:
            file, row, fieldname = default_file, p.index + 1, p.field
        problems.append(ImportProblem(file, row, fieldname or p.field, p.message))
    return ImportResult(None if problems else county, problems)


_MESSAGES = {
    "missing": "必填",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "string_pattern_mismatch": "时间格式应为 HH:MM（24 小时）",
    "literal_error": "取值不在允许范围内",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "extra_forbidden": "不认识的字段",
    "string_too_short": "不能为空",
}


def _message(err: dict) -> str:
    text = _MESSAGES.get(err["type"])
    if text is None:
        return str(err.get("msg", "无效"))
    ctx = err.get("ctx") or {}
    if err["type"] == "literal_error" and "expected" in ctx:
        return f"应为 {ctx['expected']} 之一"
    if err["type"] in ("greater_than_equal", "less_than_equal") and ctx:
        bound = ctx.get("ge", ctx.get("le"))
        return f"{text}（{'≥' if err['type'] == 'greater_than_equal' else '≤'} {bound}）"
    return text
