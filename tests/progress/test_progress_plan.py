"""Teaching progress as a teacher and a coordinator see it: the term's plan from the catalogue, consecutive
sections for consecutive lessons, a cancelled lesson shifting what follows, a correction moving the plan."""

from __future__ import annotations

import datetime as dt

from scheduler.county import Term
from scheduler.progress import LessonFact, Section, default_plan, status, teaching_weeks, term_week, walk

TERM = Term.model_validate({
    "start": "2026-09-01", "end": "2026-10-31",
    "holidays": [{"start": "2026-10-01", "end": "2026-10-09", "name": "国庆节"}],
    "makeup_days": [{"date": "2026-09-27", "follows": "wed", "name": "国庆调休"}],
})  # fmt: skip
SECTIONS = [Section(i, f"Unit {1 + i // 3}", "Part " + "ABC"[i % 3], (f"kp{i}",)) for i in range(6)]


def mondays_and_thursdays() -> list[dt.date]:
    day, out = TERM.start, []
    while day <= TERM.end:
        if day.isoweekday() in (1, 4) and not (dt.date(2026, 10, 1) <= day <= dt.date(2026, 10, 9)):
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def facts(dates: list[dt.date], today: dt.date, not_held=(), corrected=None) -> list[LessonFact]:
    corrected = corrected or {}
    return [
        LessonFact(f"t@{d.isoformat()}", d, None if d >= today else d not in not_held, corrected.get(d))
        for d in dates
    ]


def test_the_default_plan_spreads_the_catalogue_over_the_terms_teaching_weeks():
    dates = mondays_and_thursdays()
    plan = default_plan(SECTIONS, dates, TERM)
    assert [p.section.node_id for p in plan] == list(range(6))
    assert sum(p.lessons for p in plan) == len(dates) == 14
    assert [p.lessons for p in plan] == [3, 3, 2, 2, 2, 2]
    assert [p.week for p in plan] == sorted(p.week for p in plan) and plan[0].week == 1
    assert term_week(TERM, dt.date(2026, 10, 6)) not in teaching_weeks(TERM)  # 国庆 week has no lessons
    assert all(term_week(TERM, dt.date(2026, 10, 6)) != p.week for p in plan)
    # Without a timetable: the term's teaching weeks, two lessons each.
    assert sum(p.lessons for p in default_plan(SECTIONS, [], TERM)) == 2 * len(teaching_weeks(TERM))


def test_lessons_get_consecutive_sections_and_a_cancelled_lesson_shifts_the_plan():
    dates = mondays_and_thursdays()
    plan = default_plan(SECTIONS[:3], dates[:6], TERM)  # two lessons per section
    ahead = walk(plan, facts(dates[:6], today=TERM.start))
    assert [a.node_id for a in ahead.lessons] == [0, 0, 1, 1, 2, 2]
    assert {a.state for a in ahead.lessons} == {"planned"}
    # The third lesson is cancelled (not held): section 1 moves one lesson later, nothing is skipped.
    shifted = walk(plan, facts(dates[:6], today=dates[4], not_held={dates[2]}))
    assert [(a.node_id, a.state) for a in shifted.lessons] == [
        (0, "taught"), (0, "taught"), (1, "not_held"), (1, "taught"), (1, "planned"), (2, "planned")
    ]  # fmt: skip
    assert shifted.position == 3 and shifted.current == 1


def test_a_correction_moves_the_plan_and_the_coordinator_sees_ahead_or_behind():
    dates = mondays_and_thursdays()
    plan = default_plan(SECTIONS, dates, TERM)  # 3,3,2,2,2,2
    # The teacher taught Unit 2 Part B (node 4) in the second lesson: the plan continues from there.
    moved = walk(plan, facts(dates[:4], today=dates[2], corrected={dates[1]: 4}))
    assert [(a.node_id, a.state) for a in moved.lessons] == [
        (0, "taught"), (4, "corrected"), (4, "planned"), (5, "planned")
    ]  # fmt: skip
    assert moved.current == 4 and moved.position == 3 + 3 + 2 + 2 + 1
    mid = dates[8]
    on_time = status(plan, facts(dates, today=mid), TERM, mid)  # every lesson so far held as planned
    assert on_time.verdict == "on_track" and on_time.actual == 8 and abs(on_time.expected - 8) <= 1
    none_held = status(plan, facts(dates, today=mid, not_held=set(dates[:8])), TERM, mid)
    assert (none_held.verdict, none_held.by) == ("behind", none_held.expected)
    jumped = status(plan, facts(dates, today=mid, corrected={dates[0]: 5}), TERM, mid)
    assert jumped.verdict == "ahead" and jumped.actual == 14
