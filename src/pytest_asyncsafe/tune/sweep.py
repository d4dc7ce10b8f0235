"""A sweep: for each worker count, boot the app under the real server (confined to the
container's CPUs when `--cpus` says how many), find its capacity and cost
(`capacity.measure_point`), stop it; then the recommendation for the container's limits."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pytest_asyncsafe.load import InvalidLoadRun, LoadUsageError
from pytest_asyncsafe.server import Server, ServerError
from pytest_asyncsafe.settings import ServerSettings, check
from pytest_asyncsafe.tune.capacity import Goal, Point, measure_point
from pytest_asyncsafe.tune.generators import Generators, Workload, WorkloadError, import_scenario
from pytest_asyncsafe.tune.limits import Limits, detect
from pytest_asyncsafe.tune.recommend import Recommendation, recommend


class TuneError(Exception):
    """Bad input, or a sweep that measured nothing: one line that names the cause."""


@dataclass(frozen=True)
class Sweep:
    """What to measure, and for which container."""

    server: ServerSettings
    workers: Sequence[int]
    budget: Goal
    #: What each step sends.
    workload: Workload
    #: Size for these limits instead of the ones detected (`--cpus` also confines the server).
    cpus: float | None = None
    memory_bytes: int | None = None
    #: How the limits given were named, for the report to say where they came from.
    cpus_named: str = "--cpus"
    memory_named: str = "--memory"
    max_seconds: float = 600.0


@dataclass(frozen=True)
class TuneReport:
    limits: Limits
    points: list[Point]
    recommendation: Recommendation
    #: Worker counts the sweep left out to stay within `--max-seconds`.
    skipped: list[int] = field(default_factory=list)

    def point(self, workers: int) -> Point:
        """The point measured with `workers` workers."""
        for point in self.points:
            if point.workers == workers:
                return point
        raise KeyError(f"no point with {workers} workers was measured")


def default_workers(cpus: float) -> list[int]:
    """1 up to twice the CPUs, doubling: 1, 2, 4 on two CPUs."""
    counts, workers = [], 1
    while workers <= max(2 * cpus, 1):
        counts.append(workers)
        workers *= 2
    return counts


def run(sweep: Sweep, progress: Callable[[str], None]) -> TuneReport:
    limits = _limits(sweep)
    if sweep.workload.scenario is not None:
        try:
            import_scenario(sweep.workload.scenario)
        except WorkloadError as error:
            raise TuneError(str(error)) from None
    with Generators(sweep.workload) as generators:
        points, skipped = _measure(sweep, generators, progress)
    if skipped:
        progress(f"not measured within --max-seconds {sweep.max_seconds:g}: {', '.join(map(str, skipped))} workers")
    if not any(point.capacity_rps > 0 for point in points):
        raise TuneError(
            f"no worker count met the budget (p{sweep.budget.percentile} <= {sweep.budget.latency * 1000:g} ms, "
            f"errors <= {sweep.budget.error_rate:.1%}) at any rate: the budget is out of reach of this app here"
        )
    return TuneReport(limits, points, recommend(points, limits), skipped)


def _measure(sweep: Sweep, generators: Generators, progress: Callable[[str], None]) -> tuple[list[Point], list[int]]:
    """Each worker count's point, and the counts left out to keep within `max_seconds`."""
    server_settings = sweep.server
    if sweep.cpus is not None:
        server_settings = dataclasses.replace(server_settings, cpus=_confined(sweep.cpus))
    deadline = time.monotonic() + sweep.max_seconds
    points: list[Point] = []
    skipped: list[int] = []
    for workers in sweep.workers:
        if time.monotonic() > deadline:
            skipped.append(workers)
            continue
        progress(f"{workers} worker(s): starting the server")
        server = Server(check(dataclasses.replace(server_settings, workers=workers)))
        try:
            server.start()
            point = measure_point(server, generators, sweep.budget, progress)
        except ServerError as error:
            # Its first line says what happened, its output's last line why.
            lines = [line for line in str(error).splitlines() if line.strip()]
            raise TuneError(f"{lines[0].removesuffix(' Its output:')} {lines[-1].strip()}") from None
        except (InvalidLoadRun, LoadUsageError) as error:
            raise TuneError(str(error)) from None
        finally:
            server.close()
        points.append(point)
        progress(f"{workers} worker(s): {_summary(point)}")
    return points, skipped


def _limits(sweep: Sweep) -> Limits:
    detected = detect()
    limits = detected
    if sweep.cpus is not None:
        limits = dataclasses.replace(limits, cpus=sweep.cpus, cpus_source=sweep.cpus_named)
    if sweep.memory_bytes is not None:
        limits = dataclasses.replace(limits, memory_bytes=sweep.memory_bytes, memory_source=sweep.memory_named)
    return limits


def _confined(cpus: float) -> tuple[int, ...]:
    """The first CPUs this process may use, as many as `cpus` rounded up."""
    available = sorted(os.sched_getaffinity(0))
    wanted = math.ceil(cpus)
    if wanted > len(available):
        raise TuneError(f"--cpus {cpus:g}: this machine lets it use {len(available)} CPUs")
    return tuple(available[:wanted])


def _summary(point: Point) -> str:
    if point.capacity_rps <= 0:
        return "no rate met the budget"
    bound = " (generator-bound: the capacity is a lower bound)" if point.generator_bound else ""
    return f"{point.capacity_rps:,.0f} req/s at p99 {point.p99 * 1000:.1f} ms{bound}"
