"""One point of a sweep: the highest open-loop rate a server with N workers answers within
the latency budget, found by a search over rates, and what the workers cost at it.

The search starts from what a closed loop of many connections gets through (an upper
estimate: a closed loop runs the server flat out), then halves the interval between the
highest rate that met the budget and the lowest that missed, a few times.  Each step is a
short open-loop run, bounded in time and requests.  A step the generator itself could not
keep up with is sent again from twice the processes (`generators`), as many as there are
CPUs; one that even they could not send marks the point generator-bound: its capacity is
then what the generator could send, a lower bound of the server's.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from pytest_asyncsafe.load import LoadResult
from pytest_asyncsafe.load.health import OUT_OF_CONNECTIONS
from pytest_asyncsafe.server import Server
from pytest_asyncsafe.stats import Latencies
from pytest_asyncsafe.tune.generators import Generators, most_processes
from pytest_asyncsafe.tune.memory import Memory, measure

#: How long each step of the search loads the server, and the warm-up before the search.
STEP_SECONDS = 0.8
WARMUP_SECONDS = 0.5
#: The closed loop that estimates the ceiling, and the open loop's connections.
CEILING_CONCURRENCY = 32
#: Halvings of the interval between a rate that met the budget and one that did not.
STEPS = 4
#: The generator's own ceiling on this kind of machine: a rate it cannot send is no measure.
MAX_RATE = 20_000.0
#: A rate the server keeps up with is answered at that rate.  Past its capacity a queue
#: builds, slowly: at 7% over, a step of 0.8 s ended some 60 ms behind, within a 100 ms
#: p99, while 30 s at that rate end two seconds behind (bench/tune_accuracy.py).  The
#: answers falling behind the schedule shows it at once: a step counts only if they came
#: at this share of the rate or more.
KEEPS_UP = 0.97
#: ... and only if its queue did not grow: the median latency of its last third of
#: requests at most this share of the budget over that of its first third.
GROWTH_SHARE = 0.1


@dataclass(frozen=True)
class Goal:
    """What a rate must meet to count: `percentile` latency (99 or 95) and error rate."""

    latency: float
    percentile: int = 99
    error_rate: float = 0.0


@dataclass(frozen=True)
class Point:
    workers: int
    #: The highest open-loop rate measured that met the budget (0: none did).
    capacity_rps: float
    p50: float
    p95: float
    p99: float
    error_rate: float
    #: CPU seconds each worker used per second at capacity (1.0: a whole core), every
    #: thread of it counted.
    cpu_per_worker: float
    #: Memory per worker at capacity (the mean over the workers).
    memory: Memory
    #: The share of the run each worker's loop was busy at capacity (the mean), and how
    #: late its beats ran (the p99, the worst worker's).
    loop_busy: float
    loop_lag_p99: float
    #: The most threads of a worker's pool in use at once at capacity (the busiest
    #: worker's), and the pool's size: a pool that ran dry caps the capacity of sync routes.
    threads_in_use: int
    threads_total: int
    #: CPU seconds per request at the lowest rate measured, and the p50 latency there:
    #: a request mostly computing (CPU-bound) against one mostly waiting (I/O-bound).
    cpu_per_request: float
    unloaded_p50: float
    #: Whether even the most generator processes fell behind at a rate the server might
    #: have met: the capacity is then a lower bound.
    generator_bound: bool
    #: The generator processes that sent the last steps.
    generators: int


def measure_point(server: Server, generators: Generators, budget: Goal, progress: Callable[[str], None]) -> Point:
    """The capacity of `server` for the load `generators` send, and its cost there."""
    processes, most = 1, most_processes()

    def step(shape: dict[str, object]) -> LoadResult:
        nonlocal processes
        result = generators.send(server, shape, processes)
        while _held_back(result) and processes < most:
            processes = min(2 * processes, most)
            progress(f"  the generator fell behind ({result.invalid}): again from {processes} processes")
            result = generators.send(server, shape, processes)
        return result

    ceiling = step({"concurrency": CEILING_CONCURRENCY, "duration": WARMUP_SECONDS, "warmup": 0.3})
    estimate = min(max(ceiling.count / max(ceiling.elapsed, 1e-9), 10.0), MAX_RATE)
    if ceiling.count and ceiling.latencies.percentile(0) > budget.latency:
        # Not one request was that fast: no rate will meet the budget.
        return _unmeasured(server, ceiling, math.nan, processes)
    high = min(estimate * 1.2, MAX_RATE)
    low = 0.0
    best: _Step | None = None
    lowest: _Step | None = None
    generator_bound = False
    rate = high / 2
    for _ in range(STEPS + 1):
        cpu_before = {pid: _cpu_seconds(pid) for pid in server.live_workers()}
        started = time.monotonic()
        result = step({"rate": rate, "duration": STEP_SECONDS, "warmup": 0.1})
        # CPU seconds per second of the same wall time, the warm-up included.
        wall = time.monotonic() - started
        this = _Step(rate, result, {pid: (_cpu_seconds(pid) - start) / wall for pid, start in cpu_before.items()})
        progress(f"  {server.settings.workers} worker(s): {rate:,.0f} req/s -> {_verdict(result, rate, budget)}")
        if lowest is None or rate < lowest.rate:
            lowest = this
        if _held_back(result):
            generator_bound = True
            high = rate
        elif _meets(result, rate, budget):
            low, best = rate, this
            if rate >= 0.9 * high:
                # The estimate was low (a closed loop of few connections to a server that
                # mostly waits): the top is further up.
                high = min(2 * high, MAX_RATE)
        elif rate <= estimate / 4 and result.latencies.percentile(50) > budget.latency:
            break  # even a lightly loaded server's median misses: no rate will meet it
        else:
            high = rate
        rate = (low + high) / 2 if low > 0 else rate / 2
    assert lowest is not None
    cpu_per_request = sum(lowest.cpu.values()) / lowest.rate
    if best is None:
        return _unmeasured(server, lowest.result, cpu_per_request, processes, generator_bound)
    busy = [s.busy for s in best.result.saturation if math.isfinite(s.busy)]
    lags = [s.lag_p99 for s in best.result.saturation if math.isfinite(s.lag_p99)]
    pools = best.result.threadpool
    return Point(
        workers=server.settings.workers,
        capacity_rps=best.rate,
        p50=best.result.latencies.percentile(50),
        p95=best.result.latencies.percentile(95),
        p99=best.result.latencies.percentile(99),
        error_rate=best.result.error_rate,
        cpu_per_worker=sum(best.cpu.values()) / len(best.cpu) if best.cpu else math.nan,
        memory=_memory(server),
        loop_busy=sum(busy) / len(busy) if busy else math.nan,
        loop_lag_p99=max(lags, default=math.nan),
        threads_in_use=max((pool.peak_in_use for pool in pools), default=0),
        threads_total=max((pool.total for pool in pools), default=0),
        cpu_per_request=cpu_per_request,
        unloaded_p50=lowest.result.latencies.percentile(50),
        generator_bound=generator_bound,
        generators=processes,
    )


@dataclass(frozen=True)
class _Step:
    """One step of the search: its rate, what it measured, and the CPU seconds each
    worker (by pid) used a second during it."""

    rate: float
    result: LoadResult
    cpu: dict[int, float]


def _held_back(result: LoadResult) -> bool:
    """Did the generator, not the server, fall behind?  (A server too slow for the rate
    holds every connection: that is the server's verdict.)"""
    return result.invalid is not None and not result.invalid.startswith(OUT_OF_CONNECTIONS)


def _meets(result: LoadResult, rate: float, budget: Goal) -> bool:
    return (
        result.invalid is None
        and result.count > 0
        and _answered(result) >= KEEPS_UP * rate
        and _growth(result) <= GROWTH_SHARE * budget.latency
        and result.latencies.percentile(budget.percentile) <= budget.latency
        and result.error_rate <= budget.error_rate
    )


def _growth(result: LoadResult) -> float:
    """How much later the last third of the requests were answered than the first third
    (medians, in the order they were answered): a queue building up."""
    latencies = list(result.latencies)
    third = len(latencies) // 3
    if third < 10:
        return 0.0
    return Latencies(latencies[-third:]).percentile(50) - _queue_free_latency(result)


def _queue_free_latency(result: LoadResult) -> float:
    """What a request took before any queue could build: the median of the first third
    answered (of all of them, in a run too short for thirds)."""
    latencies = list(result.latencies)
    third = len(latencies) // 3
    return Latencies(latencies[:third] if third >= 10 else latencies).percentile(50)


def _answered(result: LoadResult) -> float:
    """Requests answered a second, over the counted part of the run less the latency of
    a request that found no queue: a server that keeps up answers its last request that
    long after it was due, and the rate it answered at must not be charged for it (at a
    25 ms latency that was 3% of a 0.8 s step, and a server with room to spare missed)."""
    if not result.count:
        return 0.0
    span = result.elapsed - _queue_free_latency(result)
    return result.count / span if span > 0 else 0.0


def _verdict(result: LoadResult, rate: float, budget: Goal) -> str:
    if _held_back(result):
        return "generator could not keep up"
    latency = result.latencies.percentile(budget.percentile) if result.count else math.nan
    shown = f"answered {_answered(result):,.0f}/s, p{budget.percentile} {latency * 1000:.1f} ms, errors {result.error_rate:.1%}"
    return f"{shown}: {'meets' if _meets(result, rate, budget) else 'misses'} the budget"


def _unmeasured(
    server: Server, lowest: LoadResult, cpu_per_request: float, generators: int, generator_bound: bool = False
) -> Point:
    """A point where no rate met the budget: its cost, and the latency at the lowest rate tried."""
    return Point(
        server.settings.workers, 0.0, math.nan, math.nan, math.nan, math.nan, math.nan, _memory(server), math.nan,
        math.nan, 0, 0, cpu_per_request, lowest.latencies.percentile(50), generator_bound, generators,
    )  # fmt: skip


def _memory(server: Server) -> Memory:
    """Each live worker's memory, the mean over them."""
    memory = [m for m in (measure(pid) for pid in server.live_workers()) if m is not None]
    if not memory:
        return Memory(0, 0, 0)
    count = len(memory)
    return Memory(
        sum(m.rss_bytes for m in memory) // count,
        sum(m.pss_bytes for m in memory) // count,
        sum(m.uss_bytes for m in memory) // count,
    )


def _cpu_seconds(pid: int) -> float:
    """CPU seconds process `pid` has used so far, every thread (its thread pool too)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rpartition(b")")[2].split()
    except OSError:
        return 0.0
    # utime and stime: fields 14 and 15 of the line, 12 and 13 after the command's ")".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
