"""`sanke bench schedule`: solve seeded synthetic counties and print what a coordinator would check.

Each tier is solved twice to show the result is deterministic; violations are counted by the independent
validator. A re-plan after one teacher loses a day shows the share of class-lessons moved. Seconds are
wall time of one solve (CPU seconds of the process beside them, since the machine
may be shared). The last line is for the largest tier run.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from scheduler.county import WEEKDAYS, County
from scheduler.solver import SolveOptions, solve
from scheduler.synthetic import TIERS, generate
from scheduler.timetable import Timetable, moved_fraction
from scheduler.validator import validate

ORDER = ["offset", "M", "L", "XL"]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_tier(name: str, seed: int, options: SolveOptions) -> dict:
    tier = TIERS[name]
    county, planted = generate(tier, seed)
    demanded = sum(d.per_week for d in county.demand)
    cpu0, t0 = _cpu(), time.perf_counter()
    first = solve(county, options)
    seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0
    second = solve(county, options)
    same = json.dumps(first.timetable.to_json(), sort_keys=True) == json.dumps(second.timetable.to_json(), sort_keys=True)
    tt = first.timetable
    moved, replan_violations = _replan(county, tt, options)
    return {
        "tier": name, "schools": f"{tier.hubs}/{tier.remotes}", "placed": tt.placed_count(), "demanded": demanded,
        "violations": len(validate(county, tt)), "lessons": len(tt.lessons),
        "planted": len(planted.lessons) if planted else None,
        "avg_n": tt.placed_count() / len(tt.lessons) if tt.lessons else 0.0,
        "planted_n": planted.placed_count() / len(planted.lessons) if planted and planted.lessons else None,
        "unplaced": len(tt.unplaced), "seconds": seconds, "cpu": cpu, "parts": first.parts,
        "deterministic": same, "moved": moved, "replan_violations": replan_violations,
    }


def _replan(county: County, before: Timetable, options: SolveOptions) -> tuple[float, int]:
    """A coordinator's change: the teacher with the fewest class-lessons on one day can't teach that day.
    Returns the share of class-lessons that moved and the validator's count on the new timetable."""
    per_day: dict[tuple[str, int], int] = {}
    for ls in before.lessons:
        per_day[(ls.teacher, ls.weekday)] = per_day.get((ls.teacher, ls.weekday), 0) + len(ls.classrooms)
    if not per_day:
        return 0.0, 0
    (teacher, weekday), _n = min(per_day.items(), key=lambda kv: (kv[1], kv[0]))
    data = county.model_dump(mode="json")
    for t in data["teachers"]:
        if t["id"] == teacher:
            t["unavailable"].append({"weekday": WEEKDAYS[weekday - 1], "periods": []})
    changed = County.model_validate(data)
    after = solve(changed, options, previous=before).timetable
    return moved_fraction(before, after), len(validate(changed, after))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sanke bench schedule", description=__doc__)
    parser.add_argument("--tier", choices=ORDER, action="append", help="run only this tier (repeatable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dtime", type=float, default=SolveOptions().deterministic_time,
                        help="CP-SAT deterministic time budget per independent part")
    args = parser.parse_args(argv)
    tiers = [t for t in ORDER if t in (args.tier or ORDER)]
    options = SolveOptions(deterministic_time=args.dtime)
    header = (f"{'tier':<7}{'hub/rem':>8}{'placed/demand':>15}{'viol':>6}{'lessons':>9}{'planted':>9}"
              f"{'avgN':>6}{'plN':>6}{'unplaced':>9}{'parts':>6}{'seconds':>9}{'cpu s':>8}{'determ.':>8}"
              f"{'replan moved':>13}")
    print(header)
    print("-" * len(header))
    rows = []
    for name in tiers:
        r = run_tier(name, args.seed, options)
        rows.append(r)
        planted = "-" if r["planted"] is None else str(r["planted"])
        planted_n = "-" if r["planted_n"] is None else f"{r['planted_n']:.2f}"
        print(f"{r['tier']:<7}{r['schools']:>8}{r['placed']:>8}/{r['demanded']:<6}{r['violations']:>6}"
              f"{r['lessons']:>9}{planted:>9}{r['avg_n']:>6.2f}{planted_n:>6}{r['unplaced']:>9}{r['parts']:>6}"
              f"{r['seconds']:>9.2f}{r['cpu']:>8.2f}{'yes' if r['deterministic'] else 'no':>8}"
              f"{r['moved']:>12.1%}{'' if r['replan_violations'] == 0 else '!':1}", flush=True)
    last = max(rows, key=lambda r: r["demanded"])
    print(f"schedule-bench: tier={last['tier']} placed={last['placed']}/{last['demanded']} "
          f"violations={last['violations']} seconds={last['seconds']:.2f} "
          f"deterministic={'yes' if last['deterministic'] else 'no'}")
    ok = all(r["violations"] == 0 and r["replan_violations"] == 0 and r["deterministic"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
