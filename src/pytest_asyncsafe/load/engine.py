"""A run, from start to end: its connections opened, an optional warm-up, then the
counted part under the self-checks' watch (`health`).  Each phase is driven by
closed-loop workers (each sends one request after another) or by the open loop's
scheduler (`openloop`), and ends in `_settle`: once its time is up, the requests in
flight get a grace to finish, and those still unanswered are tallied unfinished.
`run_load` returns what the run measured, a `LoadResult`."""

from __future__ import annotations

import asyncio
import gc
import math
import time
from array import array
from collections.abc import Callable, Mapping

from pytest_asyncsafe.load.health import generator_verdict, p99_of, watch_loop
from pytest_asyncsafe.load.openloop import OpenLoop
from pytest_asyncsafe.load.result import LoadResult
from pytest_asyncsafe.load.shape import MAX_DURATION, MAX_REQUESTS, LoadShape, scheduled_count
from pytest_asyncsafe.load.tally import Tally
from pytest_asyncsafe.load.workload import Load, Unit
from pytest_asyncsafe.readings import WorkerReading, between

#: Once a run's time is up, the requests in flight get twice the run's p99 to finish, at
#: least this long, and at most twice the request timeout (connecting, then reading: a
#: request has failed by then).  A request slower than that is in the run's tail by the
#: run's own measure: waiting longer for it would stretch the run past what was asked,
#: and a healthy slow route still has its last requests answered.  See `_settle`.
ANSWER_GRACE = 1.0


#: Where each worker of the server under load stands now (see `readings`).
Readings = Callable[[], Mapping[int, WorkerReading]]


async def run_load(load: Load, shape: LoadShape, target: str, readings: Readings) -> LoadResult:
    try:
        await load.open(shape.timeout)
        if shape.warmup:
            await _phase(load, shape, _warmup_amount(shape), Tally())
        tally = Tally()
        lags = array("d")
        # Out of the collector's sight: everything that exists now (the pytest process's
        # whole heap) is not walked again by a full collection in the middle of the run.
        gc.freeze()
        watching = asyncio.create_task(watch_loop(lags))
        cpu = time.thread_time()
        before = readings()
        try:
            started, finished = await _phase(load, shape, _counted_amount(shape), tally)
        finally:
            watching.cancel()
            gc.unfreeze()
        workers = between(before, readings())
        cpu = time.thread_time() - cpu
    finally:
        await load.aclose()
    elapsed = finished - started
    # The tally's clock (perf_counter) to the run's (monotonic), from the counted part's start.
    shift = time.monotonic() - time.perf_counter() - started
    health = {"cpu_share": cpu / elapsed if elapsed > 0 else 0.0}
    samples = {"loop_lag_p99": lags}
    if shape.open_loop:
        samples.update(schedule_lag_p99=tally.schedule_lags, connection_wait_p99=tally.connection_waits)
        available = shape.concurrency * tally.dispatching
        health["connections_busy"] = 1 - tally.idle / available if available > 0 else 0.0
        health["dropped"] = float(tally.dropped)
    health.update({name: p99_of(values) for name, values in samples.items() if values})
    return LoadResult(
        target=target,
        shape=shape,
        latencies=tally.latencies,
        status_counts=tally.status_counts,
        errors=tally.errors,
        elapsed=elapsed,
        started=started,
        finished=finished,
        invalid=generator_verdict(shape, tally, lags, health),
        health=health,
        rejected_latencies=tally.rejected_latencies,
        saturation=workers.saturation,
        threadpool=workers.threadpool,
        per_worker=workers.received,
        unfinished=tally.unfinished,
        starts=array("d", (start + shift for start in tally.starts)),
    )


def _warmup_amount(shape: LoadShape) -> tuple[int, float]:
    """(requests, seconds) of the warm-up: at most this many, for at most this long."""
    if isinstance(shape.warmup, int):
        return shape.warmup, MAX_DURATION
    if shape.rate is not None:
        return scheduled_count(shape.rate, shape.warmup), MAX_DURATION
    return MAX_REQUESTS, shape.warmup


def _counted_amount(shape: LoadShape) -> tuple[int, float]:
    if shape.rate is not None:
        assert shape.duration is not None
        return scheduled_count(shape.rate, shape.duration), MAX_DURATION
    if shape.requests is not None:
        return shape.requests, MAX_DURATION  # a server too slow for them still ends the run
    assert shape.duration is not None
    return MAX_REQUESTS, shape.duration


async def _phase(load: Load, shape: LoadShape, amount: tuple[int, float], tally: Tally) -> tuple[float, float]:
    """Run `amount` (at most so many requests, for at most so long) of load; returns
    `time.monotonic()` at its start and its end."""
    requests, seconds = amount
    loop = asyncio.get_running_loop()
    units = [load.unit(connection, tally) for connection in range(load.concurrency)]
    #: Done when the phase's time is up: its duration (or the hard limit) is over, or an
    #: open loop's schedule is, and its scheduler too (it may send late ones for a while).
    time_up: asyncio.Future[None] = loop.create_future()
    rate = shape.rate
    if rate is not None:
        open_loop = OpenLoop(units, rate, requests, tally)

        async def schedule() -> None:
            await asyncio.gather(open_loop.run(), asyncio.sleep(requests / rate))
            _resolve(time_up)

        await _settle([asyncio.create_task(schedule()), *open_loop.workers], time_up, tally, shape.timeout)
        return open_loop.started, time.monotonic()
    started = time.monotonic()
    timer = loop.call_later(seconds, _resolve, time_up)
    left = [requests]
    try:
        workers = [asyncio.create_task(_closed_worker(unit, left, time_up)) for unit in units]
        await _settle(workers, time_up, tally, shape.timeout)
    finally:
        timer.cancel()
    return started, time.monotonic()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _closed_worker(unit: Unit, left: list[int], time_up: asyncio.Future[None]) -> None:
    """Send, one after another, while requests are `left` and time is not up."""
    while left[0] > 0 and not time_up.done():
        left[0] -= 1
        await unit(None)


async def _settle(tasks: list[asyncio.Task[None]], time_up: asyncio.Future[None], tally: Tally, timeout: float) -> None:
    """Wait for `tasks`.  Once `time_up`, the requests in flight get a grace to finish
    (`grace_for`); then the phase is cut off: the requests still unanswered are tallied
    unfinished, and the tasks cancelled.  Every kind of run ends here: a `requests=` run
    whose requests are all answered (or failed) before its hard limit has none.  The
    first task to fail cancels the others, and its exception is raised."""

    async def cut_off() -> None:
        await time_up
        since = time.perf_counter()
        # A run is usually over by then: only one still waiting sorts its latencies for `grace_for`.
        await asyncio.sleep(min(ANSWER_GRACE, 2 * timeout))
        await asyncio.sleep(max(0.0, since + grace_for(tally, timeout) - time.perf_counter()))
        tally.cut_off()
        for task in tasks:
            task.cancel()

    cutter = asyncio.create_task(cut_off())
    try:
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        cutter.cancel()
        await asyncio.wait([cutter])
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    failures = [task.exception() for task in tasks if not task.cancelled()]
    for failure in failures:
        if failure is not None:
            raise failure


def grace_for(tally: Tally, timeout: float) -> float:
    """How long after its time is up a phase waits for its requests in flight: see
    `ANSWER_GRACE`."""
    p99 = tally.latencies.percentile(99)
    slow = 0.0 if math.isnan(p99) else 2 * p99
    return min(max(ANSWER_GRACE, slow), 2 * timeout)
