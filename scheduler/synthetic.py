"""Seeded synthetic counties for the benchmark and tests.

Planted tiers are built backwards: a random feasible timetable is laid first on generous limits, then the
demand is read off it and teacher, stream and hub limits are tightened to what it uses, so full placement
is known to be possible. The offset tier gives remote schools widely shifted bells and no planted solution.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from scheduler.board import Board
from scheduler.candidates import CountyIndex
from scheduler.county import County, minutes_to_hhmm
from scheduler.timetable import Timetable
from scheduler.validator import peak_overlap

SUBJECTS = {"english": (3, 6, (2, 3)), "music": (1, 6, (1, 2)), "art": (1, 6, (1, 2))}
"""subject → (lowest grade, highest grade, lessons per week range)."""


@dataclass(frozen=True)
class Tier:
    name: str
    hubs: int
    remotes: int
    planted: bool = True
    offset: bool = False
    busy: tuple[float, float] | None = None
    """Share of each classroom's periods busy with its own lessons, drawn per classroom from this range (the
    planted lessons' periods stay open); hub teachers then also teach from their own, partly busy, class."""
    mix: bool = False
    """Music may mix any grades, art two adjacent grades (教学点 practice)."""


TIERS = {
    "M": Tier("M", 8, 40),
    "M-busy": Tier("M-busy", 8, 40, busy=(0.5, 0.7)),
    "M-mix": Tier("M-mix", 8, 40, mix=True),
    "L": Tier("L", 16, 100),
    "L-busy": Tier("L-busy", 16, 100, busy=(0.5, 0.7)),
    "XL": Tier("XL", 24, 160),
    "offset": Tier("offset", 4, 20, planted=False, offset=True),
}
MIX = {"music": "any", "art": "adjacent"}


def _bells(rng: random.Random, start: int, length: int, brk: int) -> dict:
    def day(periods_pm: int) -> list[dict[str, str]]:
        out, t = [], start
        for i in range(4):
            out.append({"start": minutes_to_hhmm(t), "end": minutes_to_hhmm(t + length)})
            t += length + (25 if i == 1 else brk)
        t = 14 * 60 + rng.choice((0, 10)) if start < 8 * 60 + 40 else 14 * 60 + 30
        for _ in range(periods_pm):
            out.append({"start": minutes_to_hhmm(t), "end": minutes_to_hhmm(t + length)})
            t += length + brk
        return out

    return {"default": day(3), "fri": day(2)}


