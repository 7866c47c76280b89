"""The benchmark's contract (its last line) and determinism across processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler import bench
from scheduler.synthetic import TIERS, Tier, generate
from scheduler.validator import validate

ROOT = Path(__file__).resolve().parents[2]
LAST = re.compile(r"^schedule-bench: tier=(\S+) placed=(\d+)/(\d+) violations=(\d+) seconds=(\d+\.\d+) deterministic=(yes|no)$")


def test_planted_solution_is_valid_and_complete() -> None:
    county, planted = generate(TIERS["M"], seed=1)
    assert planted is not None and validate(county, planted) == []
    assert planted.placed_count() == sum(d.per_week for d in county.demand)


def test_last_line_is_exact(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(bench.TIERS, "M", Tier("M", 2, 8))  # a small stand-in, same code path
    assert bench.main(["--tier", "M"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = LAST.match(last)
    assert m is not None, last
    assert m.group(1) == "M" and m.group(2) == m.group(3) and m.group(4) == "0" and m.group(6) == "yes"


SOLVE = (
    "import json, sys; from scheduler.synthetic import Tier, generate; from scheduler.solver import solve; "
    "county, _ = generate(Tier('S', 2, 6), seed=5); print(json.dumps(solve(county).timetable.to_json(), sort_keys=True))"
)


def test_same_timetable_in_separate_processes_with_different_hash_seeds() -> None:
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", SOLVE], env=env, capture_output=True, text=True, timeout=120, check=True)
        outs.append(done.stdout)
    assert outs[0] == outs[1] and '"lessons": [{' in outs[0]
