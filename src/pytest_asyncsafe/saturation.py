"""How close each worker's loop came to its capacity during a load run: the share of the
run its thread was busy, and how late its heartbeat ran (loop lag).

A loop that runs many short callbacks back to back is saturated, not blocked: no request's
code is wrong, the worker has more work than one loop can do.  That is a capacity fact, and
is reported here, never as a stall (see `stalls.Stall.blocked`).

Both figures are read at the start and the end of a run and differenced, so a worker pays
nothing per run:

- busy: from the kernel's account of the loop's (main) thread, read by the pytest process,
  `/proc/<pid>/task/<pid>/schedstat`: the time it ran on a CPU plus the time it waited,
  runnable, for one.  A loop with nothing to do sleeps in its selector and is neither.
- lag: each heartbeat adds one to a histogram bucket of its lateness, which the worker
  keeps in its state file (`channel.WorkerChannel.lags`).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_asyncsafe.durations import format_duration
from pytest_asyncsafe.units import json_number

#: Lag buckets: the first holds beats under `LAG_FLOOR` late; each next one is 10% wider
#: than the one before, so a lag read back (its bucket's upper bound) is at most 10% over
#: the true one.  The last bucket (from 90 s) holds everything later.
LAG_BUCKETS = 128
LAG_FLOOR = 0.0005
LAG_GROWTH = 1.1
_LOG_GROWTH = math.log(LAG_GROWTH)

#: A worker whose loop was busy this share of the run has no room left: more load only
#: queues up (its requests wait their turn in the loop).
AT_CAPACITY = 0.9


def lag_bucket(lag: float) -> int:
    """The bucket a beat `lag` seconds late counts in."""
    if lag < LAG_FLOOR:
        return 0
    return min(1 + int(math.log(lag / LAG_FLOOR) / _LOG_GROWTH), LAG_BUCKETS - 1)


def bucket_bound(bucket: int) -> float:
    """The upper bound, in seconds, of the lags `bucket` holds."""
    return float(LAG_FLOOR * LAG_GROWTH**bucket)


@dataclass(frozen=True, slots=True)
class LoopReading:
    """One worker's loop, as it stood at `time` (`time.monotonic()`): everything since it started."""

    pid: int
    time: float
    #: Seconds its thread ran or waited for a CPU; NaN where the kernel does not say.
    busy: float
    #: Its heartbeats so far, counted by lag bucket.
    lags: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Saturation:
    """One worker's loop over one run."""

    pid: int
    #: The share of the run (0..1) its loop's thread was busy; NaN where unknown.
    busy: float
    #: How late its heartbeat ran, in seconds (to within 10%): how long any ready callback,
    #: a request's next step included, waited for the loop.  NaN without any beat.
    lag_p50: float
    lag_p99: float
    lag_max: float

    @property
    def at_capacity(self) -> bool:
        return self.busy >= AT_CAPACITY

    def describe(self) -> str:
        """One line: how saturated, and what that means."""
        line = f"worker {self.pid} busy {self.busy:.0%} of the run, loop lag p99 {format_duration(self.lag_p99)}"
        if self.at_capacity:
            return f"{line}: this worker is at capacity; see more workers or a faster handler"
        return line

    def to_json(self) -> dict[str, float | int | bool | None]:
        return {
            "pid": self.pid,
            "busy": json_number(self.busy),
            "lag_p50": json_number(self.lag_p50),
            "lag_p99": json_number(self.lag_p99),
            "lag_max": json_number(self.lag_max),
            "at_capacity": self.at_capacity,
        }


def between(before: Mapping[int, LoopReading], after: Mapping[int, LoopReading]) -> tuple[Saturation, ...]:
    """Each worker's saturation from `before` to `after`, by pid.  A worker that started
    meanwhile counts from its start; one gone by `after` is not reported."""
    saturations = []
    for pid, end in sorted(after.items()):
        start = before.get(pid)
        elapsed = end.time - start.time if start is not None else math.nan
        busy = (end.busy - start.busy) / elapsed if start is not None and elapsed > 0 else math.nan
        counts = since(start.lags if start is not None else None, end.lags)
        saturations.append(
            Saturation(
                pid,
                min(max(busy, 0.0), 1.0) if math.isfinite(busy) else math.nan,
                _percentile(counts, 50),
                _percentile(counts, 99),
                _percentile(counts, 100),
            )
        )
    return tuple(saturations)


def _percentile(counts: Sequence[int], q: float) -> float:
    """The q-th percentile (nearest rank) of the beats `counts` holds, as its bucket's bound."""
    bucket = bucket_percentile(counts, q)
    return math.nan if bucket is None else bucket_bound(bucket)


def bucket_percentile(counts: Sequence[int], q: float) -> int | None:
    """The bucket the q-th percentile (nearest rank) of what `counts` holds falls in;
    None when it holds nothing."""
    total = sum(counts)
    if not total:
        return None
    rank = max(1, math.ceil(q / 100 * total))
    return bisect.bisect_left(list(itertools.accumulate(counts)), rank)


def since(start: Sequence[int] | None, end: Sequence[int]) -> list[int]:
    """Counts from `start` to `end`, bucket by bucket (from zero without a start)."""
    return [n - (start[i] if start is not None else 0) for i, n in enumerate(end)]


def busy_seconds(pid: int) -> float:
    """Seconds the main thread of `pid` (a worker's loop) has run or waited for a CPU so
    far; NaN where the kernel does not say (not Linux, or no schedstats)."""
    on_cpu, waited = _schedstat(pid)
    return on_cpu + waited


def run_queue_seconds(pid: int) -> float:
    """Seconds the main thread of `pid` has waited, runnable, for a CPU so far; NaN
    where the kernel does not say."""
    return _schedstat(pid)[1]


def _schedstat(pid: int) -> tuple[float, float]:
    """`/proc/<pid>/task/<pid>/schedstat`: seconds on a CPU, seconds waiting for one."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat", "rb") as file:
            on_cpu, waited = file.read().split()[:2]
    except (OSError, ValueError):
        return math.nan, math.nan
    return int(on_cpu) / 1e9, int(waited) / 1e9
