"""`sanke serve` starts without OR-Tools: its `cp_model` imports pandas, about 2 s of every start (20 s
under load) for a solve started a few times a term; the first solve imports it (scheduler.part,
through scheduler.cpsat)."""

from __future__ import annotations

import subprocess
import sys


def test_the_server_app_is_built_without_importing_cp_sat_or_pandas() -> None:
    code = (
        "import sys, importlib, web.cli\n"
        "from web.app import API_MODULES\n"
        "for name in API_MODULES: importlib.import_module(name)\n"
        "print(sorted(m for m in ('ortools.sat.python.cp_model', 'pandas') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
