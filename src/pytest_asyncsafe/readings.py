"""Where a worker stands now, read at a load run's start and at its end: its loop
(`saturation`) and its thread pool (`threadpool`).  What the run measured of each is the
difference."""

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


def between(
    before: Mapping[int, WorkerReading], after: Mapping[int, WorkerReading]
) -> tuple[tuple[Saturation, ...], tuple[ThreadPool, ...]]:
    """Each worker's saturation and thread pool from `before` to `after`."""
    return (
        saturation.between(_loops(before), _loops(after)),
        threadpool.between(_pools(before), _pools(after)),
    )


def _loops(readings: Mapping[int, WorkerReading]) -> dict[int, LoopReading]:
    return {pid: reading.loop for pid, reading in readings.items()}


def _pools(readings: Mapping[int, WorkerReading]) -> dict[int, ThreadPoolReading]:
    return {pid: reading.threadpool for pid, reading in readings.items() if reading.threadpool is not None}
