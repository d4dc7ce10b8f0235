"""The generator's self-checks: was it, not the server, the bottleneck?  Its loop's lag
(sampled through the run by `watch_loop`), an open loop's lateness and waits for a
connection, its CPU share and how busy its connections were, each held to a limit
measured on a noisy 2-core machine; `generator_verdict` says why a run is invalid, if it is."""

from __future__ import annotations

import asyncio
import time
from array import array

from pytest_asyncsafe.load.shape import LoadShape
from pytest_asyncsafe.load.tally import Tally
from pytest_asyncsafe.stats import Latencies
from pytest_asyncsafe.units import format_ms

#: The self-checks' limits: runs of a healthy generator, measured on a noisy 2-core
#: machine, stay well under them, and a saturated one goes well over.
#: Its loop's lag (how late a 5 ms sleep wakes up): 0.1-2 ms healthy, up to 5 ms on a
#: throttled host; 7-16 ms once its CPU is saturated, 35 ms and more at 64 connections.
LOOP_LAG_LIMIT = 0.010
#: ... or this share of the run's median latency, if more: a lag delays the reading of a
#: response by at most itself, which a slow server's latencies dwarf.  Hundreds of
#: connections to a saturated server get their responses in bursts (its loop answers a
#: batch of requests per turn), and reading a burst of 300 takes the generator 10-20 ms,
#: against a p50 of 700 ms and more: the latencies are still the server's to within 3%.
LOOP_LAG_SHARE = 0.1
#: How late an open-loop request leaves for the generator's own reasons: at p99, 0.6-0.7
#: ms healthy (the loop's timers are whole milliseconds), 2-3 ms when struggling, ~100 ms
#: when saturated, and then most requests are late (p50 ~50 ms).  Judged at p90: a host
#: that stops the generator for 60 ms delays a burst of requests, not one in ten, and
#: their latencies do not count that delay (see `openloop.OpenLoop`).
SCHEDULE_LAG_LIMIT = 0.005
#: How long an open-loop request, once due, waits for an idle connection...
CONNECTION_WAIT_LIMIT = 0.005
#: ... when the connections were busy this share of the run.  A server that stalls for a
#: while holds every connection, and requests wait: their latencies stay honest (they
#: count from the scheduled start), and the stall is the server's.  Connections busy
#: nearly all the time mean the rate needs more of them than the run has.
CONNECTIONS_BUSY_LIMIT = 0.9
#: The generator's share of a core: an open-loop run that fell behind with its CPU
#: over this was held back by it (a saturated generator reads responses late, so its
#: connections stay busy longer, and its requests wait for them).  Closed-loop runs at
#: full speed use 0.93 of a core, healthy, when the server saturates first.
CPU_LIMIT = 0.9
#: A check trips when more than 1% of its samples (the p99) and at least this many are
#: over its limit: one hiccup of the host in a short run is no verdict.
MIN_OVER = 3
LAG_INTERVAL = 0.005
#: How a run whose open loop waited for busy connections begins its verdict: the server
#: answered too slowly for the rate, which a search for the server's capacity reads as
#: a rate the server does not sustain (every other invalid run is the generator's).
OUT_OF_CONNECTIONS = "ran out of connections"


async def watch_loop(lags: array[float]) -> None:
    """How late the loop wakes a sleeper: what a response waits before it is read."""
    while True:
        slept = time.perf_counter()
        await asyncio.sleep(LAG_INTERVAL)
        lags.append(max(0.0, time.perf_counter() - slept - LAG_INTERVAL))


def generator_verdict(shape: LoadShape, tally: Tally, loop_lags: array[float], health: dict[str, float]) -> str | None:
    """Why the run describes the generator rather than the server, if it does."""
    lag_limit = max(LOOP_LAG_LIMIT, LOOP_LAG_SHARE * tally.latencies.percentile(50))
    if _over(loop_lags, lag_limit):
        return (
            f"the generator's own event loop lagged: p99 {format_ms(p99_of(loop_lags))} (limit {format_ms(lag_limit)})"
        )
    if not shape.open_loop:
        return None
    waits, lags = tally.connection_waits, tally.schedule_lags
    waited, lagged = _over(waits, CONNECTION_WAIT_LIMIT), _over(lags, SCHEDULE_LAG_LIMIT, percentile=90)
    if not (waited or lagged or tally.dropped):
        return None
    # The checks' arrays are never empty here: the first request is always sent.
    unsent = f"{tally.dropped} of {tally.scheduled} scheduled requests were never sent; " if tally.dropped else ""
    late = (
        f"p99 lag {format_ms(p99_of(lags))}, p99 wait for a connection {format_ms(p99_of(waits))} "
        f"(limit {format_ms(SCHEDULE_LAG_LIMIT)})"
    )
    cpu, busy = health["cpu_share"], health["connections_busy"]
    if cpu > CPU_LIMIT:
        return (
            f"the generator was saturated ({cpu:.0%} of a core) and fell behind its open-loop schedule: {unsent}{late}"
        )
    if (waited or tally.cut_off_waiting) and busy > CONNECTIONS_BUSY_LIMIT:
        share = _count_over(waits, CONNECTION_WAIT_LIMIT) / len(waits)
        return (
            f"{OUT_OF_CONNECTIONS}: {unsent}with concurrency={shape.concurrency}, none was idle {busy:.0%} of "
            f"the run, and {share:.0%} of requests waited for one (p99 {format_ms(p99_of(waits))}, limit "
            f"{format_ms(CONNECTION_WAIT_LIMIT)}): the server answered too slowly for rate={shape.rate:g}/s over "
            f"concurrency={shape.concurrency}; raise concurrency= if it can take more at once, or lower rate="
        )
    if lagged or tally.dropped:
        return (
            f"the generator fell behind its open-loop schedule: {unsent}p90 lag {format_ms(_percentile(lags, 90))} "
            f"(limit {format_ms(SCHEDULE_LAG_LIMIT)})"
        )
    # Requests waited for connections a while (a server stall): their latencies are honest.
    return None


def _over(samples: array[float], limit: float, percentile: float = 99) -> bool:
    """Is the `percentile` of `samples` over `limit`, in at least `MIN_OVER` samples?"""
    over = _count_over(samples, limit)
    return over >= MIN_OVER and over > len(samples) * (100 - percentile) / 100


def _count_over(samples: array[float], limit: float) -> int:
    return sum(1 for value in samples if value > limit)


def p99_of(samples: array[float]) -> float:
    return _percentile(samples, 99)


def _percentile(samples: array[float], percentile: float) -> float:
    return Latencies(samples).percentile(percentile)
