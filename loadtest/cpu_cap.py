"""Hold a process to a share of one core with the kernel's CPU bandwidth control (a cgroup's CFS quota), so
that `sanke bench media` can measure how SFU workers scale on a machine whose cores it shares with its own
bots.

Uncapped, one worker takes a whole core while the bots and the kernel's packet delivery fit on the other;
two workers then compete with the bots for the same two cores, and the figure says how much the bots cost,
not whether a second worker adds a worker's capacity. Capped at the same share each, one worker's capacity
and two workers' are measured against the same budget per worker, with the rest of the machine left to the
bots: the question the issue's `workers_scaling` asks, as a machine with cores of its own for the bots
would answer it. A short period (10 ms) keeps a throttled worker's pauses well under a frame.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PERIOD_US = 10_000
V1_ROOT = Path("/sys/fs/cgroup/cpu")  # cgroup v1's `cpu` hierarchy (this machine's kind)
V2_ROOT = Path("/sys/fs/cgroup")  # the unified hierarchy, where it holds the `cpu` controller


def _v2_has_cpu() -> bool:
    with contextlib.suppress(OSError):
        return "cpu" in (V2_ROOT / "cgroup.controllers").read_text().split()
    return False


def root() -> Path | None:
    """Where a capped group can be made, or None (no CPU bandwidth control, or not allowed to write it)."""
    if (V1_ROOT / "cpu.cfs_quota_us").exists() and os.access(V1_ROOT, os.W_OK):
        return V1_ROOT
    if _v2_has_cpu() and os.access(V2_ROOT, os.W_OK):
        return V2_ROOT
    return None


class CpuCap:
    """One cgroup holding its processes (and their future threads) to `cores` of one core in all."""

    def __init__(self, name: str, cores: float) -> None:
        base = root()
        if base is None:
            raise RuntimeError("no writable cgroup with CPU bandwidth control (needs root and the cpu controller)")
        if not 0 < cores:
            raise ValueError(f"cores must be > 0, not {cores}")
        self.cores = cores
        self.path = base / name
        self.path.mkdir(exist_ok=True)
        quota = max(1000, round(cores * PERIOD_US))
        if base == V1_ROOT:
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")

    def add(self, pid: int) -> None:
        """Move a process, all its threads, into the group."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def throttled_s(self) -> float:
        """Seconds the group's processes were held back so far (the cap at work)."""
        stat = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if " " in line)
        if "throttled_time" in stat:  # v1: nanoseconds
            return int(stat["throttled_time"]) / 1e9
        return int(stat.get("throttled_usec", 0)) / 1e6

    def close(self) -> None:
        """Move whatever still runs back to the parent group and remove this one."""
        parent = self.path.parent / "cgroup.procs"
        with contextlib.suppress(OSError):
            for pid in (self.path / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    parent.write_text(pid)
        with contextlib.suppress(OSError):
            self.path.rmdir()
