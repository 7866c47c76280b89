"""Classrooms' own periods, pinned teachers and mixed grades: the solver honours them, the validator
re-derives them from the county file alone, the templates carry them, and a tight county's unplaced
demand leads with the rule that blocks every place."""

from __future__ import annotations

from dataclasses import replace

from scheduler.county import County
from scheduler.importer import import_csv_files
from scheduler.slots import match, school_slots
from scheduler.solver import solve
from scheduler.templates import county_to_tables
from scheduler.timetable import Lesson, Timetable
from scheduler.validator import validate


def _with_availability(small_dict: dict) -> dict:
    rooms = {c["id"]: c for c in small_dict["classrooms"]}
    rooms["r1-3"]["busy"] = [{"weekday": "tue"}, {"weekday": "thu", "periods": [2]}]
    rooms["r2-4"]["open"] = [{"weekday": "mon"}, {"weekday": "thu"}]
    rooms["h1-3"]["busy"] = [{"weekday": "fri"}]     # 李英's own class: she cannot teach from it on Friday
    return small_dict


def test_busy_and_open_periods_of_remote_and_hub_classrooms_are_honoured(small_dict: dict) -> None:
    county = County.model_validate(_with_availability(small_dict))
    tt = solve(county).timetable
    assert validate(county, tt) == [] and tt.unplaced == []
    r13 = [ls for ls in tt.lessons if "r1-3" in ls.classrooms]
    assert r13 and not any(ls.weekday == 2 for ls in r13)
    r24 = [ls for ls in tt.lessons if "r2-4" in ls.classrooms]
    assert r24 and all(ls.weekday in (1, 4) for ls in r24)
    assert not any(ls.teacher == "t-eng" and ls.weekday == 5 for ls in tt.lessons)
    # the validator finds a lesson put in a busy period from the county data alone
    lesson = r13[0]
    moved = replace(lesson, weekday=2, period=1)
    codes = [v.code for v in validate(county, Timetable([ls for ls in tt.lessons if ls != lesson] + [moved]))]
    assert codes.count("classroom-busy") == 1
    # a lesson of hers without r2-4 (open Monday and Thursday only), so the hub classroom is the one rule broken
    english = next(ls for ls in tt.lessons if ls.teacher == "t-eng" and "r2-4" not in ls.classrooms)
    friday = replace(english, weekday=5, period=english.period)
    messages = [v.message for v in validate(county, Timetable([ls for ls in tt.lessons if ls != english] + [friday]))
                if v.code == "classroom-busy"]
    assert messages == [f"主讲教室 三年级1班 周五第 {english.period} 节有本校的课"]


def test_open_and_busy_together_is_an_import_problem(small_dict: dict) -> None:
    small_dict["classrooms"][1]["open"] = [{"weekday": "mon"}]
    small_dict["classrooms"][1]["busy"] = [{"weekday": "tue", "periods": [9]}]
    problems = County.model_validate(small_dict).problems()
    assert {(p.section, p.index, p.field) for p in problems} == {
        ("classrooms", 1, "busy"), ("classrooms", 1, "busy[0].periods")}


def test_pinned_teacher_teaches_every_lesson_of_that_class(small_dict: dict) -> None:
    small_dict["teachers"].append({"id": "t-eng3", "name": "周蓓", "school": "h2", "subject": "english",
                                   "grades": [3, 4], "max_per_week": 6})
    small_dict["demand"][1]["teacher"] = "t-eng3"                # r2-3 keeps last term's teacher
    county = County.model_validate(small_dict)
    tt = solve(county).timetable
    assert validate(county, tt) == [] and tt.unplaced == []
    assert {ls.teacher for ls in tt.lessons if "r2-3" in ls.classrooms and ls.subject == "english"} == {"t-eng3"}
    wrong = Timetable([Lesson(1, 1, "t-eng", "english", 3, ("r2-3",))])
    assert "pinned-teacher" in {v.code for v in validate(county, wrong)}
    small_dict["demand"][1]["teacher"] = "t-eng2"                # teaches grades 5-6 only
    assert [p.field for p in County.model_validate(small_dict).problems()] == ["teacher"]


