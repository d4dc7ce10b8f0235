"""Where a worker stands now, read at a load run's start and at its end: its loop
(`saturation`), its thread pool (`threadpool`) and the requests it has received.  What
the run measured of each is the difference."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_asyncsafe import saturation, threadpool
from pytest_asyncsafe.saturation import LoopReading, Saturation
from pytest_asyncsafe.threadpool import ThreadPool, ThreadPoolReading


@dataclass(frozen=True, slots=True)
class WorkerReading:
    loop: LoopReading
    #: None until the worker has mapped its thread limiter's counts.
    threadpool: ThreadPoolReading | None
    received: int


@dataclass(frozen=True, slots=True)
class WorkerFigures:
    """What each worker did between two readings."""

    saturation: tuple[Saturation, ...]
    threadpool: tuple[ThreadPool, ...]
    #: Requests each worker received, by pid (one that started meanwhile: since its start).
    received: dict[int, int]


def between(before: Mapping[int, WorkerReading], after: Mapping[int, WorkerReading]) -> WorkerFigures:
    return WorkerFigures(
        saturation.between(_loops(before), _loops(after)),
        threadpool.between(_pools(before), _pools(after)),
        {pid: end.received - (before[pid].received if pid in before else 0) for pid, end in sorted(after.items())},
    )


#: A worker that received this many times an even share of a run's requests, or more.
UNBALANCED = 2


def unbalanced(received: Mapping[int, int]) -> list[int]:
    """The workers that received `UNBALANCED` times an even share of the requests or more
    (of two workers, one that received them all)."""
    total = sum(received.values())
    if len(received) < 2 or not total:
        return []
    share = total / len(received)
    return [pid for pid, count in received.items() if count >= UNBALANCED * share]


def _loops(readings: Mapping[int, WorkerReading]) -> dict[int, LoopReading]:
    return {pid: reading.loop for pid, reading in readings.items()}


def _pools(readings: Mapping[int, WorkerReading]) -> dict[int, ThreadPoolReading]:
    return {pid: reading.threadpool for pid, reading in readings.items() if reading.threadpool is not None}