def _county_dict(tier: Tier, rng: random.Random) -> dict:
    schools, classrooms, teachers, pairings, demand = [], [], [], [], []
    clusters = max(1, tier.hubs // 2)
    for h in range(tier.hubs):
        hid = f"h{h + 1:02d}"
        start = 8 * 60 + rng.choice((-10, -5, 0, 5, 10))
        schools.append({
            "id": hid, "name": f"主讲学校{h + 1}", "kind": "hub", "streams": 20, "max_lessons_at_once": 20,
            "bells": _bells(rng, start, rng.choice((40, 45)), 10),
        })
        n = 0
        for subject, (lo, hi, _) in SUBJECTS.items():
            spans = [(lo, hi)] if rng.random() < 0.4 else [(lo, (lo + hi) // 2), ((lo + hi) // 2 + 1, hi)]
            for a, b in spans:
                n += 1
                teachers.append({
                    "id": f"{hid}-t{n}", "name": f"{hid}教师{n}", "school": hid, "subject": subject,
                    "grades": list(range(a, b + 1)), "max_per_week": 20, "max_per_day": 6,
                })
                if tier.busy is not None:
                    classrooms.append({"id": f"{hid}-c{n}", "school": hid, "name": f"{a}年级{n}班", "grade": a,
                                       "students": rng.randint(35, 50)})
                    teachers[-1]["classroom"] = f"{hid}-c{n}"
    for r in range(tier.remotes):
        rid = f"r{r + 1:03d}"
        offset = rng.choice((20, 35, 50)) if tier.offset else rng.choice((-10, -5, 0, 5, 10))
        schools.append({
            "id": rid, "name": f"听讲学校{r + 1}", "kind": "remote", "streams": 6,
            "bells": _bells(rng, 8 * 60 + offset, rng.choice((40, 45)), rng.choice((10, 15)) if tier.offset else 10),
        })
        cluster = r % clusters
        for h in (2 * cluster, 2 * cluster + 1):
            if h < tier.hubs:
                pairings.append({"hub": f"h{h + 1:02d}", "remote": rid})
        for grade in sorted(rng.sample(range(1, 7), rng.choice((3, 4, 4, 5)))):
            cid = f"{rid}-g{grade}"
            classrooms.append({"id": cid, "school": rid, "name": f"{grade}年级1班", "grade": grade,
                               "students": rng.randint(12, 40)})
            for subject, (lo, hi, (a, b)) in SUBJECTS.items():
                if lo <= grade <= hi:
                    demand.append({"classroom": cid, "subject": subject, "per_week": rng.randint(a, b)})
    settings: dict = {"min_overlap_minutes": 30, "max_n": 6}
    if tier.mix:
        settings["mix_grades"] = dict(MIX)
    return {
        "name": f"合成县-{tier.name}", "settings": settings,
        "schools": schools, "classrooms": classrooms, "teachers": teachers, "pairings": pairings,
        "demand": demand,
    }


def _plant(county: County, rng: random.Random) -> Board:
    index = CountyIndex(county)
    board = Board(index)
    units = [opt for opt in index.options for _ in range(opt.demand.per_week)]
    rng.shuffle(units)
    for opt in units:
        ok = [c for c in opt.candidates if board.blocker(c) is None]
        if not ok:
            continue
        joining = [c for c in ok if c.lesson in board.lessons]
        pool = joining if joining and rng.random() < 0.8 else ok
        board.add(rng.choice(pool))
    return board


def generate(tier: Tier, seed: int = 1) -> tuple[County, Timetable | None]:
    """A county for `tier` and, for planted tiers, a timetable known to place all of its demand."""
    rng = random.Random(f"{tier.name}:{seed}")
    data = _county_dict(tier, rng)
    if not tier.planted:
        return County.model_validate(data), None
    board = _plant(County.model_validate(data), rng)
    data["demand"] = [
        {**d, "per_week": board.placed[(d["classroom"], d["subject"])]}
        for d in data["demand"] if board.placed[(d["classroom"], d["subject"])] > 0
    ]
    if tier.busy is None:
        _tighten(data, board, rng)
    planted = Timetable(board.timetable_lessons())
    if tier.busy is not None:
        _busy(data, board, planted, tier.busy, rng)
    return County.model_validate(data), planted


def _tighten(data: dict, board: Board, rng: random.Random) -> None:
    """Teacher, stream and hub limits down to what the planted timetable uses (busy tiers keep the generous
    ones, so that each classroom's availability is the rule that binds)."""
    week: dict[str, int] = {}
    day: dict[str, int] = {}
    for (t, _wd), n in board.teacher_day.items():
        day[t] = max(day.get(t, 0), n)
    for t, n in board.teacher_week.items():
        week[t] = n
    used_slots = {(t, wd, p) for (t, wd, p) in board.lessons}
    for t in data["teachers"]:
        t["max_per_week"] = week.get(t["id"], 0) + rng.choice((0, 1))
        t["max_per_day"] = max(1, day.get(t["id"], 0))
        free = [(wd, p) for wd in range(1, 6) for p in range(1, 6) if (t["id"], wd, p) not in used_slots]
        if free and rng.random() < 0.5:
            wd, p = rng.choice(free)
            t["unavailable"] = [{"weekday": ("mon", "tue", "wed", "thu", "fri")[wd - 1], "periods": [p]}]
    for s in data["schools"]:
        if s["kind"] == "hub":
            s["max_lessons_at_once"] = max(
                [n for (h, _wd, _p), n in board.hub_at.items() if h == s["id"]] or [1]
            )
        else:
            spans = board.streams.get(s["id"], [])
            s["streams"] = max(1, peak_overlap(spans))


def _busy(data: dict, board: Board, planted: Timetable, share: tuple[float, float], rng: random.Random) -> None:
    """Mark a share of every classroom's periods busy (its own lessons), never one the planted timetable
    uses; half the classrooms say it as `busy` periods, the other half as `open` ones."""
    index = board.index
    used: set[tuple[str, int, int]] = set()
    for c in (c for cs in board.assigned.values() for c in cs):
        remote_day = [s for s in index.slots[c.remote] if s.weekday == c.weekday]
        used |= {(c.classroom, c.weekday, s.period) for s in remote_day if s.start < c.busy_end and c.busy_start < s.end}
    owners = {t["classroom"]: t["id"] for t in data["teachers"] if t.get("classroom")}
    for ls in planted.lessons:
        for room, teacher in owners.items():
            if teacher == ls.teacher:
                used.add((room, ls.weekday, ls.period))
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    for n, room in enumerate(data["classrooms"]):
        periods = [(s.weekday, s.period) for s in index.slots[room["school"]]]
        free = [p for p in periods if (room["id"], *p) not in used]
        want = min(len(free), round(len(periods) * rng.uniform(*share)))
        busy = set(rng.sample(free, want))
        chosen = busy if n % 2 == 0 else set(periods) - busy
        by_day: dict[int, list[int]] = {}
        for wd, p in sorted(chosen):
            by_day.setdefault(wd, []).append(p)
        room["busy" if n % 2 == 0 else "open"] = [{"weekday": names[wd - 1], "periods": ps} for wd, ps in by_day.items()]
