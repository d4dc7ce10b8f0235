"""The load generator: concurrent HTTP requests against a server, timed honestly.

How it keeps itself out of its measurements (figures: measured against wrk on a 2-core
machine):

- No connection pool.  Each worker owns one `LeanTransport` (one keep-alive
  connection), and `get`/`post`/`request` build their request once and replay it
  through `transport.handle_async_request`: 0.03-0.04 ms of CPU a request, 0.93-1.0 of
  wrk's throughput, where a shared `httpx.AsyncClient` reaches 0.05.
- Its own event loop (uvloop when installed: 1.4-1.7x cheaper a request), in a thread
  of its own, so that sync and async tests call it alike.
- Open loop: each latency counts from the request's scheduled start, so that a server
  that stalls cannot hide it by holding the generator back (coordinated omission): a
  wait for a connection the server holds counts.  Only the generator's own lateness
  does not; it is checked apart.
- Its connections are opened before the clock starts, all at once: opening 400 takes
  its loop ~0.1 s, which the first request of each would otherwise count.  (wrk does
  not time connecting either; a connection opened again mid-run is timed.)
- It watches itself (its loop's lag, the open-loop schedule, its connections) and calls
  a run invalid when it, not the server, was the bottleneck.
- Every request it sends is accounted for: answered, failed, or still unanswered when
  the run ends (`LoadResult.unfinished`), which counts as failed and enters the
  percentiles at its wait so far: a run's end may understate its slowest requests,
  never drop them (see `engine._settle`).

The package, a module a part: `shape` (what a run asks for, and its limits), `result`
(what it measured), `runner` (the runner the fixture returns, and its own loop in its
own thread), `engine` (a run: warm-up, counted part, closed loop, its end), `openloop`
(the open loop's scheduler), `workload` (what the workers send) over `transport` (one
connection each), `tally` (what they measured) and `health` (was the generator the
bottleneck?).  The public names are here.
"""

from __future__ import annotations

from pytest_asyncsafe.load.engine import ANSWER_GRACE
from pytest_asyncsafe.load.result import InvalidLoadRun, LoadResult, Rejections, combined
from pytest_asyncsafe.load.runner import LoadRunner, LoadTarget
from pytest_asyncsafe.load.shape import (
    MAX_CONCURRENCY,
    MAX_DURATION,
    MAX_REQUESTS,
    OPEN_LOOP_CONCURRENCY,
    LoadShape,
    LoadUsageError,
    parse_shape,
)

__all__ = [
    "ANSWER_GRACE",
    "MAX_CONCURRENCY",
    "MAX_DURATION",
    "MAX_REQUESTS",
    "OPEN_LOOP_CONCURRENCY",
    "InvalidLoadRun",
    "LoadResult",
    "LoadRunner",
    "LoadShape",
    "LoadTarget",
    "LoadUsageError",
    "Rejections",
    "combined",
    "parse_shape",
]
