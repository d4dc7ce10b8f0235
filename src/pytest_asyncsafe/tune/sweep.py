"""A sweep: for each worker count, boot the app under the real server (confined to the
container's CPUs when `--cpus` says how many), find its capacity and cost
(`capacity.measure_point`), stop it; then the recommendation for the container's limits."""

from __future__ import annotations

import dataclasses
import importlib
import math
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from pytest_asyncsafe.load import InvalidLoadRun, LoadUsageError
from pytest_asyncsafe.server import Server, ServerError
from pytest_asyncsafe.settings import ServerSettings, check
from pytest_asyncsafe.tune.capacity import Goal, Point, Send, measure_point
from pytest_asyncsafe.tune.limits import Limits, detect
from pytest_asyncsafe.tune.recommend import Recommendation, recommend

#: Each request on a connection of its own.  A worker that wakes first to a burst of new
#: connections accepts them all, and kept alive they stay with it: a sweep over kept-alive
#: connections measured one busy worker and idle others whatever the count (2 workers:
#: 288 req/s of a CPU-bound route against 269 for 1; on fresh connections, 482).
FRESH_CONNECTION = {"Connection": "close"}


class TuneError(Exception):
    """Bad input, or a sweep that measured nothing: one line that names the cause."""


@dataclass(frozen=True)
class Sweep:
    """What to measure, and for which container."""

    server: ServerSettings
    workers: Sequence[int]
    budget: Goal
    #: The requests of one iteration: `(method, path)` each...
    requests: Sequence[tuple[str, str]] = ()
    #: ... or a scenario, `module:async_function` of an `httpx.AsyncClient`.
    scenario: str | None = None
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
    send = _sender(sweep)
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
            point = measure_point(server, send, sweep.budget, progress)
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
    if skipped:
        progress(f"not measured within --max-seconds {sweep.max_seconds:g}: {', '.join(map(str, skipped))} workers")
    if not any(point.capacity_rps > 0 for point in points):
        raise TuneError(
            f"no worker count met the budget (p{sweep.budget.percentile} <= {sweep.budget.latency * 1000:g} ms, "
            f"errors <= {sweep.budget.error_rate:.1%}) at any rate: the budget is out of reach of this app here"
        )
    return TuneReport(limits, points, recommend(points, limits), skipped)


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


def _sender(sweep: Sweep) -> Send:
    if sweep.scenario is not None:
        flow = _import_scenario(sweep.scenario)
        return lambda runner, shape: runner.scenario(flow, **shape)
    if len(sweep.requests) == 1:
        [(method, path)] = sweep.requests
        return lambda runner, shape: runner.request(method, path, headers=FRESH_CONNECTION, **shape)
    requests = list(sweep.requests)

    async def each_path(client: httpx.AsyncClient) -> None:
        for method, path in requests:
            await client.request(method, path, headers=FRESH_CONNECTION)

    return lambda runner, shape: runner.scenario(each_path, **shape)


def _import_scenario(spec: str) -> Callable[[httpx.AsyncClient], Awaitable[object]]:
    module, colon, name = spec.partition(":")
    if not colon:
        raise TuneError(f"--scenario: expected module:async_function, got {spec!r}")
    try:
        found: Callable[[httpx.AsyncClient], Awaitable[object]] = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise TuneError(f"--scenario {spec}: {error}") from None
    return found


def _summary(point: Point) -> str:
    if point.capacity_rps <= 0:
        return "no rate met the budget"
    bound = " (generator-bound: the capacity is a lower bound)" if point.generator_bound else ""
    return f"{point.capacity_rps:,.0f} req/s at p99 {point.p99 * 1000:.1f} ms{bound}"
