"""The demo county file, dated at seeding: bells placed so that a period is running when the server starts,
and a term from five weeks ago to twelve weeks ahead (so there is a history to supervise and a future to plan).

The shipped `county.json` holds the schools, classrooms, teachers, pairings and demand; only `bells` and `term`
are filled here, because a demo must be live whatever the hour it is started.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from scheduler.calendar import TZ

COUNTY_FILE = Path(__file__).with_name("county.json")
LESSON_MIN = 40
STEP_MIN = 50  # a 40-minute lesson and a 10-minute break
PERIODS = 8
LIVE_PERIOD = 3
INTO_LESSON_MIN = 6  # the live period started this long before the server


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def demo_bells(now: dt.datetime) -> tuple[list[dict[str, str]], int]:
    """Bells for the day of `now` (local) with `now` a few minutes into one period; returns (bells, that period)."""
    local = now.astimezone(TZ)
    live_start = max(0, local.hour * 60 + local.minute - INTO_LESSON_MIN)
    live_start = min(live_start, 24 * 60 - 1 - LESSON_MIN)
    live = min(LIVE_PERIOD, 1 + live_start // STEP_MIN)
    first = live_start - (live - 1) * STEP_MIN
    count = min(PERIODS, 1 + (24 * 60 - 1 - LESSON_MIN - first) // STEP_MIN)
    bells = [{"start": _hhmm(first + i * STEP_MIN), "end": _hhmm(first + i * STEP_MIN + LESSON_MIN)} for i in range(count)]
    return bells, live


def demo_county(now: dt.datetime) -> dict:
    """The county file as the coordinator would import it on the day the demo is seeded."""
    data = json.loads(COUNTY_FILE.read_text(encoding="utf-8"))
    bells, _ = demo_bells(now)
    for school in data["schools"]:
        # weekends get the same bells so that a lesson moved to a Saturday has times; nobody teaches on them
        school["bells"] = {"default": bells, "sat": bells, "sun": bells}
    for teacher in data["teachers"]:
        teacher["unavailable"] = [{"weekday": "sat"}, {"weekday": "sun"}]
    today = now.astimezone(TZ).date()
    monday = today - dt.timedelta(days=today.weekday())
    data["term"] = {
        "start": (monday - dt.timedelta(weeks=5)).isoformat(),
        "end": (monday + dt.timedelta(weeks=12, days=4)).isoformat(),
        "holidays": [], "makeup_days": [],
    }
    return data


def period_at(bells: list, now: dt.datetime) -> int | None:
    """The 1-based period of these bells (Period models) running at `now`, if any."""
    local = now.astimezone(TZ)
    minute = local.hour * 60 + local.minute
    for i, p in enumerate(bells, start=1):
        if p.start_min <= minute < p.end_min:
            return i
    return None
