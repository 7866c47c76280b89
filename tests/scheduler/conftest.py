"""A small county a coordinator could check by hand: two hubs, three remote schools, one term."""

from __future__ import annotations

import copy

import pytest

from scheduler.county import County


def _day(start: str, length: int, count: int, brk: int = 10, pm: str = "14:00") -> list[dict[str, str]]:
    h, m = map(int, start.split(":"))
    t = h * 60 + m
    out = []
    for i in range(count):
        if i == 4:
            ph, pmm = map(int, pm.split(":"))
            t = ph * 60 + pmm
        out.append({"start": f"{t // 60:02d}:{t % 60:02d}", "end": f"{(t + length) // 60:02d}:{(t + length) % 60:02d}"})
        t += length + (20 if i == 1 else brk)
    return out


SMALL = {
    "name": "测试县",
    "settings": {"min_overlap_minutes": 30, "max_n": 4},
    "schools": [
        {"id": "h1", "name": "城关一小", "kind": "hub", "max_lessons_at_once": 2, "bells": {"default": _day("08:00", 40, 6)}},
        {"id": "h2", "name": "实验小学", "kind": "hub", "bells": {"default": _day("08:10", 45, 6), "fri": _day("08:10", 45, 5)}},
        {"id": "r1", "name": "石桥小学", "kind": "remote", "streams": 2, "bells": {"default": _day("08:05", 40, 6)}},
        {"id": "r2", "name": "河口小学", "kind": "remote", "streams": 2, "bells": {"default": _day("08:15", 45, 6)}},
        {"id": "r3", "name": "山前小学", "kind": "remote", "streams": 1, "bells": {"default": _day("07:55", 40, 6)}},
    ],
    "classrooms": [
        {"id": "h1-3", "school": "h1", "name": "三年级1班", "grade": 3, "students": 45},
        {"id": "r1-3", "school": "r1", "name": "三年级", "grade": 3, "students": 21},
        {"id": "r1-5", "school": "r1", "name": "五年级", "grade": 5, "students": 18},
        {"id": "r2-3", "school": "r2", "name": "三年级", "grade": 3, "students": 25},
        {"id": "r2-4", "school": "r2", "name": "四年级", "grade": 4, "students": 19},
        {"id": "r3-3", "school": "r3", "name": "三年级", "grade": 3, "students": 12},
        {"id": "r3-6", "school": "r3", "name": "六年级", "grade": 6, "students": 15},
    ],
    "teachers": [
        {"id": "t-eng", "name": "李英", "school": "h1", "subject": "english", "grades": [3, 4], "max_per_week": 6,
         "max_per_day": 2, "unavailable": [{"weekday": "wed"}], "classroom": "h1-3"},
        {"id": "t-mus", "name": "王乐", "school": "h1", "subject": "music", "grades": [1, 2, 3, 4, 5, 6]},
        {"id": "t-eng2", "name": "赵文", "school": "h2", "subject": "english", "grades": [5, 6], "max_per_week": 8},
        {"id": "t-art", "name": "陈美", "school": "h2", "subject": "art", "grades": [3, 4, 5, 6],
         "unavailable": [{"weekday": "mon", "periods": [1, 2]}]},
    ],
    "pairings": [
        {"hub": "h1", "remote": "r1"}, {"hub": "h1", "remote": "r2"}, {"hub": "h1", "remote": "r3"},
        {"hub": "h2", "remote": "r1"}, {"hub": "h2", "remote": "r2"}, {"hub": "h2", "remote": "r3"},
    ],
    "demand": [
        {"classroom": "r1-3", "subject": "english", "per_week": 2},
        {"classroom": "r2-3", "subject": "english", "per_week": 2},
        {"classroom": "r3-3", "subject": "english", "per_week": 2},
        {"classroom": "r2-4", "subject": "english", "per_week": 2},
        {"classroom": "r1-5", "subject": "english", "per_week": 3},
        {"classroom": "r3-6", "subject": "english", "per_week": 3},
        {"classroom": "r1-3", "subject": "music", "per_week": 1},
        {"classroom": "r2-4", "subject": "music", "per_week": 1},
        {"classroom": "r3-6", "subject": "music", "per_week": 1},
        {"classroom": "r1-5", "subject": "art", "per_week": 1},
        {"classroom": "r2-3", "subject": "art", "per_week": 1},
        {"classroom": "r3-3", "subject": "art", "per_week": 1},
    ],
    "term": {
        "start": "2026-09-01", "end": "2026-10-31",
        "holidays": [{"start": "2026-10-01", "end": "2026-10-07", "name": "国庆节"},
                     {"start": "2026-09-25", "name": "中秋节"}],
        "makeup_days": [{"date": "2026-09-27", "follows": "fri", "name": "国庆调休"},
                        {"date": "2026-10-10", "follows": "wed", "name": "国庆调休"}],
    },
}


@pytest.fixture
def small_dict() -> dict:
    return copy.deepcopy(SMALL)


@pytest.fixture
def small(small_dict: dict) -> County:
    return County.model_validate(small_dict)
