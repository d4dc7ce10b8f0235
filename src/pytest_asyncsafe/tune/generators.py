"""What a sweep sends (`Workload`: requests in turn, or a scenario), and the processes
that send it (`Generators`).

One Python generator process sends some 19k requests a second here, at about 2.5 times
wrk's CPU a request; on a small machine it competes with the server for the same CPUs,
and a scenario of its own may cost more.  A step that one process could not send (the
generator fell behind) says nothing about the server: it is sent again from more
processes, each a share of the rate - this one, which also reads the server's loops, and
children, started when first needed and kept for the sweep.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

import httpx

from pytest_asyncsafe.load import InvalidLoadRun, LoadResult, LoadRunner, LoadTarget, combined
from pytest_asyncsafe.server import Server

#: Each request on a connection of its own.  A worker that wakes first to a burst of new
#: connections accepts them all, and kept alive they stay with it: a sweep over kept-alive
#: connections measured one busy worker and idle others whatever the count (2 workers:
#: 288 req/s of a CPU-bound route against 269 for 1; on fresh connections, 482).
FRESH_CONNECTION = {"Connection": "close"}

Scenario = Callable[[httpx.AsyncClient], Awaitable[object]]


class WorkloadError(ValueError):
    """A scenario that cannot be imported."""


@dataclass(frozen=True)
class Workload:
    """The requests of one iteration, `(method, path)` each, or a scenario: the
    `module:async_function` of an `httpx.AsyncClient`.  Plain data, so that a child
    process can send it too."""

    requests: tuple[tuple[str, str], ...] = ()
    scenario: str | None = None

    def send(self, base_url: str, shape: dict[str, object], server: LoadTarget | None = None) -> LoadResult:
        """One run of this workload against `base_url` (reading `server`'s loops, if
        given).  A run the generator held back is returned, not raised: for a search over
        rates it is a verdict."""
        delivered: list[LoadResult] = []
        runner = LoadRunner(base_url, delivered.append)
        if server is not None:
            runner = runner.on(server)
        try:
            if self.scenario is not None:
                return runner.scenario(import_scenario(self.scenario), **shape)
            if len(self.requests) == 1:
                [(method, path)] = self.requests
                return runner.request(method, path, headers=FRESH_CONNECTION, **shape)
            return runner.scenario(_in_turn(self.requests), **shape)
        except InvalidLoadRun:
            return delivered[-1]


def _in_turn(requests: tuple[tuple[str, str], ...]) -> Scenario:
    async def each_path(client: httpx.AsyncClient) -> None:
        for method, path in requests:
            await client.request(method, path, headers=FRESH_CONNECTION)

    return each_path


def import_scenario(spec: str) -> Scenario:
    """The async function `module:name` names; WorkloadError says why there is none."""
    module, colon, name = spec.partition(":")
    if not colon:
        raise WorkloadError(f"--scenario: expected module:async_function, got {spec!r}")
    try:
        found: Scenario = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise WorkloadError(f"--scenario {spec}: {error}") from None
    return found


def most_processes() -> int:
    """As many generator processes as this process may use CPUs: more only share them."""
    return len(os.sched_getaffinity(0))


class Generators:
    """Sends a workload's runs from one process or several; `close` ends the children."""

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self._children: concurrent.futures.ProcessPoolExecutor | None = None
        self._started = 0

    def send(self, server: Server, shape: dict[str, object], processes: int = 1) -> LoadResult:
        """One run against `server`: from this process alone, or from `processes`, each
        sending its share (the rate, or the connections, divided among them)."""
        if processes == 1:
            return self.workload.send(server.base_url, shape, server)
        share = _share(shape, processes)
        children = self._pool(processes - 1)
        futures = [children.submit(_send_share, self.workload, server.base_url, share) for _ in range(processes - 1)]
        mine = self.workload.send(server.base_url, share, server)
        return combined([mine, *(future.result() for future in futures)])

    def _pool(self, count: int) -> concurrent.futures.ProcessPoolExecutor:
        if self._children is None or self._started < count:
            self.close()
            # Spawned, not forked: this process has threads (the load runs in one).
            self._children = concurrent.futures.ProcessPoolExecutor(count, multiprocessing.get_context("spawn"))
            self._started = count
            # Each child imports the generator now, not in the first step it sends.
            for future in [self._children.submit(_ready) for _ in range(count)]:
                future.result()
        return self._children

    def close(self) -> None:
        if self._children is not None:
            self._children.shutdown(cancel_futures=True)
            self._children = None

    def __enter__(self) -> Generators:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def _share(shape: dict[str, object], processes: int) -> dict[str, object]:
    """Each process's part of `shape`: the rate divided among them, and the connections."""
    share = dict(shape)
    rate, concurrency = shape.get("rate"), shape.get("concurrency")
    if isinstance(rate, (int, float)):
        share["rate"] = rate / processes
    if isinstance(concurrency, int):
        share["concurrency"] = max(1, round(concurrency / processes))
    return share


def _send_share(workload: Workload, base_url: str, shape: dict[str, object]) -> LoadResult:
    """In a child: its share of a run (it reads no loops: the parent's share does)."""
    return workload.send(base_url, shape)


def _ready() -> None:
    """In a child: nothing, once its imports are done."""