def _music(small_dict: dict, policy: str | None) -> tuple[County, list]:
    if policy is not None:
        small_dict["settings"]["mix_grades"] = {"music": policy}
    county = County.model_validate(small_dict)
    tt = solve(county).timetable
    assert validate(county, tt) == [] and tt.unplaced == []
    return county, [ls for ls in tt.lessons if ls.subject == "music"]


def test_mixed_grade_music_needs_fewer_lessons(small_dict: dict) -> None:
    # music demand: r1-3 (grade 3), r2-4 (grade 4), r3-6 (grade 6), once a week each
    _county, none = _music(dict(small_dict), None)
    assert len(none) == 3 and all(not ls.grades for ls in none)
    _county, adjacent = _music(dict(small_dict), "adjacent")
    assert sorted(ls.all_grades for ls in adjacent) == [(3, 4), (6,)]
    county, any_ = _music(dict(small_dict), "any")
    assert [(ls.all_grades, ls.classrooms) for ls in any_] == [((3, 4, 6), ("r1-3", "r2-4", "r3-6"))]
    # the validator re-derives the policy: the same lesson is a violation where grades may not mix
    strict = County.model_validate({**county.model_dump(mode="json"), "settings": {"max_n": 4}})
    codes = {v.code for v in validate(strict, Timetable(any_))}
    assert "mix-grades" in codes


def test_templates_carry_availability_pins_and_mixing(small_dict: dict) -> None:
    _with_availability(small_dict)
    small_dict["demand"][0]["teacher"] = "t-eng"
    small_dict["settings"]["mix_grades"] = {"music": "any", "art": "adjacent"}
    county = County.model_validate(small_dict)
    tables = county_to_tables(county)
    assert "open,busy" in tables["classrooms.csv"].splitlines()[0]
    result = import_csv_files({name: text.encode() for name, text in tables.items()})
    assert result.problems == [] and result.county == county


def test_tight_county_leads_with_the_binding_rule(small: County, small_dict: dict) -> None:
    # 山前小学 takes one stream and wants seven class-lessons a week (both classrooms together); they fit in
    # seven periods. Now both classrooms are free for delivery lessons in only six of those periods: the
    # network is what blocks the seventh lesson everywhere it could go.
    full = solve(small).timetable
    schools = {s.id: s for s in small.schools}
    hub_of = {t.id: t.school for t in small.teachers}
    r3 = school_slots(schools["r3"])
    used = set()
    for ls in full.lessons:
        if any(c.startswith("r3-") for c in ls.classrooms):
            hub = next(s for s in school_slots(schools[hub_of[ls.teacher]]) if (s.weekday, s.period) == (ls.weekday, ls.period))
            m = match(hub, [s for s in r3 if s.weekday == ls.weekday], 30)
            assert m is not None
            used.add((ls.weekday, m.period))
    assert len(used) == 7
    six = sorted(used)[:6]
    days = ("mon", "tue", "wed", "thu", "fri")
    for room in small_dict["classrooms"]:
        if room["school"] == "r3":
            room["open"] = [{"weekday": days[wd - 1], "periods": [p for d, p in six if d == wd]}
                            for wd in sorted({d for d, _p in six})]
    county = County.model_validate(small_dict)
    tt = solve(county).timetable
    assert validate(county, tt) == []
    assert sum(c.startswith("r3-") for ls in tt.lessons for c in ls.classrooms) == 6
    (short,) = [u for u in tt.unplaced if u.classroom.startswith("r3-")]
    lead = short.reasons[0]
    assert lead.startswith("山前小学的网络同时只能接1路，全部") and lead.endswith("个可选节次都已占用"), short.reasons
    assert any(r.startswith("另有") and "有本校的课" in r for r in short.reasons)
