"""`sanke bench schedule`: solve seeded synthetic counties and print what a coordinator would check.

Each tier is solved twice to show the result is deterministic; violations (all, and those that put a lesson
in a classroom's busy period) are counted by the independent validator. `cost` is the objective CP-SAT
minimises (see `scheduler.model`: 1000 per unplaced class-lesson, 20 per lesson, …), `bound` its proven lower
bound, `gap %` = (cost − bound) / cost. A re-plan after one teacher loses a day shows the class-lessons that
moved against those the change forced to move, counting those a forced lesson must displace
(`scheduler.replan`; "opt": CP-SAT proved no re-plan costs less). Seconds are wall time of one solve (CPU seconds of the
process beside them, since the machine may be shared). With `--tenfold` each tier is solved once more at
10 × the CP-SAT budget and its lesson count shown beside the default's. The last line is for the largest
tier run.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from scheduler.county import WEEKDAYS, County
from scheduler.replan import move_report
from scheduler.solver import SolveOptions, solve
from scheduler.synthetic import TIERS, generate
from scheduler.timetable import Timetable
from scheduler.validator import validate

ORDER = ["offset", "M", "M-busy", "M-mix", "L", "L-busy", "XL"]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_tier(name: str, seed: int, options: SolveOptions, tenfold: bool = False) -> dict:
    tier = TIERS[name]
    county, planted = generate(tier, seed)
    demanded = sum(d.per_week for d in county.demand)
    cpu0, t0 = _cpu(), time.perf_counter()
    first = solve(county, options)
    seconds, cpu = time.perf_counter() - t0, _cpu() - cpu0 + first.worker_cpu
    second = solve(county, options)
    same = json.dumps(first.timetable.to_json(), sort_keys=True) == json.dumps(second.timetable.to_json(), sort_keys=True)
    tt = first.timetable
    violations = validate(county, tt)
    moved, forced, replan_violations, replan_optimal = _replan(county, tt, options)
    ten = None
    if tenfold:
        ten = solve(county, options.scaled(10)).timetable
    return {
        "tier": name, "schools": f"{tier.hubs}/{tier.remotes}", "placed": tt.placed_count(), "demanded": demanded,
        "violations": len(violations), "busy_violations": sum(v.code == "classroom-busy" for v in violations),
        "lessons": len(tt.lessons), "planted": len(planted.lessons) if planted else None,
        "avg_n": tt.placed_count() / len(tt.lessons) if tt.lessons else 0.0,
        "unplaced": len(tt.unplaced), "seconds": seconds, "cpu": cpu, "parts": first.parts,
        "deterministic": same, "moved": moved, "forced": forced, "replan_violations": replan_violations,
        "replan_optimal": replan_optimal,
        "cost": first.objective, "bound": first.bound, "gap_pct": first.gap_pct,
        "ten_lessons": len(ten.lessons) if ten is not None else None,
        "ten_placed": ten.placed_count() if ten is not None else None,
    }


def _replan(county: County, before: Timetable, options: SolveOptions) -> tuple[int, int, int, bool]:
    """A coordinator's change: the teacher with the fewest class-lessons on one day can't teach that day.
    Returns the class-lessons moved, those the change forced to move, the validator's count after, and
    whether CP-SAT proved the re-plan optimal (then no timetable costs less: a forced lesson that can only
    go where another one is moves that one too, and so on)."""
    per_day: dict[tuple[str, int], int] = {}
    for ls in before.lessons:
        per_day[(ls.teacher, ls.weekday)] = per_day.get((ls.teacher, ls.weekday), 0) + len(ls.classrooms)
    if not per_day:
        return 0, 0, 0, True
    (teacher, weekday), _n = min(per_day.items(), key=lambda kv: (kv[1], kv[0]))
    data = county.model_dump(mode="json")
    for t in data["teachers"]:
        if t["id"] == teacher:
            t["unavailable"].append({"weekday": WEEKDAYS[weekday - 1], "periods": []})
    changed = County.model_validate(data)
    result = solve(changed, options, previous=before)
    report = move_report(changed, before, result.timetable, result.least_moves)
    return report.moved, report.forced, len(validate(changed, result.timetable)), result.quality == "proven optimal"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sanke bench schedule", description=__doc__)
    parser.add_argument("--tier", choices=ORDER, action="append", help="run only this tier (repeatable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dtime", type=float, default=SolveOptions().deterministic_time,
                        help="CP-SAT deterministic time budget per independent part")
    parser.add_argument("--improve", type=float, default=SolveOptions().improve_time,
                        help="budget per part of the neighbourhood search (scheduler.lns), deterministic units")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="every search budget × this (tests run small stand-ins at a fraction)")
    parser.add_argument("--processes", type=int, default=SolveOptions().processes,
                        help="worker processes for the independent parts (1: in this process)")
    parser.add_argument("--tenfold", action="store_true", help="also solve at 10 × the budget and compare")
    args = parser.parse_args(argv)
    tiers = [t for t in ORDER if t in (args.tier or ORDER)]
    options = SolveOptions(deterministic_time=args.dtime, improve_time=args.improve,
                           processes=args.processes).scaled(args.scale)
    header = (f"{'tier':<7}{'hub/rem':>8}{'placed/demand':>15}{'viol':>5}{'busy-v':>7}{'lessons':>8}{'planted':>8}"
              f"{'avgN':>6}{'unpl':>5}{'parts':>6}{'seconds':>8}{'cpu s':>7}{'determ.':>8}{'cost':>8}{'bound':>8}"
              f"{'gap %':>7}{'replan moved/forced':>20}" + (f"{'lessons@10x':>12}{'Δ %':>6}" if args.tenfold else ""))
    print(header)
    print("-" * len(header))
    rows = []
    for name in tiers:
        r = run_tier(name, args.seed, options, args.tenfold)
        rows.append(r)
        planted = "-" if r["planted"] is None else str(r["planted"])
        replan = (f"{r['moved']}/{r['forced']}" + (" opt" if r["replan_optimal"] else "")
                  + ("" if r["replan_violations"] == 0 else "!"))
        line = (f"{r['tier']:<7}{r['schools']:>8}{r['placed']:>8}/{r['demanded']:<6}{r['violations']:>5}"
                f"{r['busy_violations']:>7}{r['lessons']:>8}{planted:>8}{r['avg_n']:>6.2f}{r['unplaced']:>5}"
                f"{r['parts']:>6}{r['seconds']:>8.2f}{r['cpu']:>7.2f}{'yes' if r['deterministic'] else 'no':>8}"
                f"{r['cost']:>8}{r['bound']:>8}{r['gap_pct']:>7.1f}{replan:>20}")
        if args.tenfold:
            ten = f"{r['ten_lessons']}" + ("" if r["ten_placed"] == r["placed"] else f"({r['ten_placed']})")
            delta = 100.0 * (r["lessons"] - r["ten_lessons"]) / r["ten_lessons"] if r["ten_lessons"] else 0.0
            line += f"{ten:>12}{delta:>6.1f}"
        print(line, flush=True)
    last = max(rows, key=lambda r: r["demanded"])
    print(f"schedule-bench: tier={last['tier']} placed={last['placed']}/{last['demanded']} "
          f"violations={last['violations']} seconds={last['seconds']:.2f} "
          f"deterministic={'yes' if last['deterministic'] else 'no'} gap_pct={last['gap_pct']:.1f}")
    ok = all(r["violations"] == 0 and r["replan_violations"] == 0 and r["deterministic"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
