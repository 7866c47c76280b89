"""Where the machine's CPU went during a `sanke bench media` window: per process of the bench (the SFU host,
each SFU worker, the bot processes, the bench's own process with the publisher) and the machine as a whole
(`/proc/stat`), so that what other work on a shared machine took is visible beside the SFU's figure.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_cpu() -> tuple[float, float]:
    """(busy, softirq) CPU seconds of the whole machine, all cores."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICK, values[6] / TICK


@dataclass(slots=True)
class CpuSample:
    at: float
    procs: dict[str, float]  # label → CPU seconds
    busy: float
    softirq: float


def sample(labels: dict[str, list[int]]) -> CpuSample:
    busy, softirq = machine_cpu()
    procs = {label: sum(process_cpu(pid) for pid in pids) for label, pids in labels.items()}
    return CpuSample(time.monotonic(), procs, busy, softirq)


def split(a: CpuSample, b: CpuSample) -> dict[str, float]:
    """% of one core per label between two samples, then `others` (the machine's busy time no label had,
    mostly other work on a shared machine), `softirq` (of which: the kernel's packet delivery, already counted
    in whichever process it interrupted) and `machine` (all busy time; 100 × cores is the whole machine)."""
    wall = max(b.at - a.at, 1e-6)
    out = {label: (b.procs[label] - a.procs.get(label, 0.0)) / wall * 100 for label in b.procs}
    machine = (b.busy - a.busy) / wall * 100
    out["others"] = max(0.0, machine - sum(out.values()))
    out["softirq"] = (b.softirq - a.softirq) / wall * 100
    out["machine"] = machine
    return out


def split_header(labels: list[str]) -> str:
    return f"{'W':>2}{'N':>5} " + "".join(f"{label:>10}" for label in labels)


def split_line(workers: int, n: int, values: dict[str, float], labels: list[str]) -> str:
    return f"{workers:>2}{n:>5} " + "".join(f"{values.get(label, float('nan')):>10.1f}" for label in labels)
