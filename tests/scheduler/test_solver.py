"""The solver places 1+N lessons a coordinator can check, deterministically, and explains what it cannot."""

from __future__ import annotations

from dataclasses import replace

from scheduler.county import County
from scheduler.solver import SolveOptions, solve
from scheduler.synthetic import Tier, generate
from scheduler.timetable import Lesson, Timetable, moved_fraction
from scheduler.validator import validate


def test_small_county_placed_and_valid(small: County) -> None:
    result = solve(small)
    tt = result.timetable
    assert tt.placed_count() == sum(d.per_week for d in small.demand) == 20
    assert validate(small, tt) == []
    assert tt.unplaced == []
    # the three grade-3 classes share Li Ying's English lessons: one teacher, one lesson, N = 3
    grade3 = [ls for ls in tt.lessons if ls.teacher == "t-eng" and ls.grade == 3]
    assert len(grade3) == 2 and all(ls.classrooms == ("r1-3", "r2-3", "r3-3") for ls in grade3)
    # Li Ying is unavailable on Wednesday; Chen Mei in Monday's first two periods
    assert not any(ls.teacher == "t-eng" and ls.weekday == 3 for ls in tt.lessons)
    assert not any(ls.teacher == "t-art" and ls.weekday == 1 and ls.period <= 2 for ls in tt.lessons)


def test_same_input_same_timetable(small: County) -> None:
    assert solve(small).timetable.to_json() == solve(small).timetable.to_json()


def test_bells_that_never_overlap_enough_are_explained(small_dict: dict) -> None:
    # 山前小学 moves its bells 25 minutes later with 50-minute breaks: no hub period overlaps one of its
    # periods by 30 minutes without running into the next
    small_dict["schools"][4]["bells"] = {"default": [
        {"start": "08:25", "end": "08:55"}, {"start": "09:45", "end": "10:15"}, {"start": "11:05", "end": "11:35"},
    ]}
    county = County.model_validate(small_dict)
    tt = solve(county).timetable
    assert validate(county, tt) == []
    unplaced = {(u.classroom, u.subject): u for u in tt.unplaced}
    assert {room for room, _ in unplaced} == {"r3-3", "r3-6"}
    assert all("作息时间" in u.reasons[0] for u in unplaced.values())


def test_infeasible_county_reasons_name_the_blocking_rule(small_dict: dict) -> None:
    small_dict["settings"]["max_n"] = 1
    small_dict["classrooms"].append({"id": "r1-1", "school": "r1", "name": "一年级", "grade": 1})
    small_dict["demand"] += [
        {"classroom": "r1-1", "subject": "english", "per_week": 1},   # nobody teaches grade-1 English
        {"classroom": "r1-1", "subject": "science", "per_week": 1},   # no science teacher at all
    ]
    small_dict["demand"][4]["per_week"] = 7                            # r1-5 English 7 a week: 5 days only
    small_dict["teachers"][0]["max_per_week"] = 4                      # Li Ying: 4 lessons, 8 demanded at N=1
    county = County.model_validate(small_dict)
    tt = solve(county).timetable
    assert validate(county, tt) == []
    reasons = {(u.classroom, u.subject): (u.missing, " ".join(u.reasons)) for u in tt.unplaced}
    assert "没有教1年级英语的教师" in reasons[("r1-1", "english")][1]
    assert "没有科学教师" in reasons[("r1-1", "science")][1]
    missing, why = reasons[("r1-5", "english")]
    assert missing == 2 and "每周需要 7 节英语" in why
    li_ying = [why for (room, subject), (_n, why) in reasons.items() if subject == "english" and room in
               ("r1-3", "r2-3", "r3-3", "r2-4")]
    assert li_ying and all("李英老师每周最多 4 节，已排满" in why for why in li_ying)
    assert sum(1 for ls in tt.lessons if ls.teacher == "t-eng") == 4


def test_replan_after_teacher_unavailable_moves_at_most_5_percent() -> None:
    # behaviour, not quality: small piece budgets (the defaults spend ~30 CPU s on this tight county)
    options = SolveOptions(piece_time=0.3, piece_search_time=0.3)
    county, _planted = generate(Tier("S", 2, 12), seed=3)
    before = solve(county, options).timetable
    assert validate(county, before) == []
    # the coordinator learns one teacher cannot teach on the day she has the fewest class-lessons
    per_day: dict[tuple[str, int], int] = {}
    for ls in before.lessons:
        per_day[(ls.teacher, ls.weekday)] = per_day.get((ls.teacher, ls.weekday), 0) + len(ls.classrooms)
    (teacher_id, weekday), _n = min(per_day.items(), key=lambda kv: (kv[1], kv[0]))
    data = county.model_dump(mode="json")
    day = ("mon", "tue", "wed", "thu", "fri")[weekday - 1]
    for t in data["teachers"]:
        if t["id"] == teacher_id:
            t["unavailable"].append({"weekday": day, "periods": []})
    changed = County.model_validate(data)
    after = solve(changed, options, previous=before).timetable
    assert validate(changed, after) == []
    assert after.placed_count() == before.placed_count()
    assert not any(ls.teacher == teacher_id and ls.weekday == weekday for ls in after.lessons)
    assert 0 < moved_fraction(before, after) <= 0.05


