"""The worker count to run, from the measured points and the container's limits: the
smallest count within `NEAR_BEST` of the best capacity that fits in memory with
`MEMORY_MARGIN` to spare and that the CPU limit sustains (one worker per CPU for an app
whose requests mostly compute, two for one whose requests mostly wait), said in a
sentence a person can check, with the limit that bound it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_asyncsafe.tune.capacity import Point
from pytest_asyncsafe.tune.limits import Limits
from pytest_asyncsafe.units import format_bytes

#: A count whose capacity is within this share of the best is as good (the search finds a
#: capacity to within a few percent, and a busy host moves it by as much): fewer workers
#: then cost less memory for the same throughput.
NEAR_BEST = 0.10
#: Workers x PSS per worker must stay this many times under the memory limit (the
#: guide's 20-30% headroom, at its tighter end).
MEMORY_MARGIN = 1.25
#: A request whose CPU time is at least this share of its unloaded latency is CPU-bound.
CPU_BOUND_SHARE = 0.5


@dataclass(frozen=True)
class Recommendation:
    workers: int
    #: What bound it: "cpu" (more workers add little: the CPU limit), "memory" (more would
    #: not fit), "latency" (no count met the budget at any rate).
    bound: str
    reason: str
    #: Whether the app's requests mostly compute (size about one worker per CPU) rather
    #: than mostly wait (up to two per CPU).
    cpu_bound: bool


def recommend(points: list[Point], limits: Limits) -> Recommendation:
    measured = sorted((p for p in points if p.capacity_rps > 0), key=lambda p: p.workers)
    reference = min(points, key=lambda p: p.workers)
    cpu_bound = reference.cpu_per_request >= CPU_BOUND_SHARE * reference.unloaded_p50
    kind = _kind(reference, cpu_bound)
    if not measured:
        return Recommendation(
            reference.workers, "latency", f"no worker count met the budget at any rate measured; {kind}", cpu_bound
        )
    fitting = [p for p in measured if needed(p) <= limits.memory_bytes]
    if not fitting:
        smallest = measured[0]
        return Recommendation(
            smallest.workers,
            "memory",
            f"even {_count(smallest.workers)} would need {format_bytes(needed(smallest))} of "
            f"{format_bytes(limits.memory_bytes)} ({limits.memory_source}); {kind}{_lower_bounds(measured)}",
            cpu_bound,
        )
    # Past the CPU limit's knee more workers share the same CPUs: a gain measured there is
    # the machine's slack of the moment (4 workers on 2 CPUs measured 10-20% over 2 on one
    # run, 14% under on another), not the container's.
    sustained = max(1, math.ceil(limits.cpus)) * (1 if cpu_bound else 2)
    candidates = [p for p in fitting if p.workers <= sustained] or fitting[:1]
    best = max(p.capacity_rps for p in candidates)
    choice = next(p for p in candidates if p.capacity_rps >= (1 - NEAR_BEST) * best)
    head = f"{_count(choice.workers)}: {choice.capacity_rps:,.0f} req/s at p99 {choice.p99 * 1000:.0f} ms"
    larger = [p for p in measured if p.workers > choice.workers]
    too_big = [p for p in larger if p not in fitting and p.workers <= sustained]
    if too_big and max(p.capacity_rps for p in too_big) > (1 + NEAR_BEST) * choice.capacity_rps:
        over = too_big[0]
        reason = (
            f"{head}; {_count(over.workers)} would serve more but need {format_bytes(needed(over))} of "
            f"{format_bytes(limits.memory_bytes)} ({limits.memory_source}); {kind}{_lower_bounds(measured)}"
        )
        return Recommendation(choice.workers, "memory", reason, cpu_bound)
    cpu_limit = f"CPU limit {limits.cpus:g}, {limits.cpus_source}"
    if larger:
        gain = max(p.capacity_rps for p in larger) / choice.capacity_rps - 1
        more = f"more workers add {gain:+.0%} ({cpu_limit})"
        if any(p.workers > sustained for p in larger):
            more += f"; over {_count(sustained)} they share the same CPUs"
    else:
        more = f"no larger count was measured ({cpu_limit})"
    return Recommendation(choice.workers, "cpu", f"{head}; {more}; {kind}{_lower_bounds(measured)}", cpu_bound)


def _lower_bounds(points: list[Point]) -> str:
    """What a reader must know of points the generator could not load to their capacity."""
    bound = [str(p.workers) for p in points if p.generator_bound]
    if not bound:
        return ""
    return (
        f"; the capacity of {', '.join(bound)} worker(s) is a lower bound: the load generator could not send "
        "more, even from as many processes as CPUs"
    )


def needed(point: Point) -> float:
    """The memory `point`'s workers need with the margin: workers x PSS x margin."""
    return point.workers * point.memory.pss_bytes * MEMORY_MARGIN


def _kind(point: Point, cpu_bound: bool) -> str:
    cpu = f"{point.cpu_per_request * 1000:.1f} ms of CPU per request of {point.unloaded_p50 * 1000:.1f} ms"
    if cpu_bound:
        return f"CPU-bound ({cpu}): about one worker per CPU"
    return f"I/O-bound ({cpu}): up to two workers per CPU"


def _count(workers: int) -> str:
    return f"{workers} worker{'s' if workers != 1 else ''}"
