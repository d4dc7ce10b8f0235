"""Each worker's thread pool over a load run: AnyIO's default thread limiter, which every
`def` route, sync dependency and `run_in_threadpool` call of the worker shares (40
threads unless the app raises `total_tokens`).  When all its tokens are taken, the next
sync call waits for one, and a slow sync route makes every other one, the health check
included, queue behind it.  It shows only as latency; this says where it came from.

The worker counts, in its state file (`channel`), every token taken by how many were in
use once it was, every wait for one by how many were waiting then, and every wait by
how long it took (`saturation`'s lag buckets, 10% wide); the pytest process reads them
at the start and the end of a run and differences them (`between`), so a worker pays a
few increments a token.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_asyncsafe.durations import format_duration
from pytest_asyncsafe.saturation import LAG_BUCKETS, bucket_bound, bucket_percentile, since
from pytest_asyncsafe.units import json_number

#: Counts of tokens in use (and of tasks waiting) are kept exactly up to this, and the
#: last bucket holds every count from it up.
COUNT_BUCKETS = 256
#: The fields of the state: tokens in all, in use now, tasks waiting now.
FIELDS = 3
SIZE = FIELDS + 2 * COUNT_BUCKETS + LAG_BUCKETS


@dataclass(frozen=True, slots=True)
class ThreadPoolReading:
    """A worker's thread limiter as it stood: everything since the worker started."""

    total: int
    in_use: int
    waiting: int
    #: Tokens taken, by how many were in use once each was (bucket = count).
    taken: tuple[int, ...]
    #: Waits that began, by how many tasks were waiting once each did.
    queued: tuple[int, ...]
    #: Tokens taken, by how long each waited for it (a lag bucket).
    waits: tuple[int, ...]

    @classmethod
    def unpack(cls, values: Sequence[int]) -> ThreadPoolReading:
        taken = FIELDS + COUNT_BUCKETS
        queued = taken + COUNT_BUCKETS
        return cls(
            values[0], values[1], values[2],
            tuple(values[FIELDS:taken]), tuple(values[taken:queued]), tuple(values[queued:]),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ThreadPool:
    """One worker's thread pool over one run (`LoadResult.threadpool`)."""

    pid: int
    #: The most tokens in use at once, and the limiter's size.
    peak_in_use: int
    total: int
    #: The most tasks waiting for a token at once.
    peak_waiting: int
    #: How long the tasks that took a token waited for it, in seconds (to within 10%):
    #: 0 when none waited, NaN when none took one.
    wait_p99: float
    wait_max: float

    @property
    def exhausted(self) -> bool:
        """Did a task have to wait for a thread?"""
        return self.peak_waiting > 0

    def describe(self) -> str:
        line = f"worker {self.pid} thread pool: {self.peak_in_use} of {self.total} threads in use at most"
        if not self.exhausted:
            return line
        return (
            f"{line}, {self.peak_waiting} tasks waiting for one at most, wait p99 {format_duration(self.wait_p99)}, "
            f"max {format_duration(self.wait_max)}: the pool ran dry; every sync route (def routes, sync "
            "dependencies, run_in_threadpool) queued behind the ones holding it"
        )

    def to_json(self) -> dict[str, float | int | bool | None]:
        return {
            "pid": self.pid,
            "peak_in_use": self.peak_in_use,
            "total": self.total,
            "peak_waiting": self.peak_waiting,
            "wait_p99": json_number(self.wait_p99),
            "wait_max": json_number(self.wait_max),
            "exhausted": self.exhausted,
        }


def between(before: Mapping[int, ThreadPoolReading], after: Mapping[int, ThreadPoolReading]) -> tuple[ThreadPool, ...]:
    """Each worker's thread pool from `before` to `after`, by pid.  A worker that started
    meanwhile counts from its start; one gone by `after` is not reported."""
    pools = []
    for pid, end in sorted(after.items()):
        start = before.get(pid)
        taken = since(start.taken if start else None, end.taken)
        queued = since(start.queued if start else None, end.queued)
        waits = since(start.waits if start else None, end.waits)
        at_start = (start.in_use, start.waiting) if start else (0, 0)
        pools.append(
            ThreadPool(
                pid,
                max(at_start[0], end.in_use, _highest(taken)),
                end.total,
                max(at_start[1], end.waiting, _highest(queued)),
                _wait(waits, 99),
                _wait(waits, 100),
            )
        )
    return tuple(pools)


def _highest(counts: Sequence[int]) -> int:
    """The highest bucket with anything in it (0 for none)."""
    return max((bucket for bucket, n in enumerate(counts) if n > 0), default=0)


def _wait(counts: Sequence[int], q: float) -> float:
    """The q-th percentile of the waits `counts` holds: its bucket's bound, 0 for the
    first bucket (a token free at once)."""
    bucket = bucket_percentile(counts, q)
    if bucket is None:
        return math.nan
    return 0.0 if bucket == 0 else bucket_bound(bucket)
