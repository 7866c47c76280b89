"""The reported bound is a true lower bound, and the neighbourhood search gathers classrooms into fewer lessons.

Small busy counties (classrooms open in 30–50 % of their periods) keep these bounded in CI; the County-L
figures are in the benchmark (`sanke bench schedule --tier L-busy`)."""

from __future__ import annotations

from ortools.sat.python import cp_model

from scheduler.bound import lp_bound
from scheduler.candidates import CountyIndex
from scheduler.cuts import piece_bounds
from scheduler.greedy import greedy_hint
from scheduler.lns import improve, piece_neighbourhoods, piece_search
from scheduler.model import W_GAP, PartModel, key_of
from scheduler.part import join_pieces, solve_part
from scheduler.solver import SolveOptions, _parts, solve
from scheduler.synthetic import Tier, generate
from scheduler.validator import validate

TINY = Tier("T", 1, 3, busy=(0.5, 0.7))
SMALL = Tier("S", 2, 8, busy=(0.5, 0.7))


def _part(tier: Tier, seed: int) -> PartModel:
    county, _planted = generate(tier, seed)
    index = CountyIndex(county)
    parts = _parts(index.options)
    pm = PartModel(index, max(parts, key=len), set())
    pm.full_objective()
    return pm


def _optimum(pm: PartModel) -> tuple[float, bool, set]:
    """CP-SAT's best cost within a fixed budget, whether it is proven optimal, and its placement. Linearization
    level 2 puts x ≤ y into CP-SAT's LP: these counties are then proven optimal in about a second (level 1
    took minutes a seed)."""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.linearization_level = 2
    solver.parameters.max_deterministic_time = 5
    status = solver.solve(pm.model)
    assert status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    return solver.objective_value, status == cp_model.OPTIMAL, {k for k, v in pm.x.items() if solver.boolean_value(v)}


def test_lp_bound_never_exceeds_the_proven_optimum() -> None:
    """On small busy counties the bound is at most every timetable CP-SAT finds, and at most the optimum where
    CP-SAT proves one; it is well above 0 (CP-SAT's own bound at the default budget)."""
    proven = 0
    for tier, seed in ((TINY, 1), (TINY, 2), (TINY, 3), (SMALL, 2), (SMALL, 3)):
        pm = _part(tier, seed)
        best, optimal, _chosen = _optimum(pm)
        bound = lp_bound(pm, piece_bounds(pm))
        assert 0.9 * best <= bound <= best, (tier.name, seed, bound, best)
        proven += optimal
    assert proven >= 3


def test_piece_rows_raise_the_bound_and_hold_for_each_piece() -> None:
    """The grade pieces' rows lift the LP bound, and each piece's proven value is at most what the optimal
    timetable spends on that piece (its own cost without teacher gaps): the row holds where it is added."""
    pm = _part(SMALL, 2)
    best, optimal, chosen = _optimum(pm)
    assert optimal
    cuts = piece_bounds(pm)
    plain, with_pieces = lp_bound(pm), lp_bound(pm, cuts)
    assert plain < with_pieces <= best, (plain, with_pieces, best)
    assert len(cuts) > 1 and {k for c in cuts for k in c.keys} == set(pm.x)
    for cut in cuts:
        sub = PartModel(pm.index, [o for o in pm.part if key_of(o.candidates[0]) in cut.keys], set())
        spent = sub.cost(chosen & cut.keys) - W_GAP * sum(sub._values(chosen & cut.keys)["gap"])
        assert cut.value <= spent, (cut.value, spent)


def test_neighbourhood_search_gathers_classrooms() -> None:
    pm = _part(SMALL, 1)
    hint = greedy_hint(pm.index, pm.part, set())
    better, cost = improve(pm, hint, 1.0)
    assert cost < pm.cost(hint) and cost == pm.cost(better)
    assert len(better) == len(hint) == pm.demanded                     # still everything placed
    assert len(pm._values(better)["active"]) < len(pm._values(hint)["active"])   # fewer lessons


def test_pieces_joined_start_below_greedy_and_near_the_bound() -> None:
    """Each grade's own optimal placement, joined where the teachers they share allow, is a better start than
    the greedy one; the piece search then brings the part within 5 % of the bound."""
    pm = _part(SMALL, 1)
    cuts = piece_bounds(pm)
    greedy, joined = greedy_hint(pm.index, pm.part, set()), join_pieces(pm, cuts)
    assert pm.cost(joined) < pm.cost(greedy)
    hoods = piece_neighbourhoods(pm, [(c.keys, c.grades) for c in cuts])
    better, cost = piece_search(pm, joined, hoods, 1.5)
    assert len(better) == pm.demanded and cost == pm.cost(better) <= pm.cost(joined)
    assert cost - lp_bound(pm, cuts) <= 0.05 * cost, (cost, lp_bound(pm, cuts))


def test_solve_reports_the_lp_bound_and_a_valid_timetable() -> None:
    county, _planted = generate(SMALL, 1)
    result = solve(county, SolveOptions(improve_time=0.5))
    assert validate(county, result.timetable) == []
    assert 0 < result.bound <= result.objective and result.gap_pct < 50


def test_whole_part_stage_keeps_a_true_bound_and_never_costs_more() -> None:
    """The whole-part CP-SAT stage (forced here with `whole_gap=0`) reports a bound at most the optimum CP-SAT
    proves on small busy counties, and a cost no higher than the solve without it; the timetable is valid."""
    for seed in (1, 2):
        pm = _part(TINY, seed)
        best, optimal, _chosen = _optimum(pm)
        assert optimal, seed
        plain = solve_part(pm.index, pm.part, SolveOptions(whole_time=0.0, processes=1), set())
        whole = solve_part(pm.index, pm.part, SolveOptions(whole_gap=0.0, whole_time=0.5, processes=1), set())
        assert whole.status.count("+") == plain.status.count("+") + 1     # the stage ran
        assert plain.bound <= best <= whole.cost <= plain.cost, (seed, plain, best, whole)
        assert whole.bound <= best, (whole.bound, best)
    county, _planted = generate(TINY, 3)
    result = solve(county, SolveOptions(whole_gap=0.0, whole_time=0.5, processes=1))
    assert validate(county, result.timetable) == [] and result.bound <= result.objective