def test_validator_lists_every_violation(small: County) -> None:
    tt = solve(small).timetable
    lesson = next(ls for ls in tt.lessons if ls.teacher == "t-eng" and ls.grade == 3)
    broken = Timetable([
        *tt.lessons,
        replace(lesson, period=lesson.period % 6 + 1, classrooms=("r1-3", "r1-5")),  # r1-5 is grade 5
        Lesson(3, 1, "t-eng", "english", 4, ("r2-4",)),                              # Wednesday: unavailable
        Lesson(1, 1, "t-mus", "music", 3, ("r1-3", "r2-3", "r3-3", "r1-5", "r2-4")),  # N = 5 > 4
    ])
    codes = {v.code for v in validate(small, broken)}
    assert {"grade", "teacher-unavailable", "max-n", "over-demand", "no-demand", "subject-day"} <= codes


def test_replan_after_classroom_added_keeps_the_rest(small_dict: dict) -> None:
    before = solve(County.model_validate(small_dict)).timetable
    small_dict["classrooms"].append({"id": "r2-5", "school": "r2", "name": "五年级", "grade": 5, "students": 16})
    small_dict["demand"].append({"classroom": "r2-5", "subject": "english", "per_week": 3})
    county = County.model_validate(small_dict)
    result = solve(county, previous=before)
    after = result.timetable
    assert validate(county, after) == [] and after.unplaced == []
    assert result.quality == "proven optimal"
    # nothing had to move, so nothing did; the new class joins 赵文's grade-5 English lessons where it can
    # and opens one lesson where r1-5's lesson cannot take it (moving r1-5 costs more than a lesson)
    assert moved_fraction(before, after) == 0
    assert sum(1 for ls in after.lessons if "r2-5" in ls.classrooms and "r1-5" in ls.classrooms) >= 2
    assert len(after.lessons) <= len(before.lessons) + 1


def test_cp_sat_places_what_greedy_cannot() -> None:
    from scheduler.board import Board
    from scheduler.candidates import CountyIndex
    from scheduler.greedy import best_greedy

    county, planted = generate(Tier("S", 2, 6), seed=21)   # a planted county where greedy falls one short
    index = CountyIndex(county)
    board = best_greedy(index, index.options, lambda: Board(index))
    demanded = sum(d.per_week for d in county.demand)
    assert sum(board.placed.values()) == demanded - 1
    result = solve(county)
    # the neighbourhood search (a full cost counts 1000 per class-lesson left out) or the placement stage
    assert result.timetable.placed_count() == demanded and validate(county, result.timetable) == []


def test_hub_classroom_shared_by_two_teachers_never_double_booked(small_dict: dict) -> None:
    small_dict["teachers"][1]["classroom"] = "h1-3"   # 王乐 teaches music from 李英's class too
    small_dict["teachers"][0]["unavailable"] = [{"weekday": d} for d in ("mon", "tue", "wed")]
    small_dict["teachers"][1]["unavailable"] = [{"weekday": d} for d in ("mon", "tue")]
    county = County.model_validate(small_dict)
    tt = solve(county).timetable
    assert validate(county, tt) == [] and tt.unplaced == []
    from_h13 = [(ls.weekday, ls.period) for ls in tt.lessons if ls.teacher in ("t-eng", "t-mus")]
    assert len(from_h13) == len(set(from_h13))
    english = next(ls for ls in tt.lessons if ls.teacher == "t-eng")
    music_then = replace(english, teacher="t-mus", subject="music", grade=6, classrooms=("r3-6",))
    clash = Timetable([ls for ls in tt.lessons if not (ls.teacher == "t-mus" and "r3-6" in ls.classrooms)] + [music_then])
    assert "hub-classroom-double" in {v.code for v in validate(county, clash)}


def test_replan_counts_the_lessons_a_forced_one_displaces_as_forced() -> None:
    """A busy county where the one forced class-lesson fits only where others are: the re-plan moves them,
    and the report counts them as forced (displaced) because no timetable placing everything keeps them."""
    from scheduler.candidates import CountyIndex
    from scheduler.cpsat import Params, run
    from scheduler.model import PartModel
    from scheduler.replan import forced_moves, move_report
    from scheduler.solver import _parts

    options = SolveOptions(processes=1).scaled(0.2)
    county, _planted = generate(Tier("M-busy", 2, 8, busy=(0.5, 0.7)), seed=1)
    before = solve(county, options).timetable
    data = county.model_dump(mode="json")
    for t in data["teachers"]:
        if t["id"] == "h02-t2":
            t["unavailable"].append({"weekday": "fri", "periods": []})
    changed = County.model_validate(data)
    result = solve(changed, options, previous=before)
    report = move_report(changed, before, result.timetable, result.least_moves)
    direct = forced_moves(changed, before)
    assert result.timetable.placed_count() == before.placed_count() and validate(changed, result.timetable) == []
    assert report.displaced > 0 and report.forced == len(direct) + report.displaced
    assert result.quality == "proven optimal" and report.moved == report.forced   # nothing moved by choice
    # independently: keeping every previous class-lesson the new data allows leaves no way to place all
    index = CountyIndex(changed)
    keep = before.assignments() - direct
    infeasible = []
    for part in _parts(index.options):
        pm = PartModel(index, part, keep)
        for v in pm.kept:
            pm.model.add(v == 1)
        pm.model.add(sum(pm.x.values()) == pm.demanded)
        infeasible.append(run(pm.model, Params(5.0, presolve=True))[1] == "INFEASIBLE")
    assert sum(infeasible) >= 1
