"""`sanke bench media`'s rows and report: the table per N, the columns per SFU worker count, the last line."""

from __future__ import annotations

from dataclasses import dataclass

FPS = 30


@dataclass(slots=True)
class Row:
    mode: str
    n: int
    cpu_pct: float
    pps: float
    us_per_packet: float
    min_fps: float
    late_join_ms: float | None
    kernel_pct: float = 0.0  # share of the SFU's CPU time spent in the kernel (sockets)
    rtx_per_s: float = 0.0  # retransmissions to subscribers (their NACKs), not counted as forwarded
    mean_fps: float = 0.0
    workers: int = 0  # SFU worker processes (0: the SFU in the host process)
    probe_fps: float = 0.0  # the slowest counting bot (complete frames received)
    sink_min_fps: float | None = None  # frames the SFU sent each sink (its counters): the slowest, the mean
    sink_mean_fps: float | None = None
    split: dict[str, float] | None = None  # % of a core per process of the bench (loadtest.media_cpu)
    cap: float | None = None  # each SFU worker held to this share of a core (loadtest.cpu_cap), or not held


@dataclass(slots=True)
class Stall:
    """Subscribers' fps while the SFU host's API hashes 20 passwords and parses an upload."""

    n: int
    min_fps: float
    seconds: float  # how long the API work took


HELD_FPS = 29.0  # a subscriber "held": at least this many frames a second over the window
MIN_FPS_UP_TO = 20  # min_fps in the last line: the slowest subscriber at N ≤ this

HEADER = (
    f"{'mode':<10}{'W':>2}{'N':>5}{'SFU CPU %':>11}{'pkt/s fwd':>11}{'us/pkt':>9}{'min fps':>9}{'probes':>8}"
    f"{'sinks sent min/mean':>21}{'late join ms':>14}{'kernel %':>10}{'rtx/s':>7}"
)


def _format(r: Row) -> str:
    late = f"{r.late_join_ms:.0f}" if r.late_join_ms is not None else "-"
    sinks = f"{r.sink_min_fps:.1f} / {r.sink_mean_fps:.1f}" if r.sink_min_fps is not None else "-"
    mode = r.mode if r.cap is None else f"{r.mode[:3]} <{r.cap:g}"
    return (
        f"{mode:<10}{r.workers:>2}{r.n:>5}{r.cpu_pct:>11.1f}{r.pps:>11.0f}{r.us_per_packet:>9.1f}{r.min_fps:>9.1f}"
        f"{r.probe_fps:>8.1f}{sinks:>21}{late:>14}{r.kernel_pct:>10.0f}{r.rtx_per_s:>7.0f}"
    )


def _p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def _at_full_rate(r: Row) -> float:
    """CPU % scaled to the frame rate every subscriber should get: a starved transcoder that delivers
    10 fps instead of 30 would otherwise look three times cheaper than it is. Forwarding runs at
    ~30 fps, so this barely changes it."""
    return r.cpu_pct * FPS / r.mean_fps if r.mean_fps > 0 else float("nan")


STEADY_FPS = 31.0  # more than this on average: the window caught up after a stall (the clip runs at 30)


def steady(r: Row) -> bool:
    """Every subscriber got ≥ HELD_FPS, and not by catching up: a window after a stall (the publisher's or the
    SFU's, on a loaded machine) delivers the frames of the one before too, and says nothing of holding."""
    means = [r.mean_fps, *([r.sink_mean_fps] if r.sink_mean_fps is not None else [])]
    return r.min_fps >= HELD_FPS and max(means) <= STEADY_FPS


def held(rows: list[Row]) -> tuple[int, Row | None]:
    """The most subscribers at which every one got ≥ HELD_FPS in a steady window, and that row."""
    ok = [r for r in rows if steady(r)]
    best = max(ok, key=lambda r: r.n, default=None)
    return (best.n if best else 0), best


def capacity_table(runs: dict[int, list[Row]], late: dict[int, list[float]], stalls: dict[int, Stall]) -> list[str]:
    """Columns per worker count: subscribers held at ≥ 29 fps, µs per forwarded packet and SFU CPU there."""
    lines = [f"{'workers':>7}{'held >=29fps':>14}{'us/pkt':>9}{'SFU CPU %':>11}{'late join p95 ms':>18}"
             f"{'fps while API busy':>20}"]  # fmt: skip
    for w, rows in runs.items():
        n, row = held(rows)
        more = "+" if rows and n == max(r.n for r in rows) else ""  # still held at the largest N tried
        stall = stalls.get(w)
        lines.append(
            f"{w:>7}{f'{n}{more}':>14}{(row.us_per_packet if row else float('nan')):>9.1f}"
            f"{(row.cpu_pct if row else float('nan')):>11.1f}{_p95(late.get(w, [])):>18.0f}"
            f"{(f'{stall.min_fps:.1f} (N={stall.n})' if stall else '-'):>20}"
        )
    return lines


def workers_scaling(rounds: list[dict[int, list[Row]]]) -> float | None:
    """Subscribers held with two SFU workers ÷ with one, summed over the rounds (run in ABBA order, so that the
    shared machine's speed drifting over the run weighs on both counts alike)."""
    if not rounds or any(1 not in r or 2 not in r for r in rounds):
        return None
    one, two = (sum(held(r[w])[0] for r in rounds) for w in (1, 2))
    return two / one if one else float("nan")


def summarise(
    fwd: list[Row], base: list[Row], late_ms: list[float], runs: dict[int, list[Row]] | None = None,
    stall: Stall | None = None, capped: list[dict[int, list[Row]]] | None = None,
) -> str:
    """The last line. `workers_scaling` comes from the rounds of ladders with each worker held to the same share
    of a core (`capped`) when there are any, and the uncapped ladders' ratio is then `machine_scaling`: what two
    workers add on this machine with the bots on its cores."""
    by_n = {r.n: r for r in fwd}
    lo = by_n[min(by_n)]
    _, top = held(fwd)
    hi = top or by_n[max(by_n)]  # the cost per packet while the SFU keeps up, not past its capacity
    us = (hi.cpu_pct - lo.cpu_pct) / 100 * 1e6 / (hi.pps - lo.pps) if hi.pps > lo.pps else float("nan")
    bn = {r.n: r for r in base}
    ratio = float("nan")
    if 1 in bn and 10 in bn and 1 in by_n and 10 in by_n:
        fwd_marginal = (_at_full_rate(by_n[10]) - _at_full_rate(by_n[1])) / 9
        base_marginal = (_at_full_rate(bn[10]) - _at_full_rate(bn[1])) / 9
        ratio = base_marginal / fwd_marginal if fwd_marginal > 0 else float("inf")
    every = [r for rows in (runs or {0: fwd}).values() for r in rows if r.n <= MIN_FPS_UP_TO]
    min_fps = min((r.min_fps for r in every), default=float("nan"))
    line = (
        f"media-bench: us_per_packet={us:.2f} ratio_vs_transcode={ratio:.1f} "
        f"min_fps={min_fps:.1f} late_join_ms={_p95(late_ms):.1f}"
    )
    scaling = workers_scaling(capped or [runs or {}])
    if scaling is not None:
        line += f" workers_scaling={scaling:.2f}"
    machine = workers_scaling([runs or {}]) if capped else None
    if machine is not None:
        line += f" machine_scaling={machine:.2f}"
    if stall is not None:
        line += f" api_stall_media_fps={stall.min_fps:.1f}"
    return line
