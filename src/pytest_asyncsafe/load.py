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
  never drop them (see `_settle`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import gc
import math
import threading
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx

from asyncsafe_lint.untrusted import printable
from pytest_asyncsafe.budget import Budget, Row, budget_rows
from pytest_asyncsafe.durations import parse_duration
from pytest_asyncsafe.saturation import LoopReading, Saturation, between
from pytest_asyncsafe.stats import Latencies
from pytest_asyncsafe.transport import LeanTransport
from pytest_asyncsafe.units import describe_unfinished, format_ms

#: Hard limits on any run, whatever it asks for.
MAX_REQUESTS = 1_000_000
MAX_DURATION = 300.0
#: Each connection is a socket of the pytest process: well under the usual 1024 files.
MAX_CONCURRENCY = 512
#: The connections an open-loop run may use when it does not say: enough for a 1000/s
#: run of 50 ms requests.  Idle ones cost nothing, and the most recently used is reused
#: first, so a slow rate keeps to a few (the server closes the others once they have
#: been idle its keep-alive timeout; they open again when needed).
OPEN_LOOP_CONCURRENCY = 64


class LoadUsageError(ValueError):
    """A load shape that makes no sense (`rate` without `duration`, `requests=0`, ...)."""


class InvalidLoadRun(Exception):
    """The generator could not keep up (its own loop lagged, the open-loop schedule fell
    behind, it ran out of connections): its numbers describe itself, not the server."""


@dataclass(frozen=True)
class LoadShape:
    """How a run loads the server.  Closed loop: `concurrency` workers each sending one
    request after another, for `requests` in all or for `duration`.  Open loop: `rate`
    requests a second for `duration`, each timed from its scheduled start."""

    concurrency: int = 1
    requests: int | None = None
    duration: float | None = None
    rate: float | None = None
    #: Requests (int) or seconds (float) at the start that are not counted.
    warmup: int | float = 0
    #: Per request, in seconds.
    timeout: float = 10.0

    @property
    def open_loop(self) -> bool:
        return self.rate is not None

    def describe(self) -> str:
        if self.open_loop:
            return f"rate {self.rate:g}/s for {self.duration:g}s (<= {self.concurrency} connections)"
        amount = f"{self.requests} requests" if self.requests is not None else f"{self.duration:g}s"
        return f"{self.concurrency} concurrent, {amount}"


@dataclass
class LoadResult:
    """What one load run measured.  Latencies are in seconds."""

    target: str
    shape: LoadShape
    latencies: Latencies
    status_counts: Counter[int] = field(default_factory=Counter)
    #: Requests that got no response, by kind: "timeout", "connect", "read", "protocol"...
    errors: Counter[str] = field(default_factory=Counter)
    #: Wall time of the counted part of the run.
    elapsed: float = 0.0
    #: `time.monotonic()` at the start and the end of the counted part (to find the loop
    #: stalls the server had meanwhile).
    started: float = 0.0
    finished: float = 0.0
    #: Why the run is invalid, if it is (the generator was the bottleneck).
    invalid: str | None = None
    #: The generator's own health: loop lag p99, schedule lag p99, CPU share (seconds / ratio).
    health: dict[str, float] = field(default_factory=dict)
    #: The latencies of the 503 responses alone (they are in `latencies` too): how fast a
    #: server over its `--limit-concurrency` turned the excess away.
    rejected_latencies: Latencies = field(default_factory=Latencies)
    #: How busy each worker's loop was, and how late it ran (one entry a worker, by pid;
    #: none when the runner cannot read the server's loops).
    saturation: tuple[Saturation, ...] = ()
    #: Requests still unanswered when the run ended (see `_settle`): how long each had
    #: waited, in seconds, longest first.  Each counts as a request that failed, and its
    #: wait is in `latencies` too: a lower bound of its latency, so that the percentiles
    #: and the max can be understated by a run's end, never rid of its slowest requests.
    unfinished: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(self.status_counts.values()) + sum(self.errors.values()) + len(self.unfinished)

    @property
    def ok(self) -> int:
        """Responses with a status below 400."""
        return sum(n for status, n in self.status_counts.items() if status < 400)

    @property
    def error_rate(self) -> float:
        """Share of requests that failed: no response (unfinished included), or a status of
        400 or more."""
        return (self.count - self.ok) / self.count if self.count else 0.0

    @property
    def rps(self) -> float:
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    def _p(self, q: float) -> float:
        return self.latencies.percentile(q)

    @property
    def p50(self) -> float:
        return self._p(50)

    @property
    def p90(self) -> float:
        return self._p(90)

    @property
    def p95(self) -> float:
        return self._p(95)

    @property
    def p99(self) -> float:
        return self._p(99)

    @property
    def max(self) -> float:
        return self.latencies.max

    @property
    def mean(self) -> float:
        return self.latencies.mean

    @property
    def histogram(self) -> list[tuple[float, int]]:
        return self.latencies.histogram()

    def metric(self, name: str) -> float:
        """A metric by its budget name: p50, p90, p95, p99, max, mean, error_rate, rps."""
        value = getattr(self, name)
        return float(value) if not isinstance(value, float) else value

    def assert_budget(self, **budget: float | str) -> None:
        """Fail (AssertionError, with the metric | budget | measured | verdict table) unless
        this run meets `budget`: the keys of the `latency_budget` marker."""
        Budget.parse(budget, "assert_budget").enforce(self)

    def describe_miss(self, rows: Sequence[Row]) -> str:
        """Why this run missed its budget: the run, the rows' table, and what its
        unfinished requests count as."""
        missed = ", ".join(row.metric for row in rows if not row.passed)
        head = (
            f"latency budget missed ({missed}): {printable(self.target)}, {self.shape.describe()} "
            f"({self.count} counted, {self.elapsed:.2f}s)"
        )
        lines = [head, *(f"  {line}" for line in budget_rows(rows))]
        if self.unfinished:
            lines.append(f"  {self._unfinished_note(rows)}")
        return "\n".join(lines)

    def _unfinished_note(self, rows: Sequence[Row]) -> str:
        """What the requests the run ended without an answer to count as, and which rows
        they failed: those the answered requests alone would have met."""
        answered = dataclasses.replace(self, latencies=self.latencies.without(self.unfinished), unfinished=[])
        failed = Budget(tuple((row.metric, row.budget) for row in rows if not row.passed))
        blamed = [row.metric for row in failed.evaluate(answered) if row.passed]
        note = (
            f"{describe_unfinished(self.unfinished)}: requests still unanswered when the run ended, each counted "
            "as an error and at its wait as its latency (a lower bound)"
        )
        if blamed:
            note += f"; {', '.join(blamed)} {'fails' if len(blamed) == 1 else 'fail'} because of them"
        return note

    def rejected_fast(self, p99: str | float = "50ms") -> Rejections:
        """Did the server turn the excess away at once?  The verdict on a run against a
        server started with `--limit-concurrency`, truthy when some requests got a 503,
        the 503s' p99 is within `p99`, every request got a response, and no other status
        is 500 or more: `assert result.rejected_fast(p99="50ms")`."""
        limit = parse_duration(p99, "rejected_fast: p99")
        unanswered = self.errors + Counter(unfinished=len(self.unfinished))
        return Rejections(
            count=self.count,
            rejected=self.status_counts[REJECTED],
            p99=self.rejected_latencies.percentile(99),
            limit=limit,
            errors=tuple(sorted(unanswered.items())),
            server_errors=tuple(sorted((s, n) for s, n in self.status_counts.items() if s >= 500 and s != REJECTED)),
        )

    def __repr__(self) -> str:
        rejected = self.status_counts[REJECTED]
        rejections = f", 503 x{rejected} (p99 {format_ms(self.rejected_latencies.percentile(99))})" if rejected else ""
        unfinished = f", {describe_unfinished(self.unfinished)}" if self.unfinished else ""
        return (
            f"<LoadResult {printable(self.target)} {self.count} requests, {self.rps:.0f} rps, p50 {format_ms(self.p50)}, "
            f"p95 {format_ms(self.p95)}, p99 {format_ms(self.p99)}, errors {dict(self.errors)}{rejections}{unfinished}>"
        )


#: The status Uvicorn answers with, at once, over its `--limit-concurrency`.
REJECTED = 503


@dataclass(frozen=True)
class Rejections:
    """`LoadResult.rejected_fast`'s verdict: truthy when the server answered the excess
    with fast 503s; its repr is the verdict, in one line, with the figures."""

    #: Requests in the run, and how many of them got a 503.
    count: int
    rejected: int
    #: The 503s' p99 (NaN without any), and the bound it is held to, in seconds.
    p99: float
    limit: float
    #: Requests that got no response, by kind; and other 5xx statuses: (status, count).
    errors: tuple[tuple[str, int], ...]
    server_errors: tuple[tuple[int, int], ...]

    @property
    def failures(self) -> list[str]:
        """Why the server did not reject fast, one clause a reason; empty when it did."""
        reasons = []
        if not self.rejected:
            reasons.append(
                f"no request was rejected (0 of {self.count} answered 503): the load never went over "
                "the limit; send more concurrent requests than --limit-concurrency"
            )
        elif self.p99 > self.limit:
            reasons.append(
                f"the 503s were slow: p99 {format_ms(self.p99)} > {format_ms(self.limit)} "
                f"({self.rejected} of {self.count} answered 503)"
            )
        if self.errors:
            reasons.append(f"{sum(n for _, n in self.errors)} of {self.count} got no response ({_counts(self.errors)})")
        if self.server_errors:
            reasons.append(
                f"{sum(n for _, n in self.server_errors)} of {self.count} answered another 5xx "
                f"({_counts(self.server_errors)})"
            )
        return reasons

    def __bool__(self) -> bool:
        return not self.failures

    def __repr__(self) -> str:
        failures = self.failures
        if failures:
            return f"<rejected_fast FAILED: {'; '.join(failures)}>"
        return (
            f"<rejected_fast: {self.rejected} of {self.count} answered 503, p99 {format_ms(self.p99)} "
            f"<= {format_ms(self.limit)}; every request got a response, none another 5xx>"
        )

    __str__ = __repr__


def _counts(pairs: tuple[tuple[object, int], ...]) -> str:
    return ", ".join(f"{key}: {n}" for key, n in pairs)


# --- the shape of a run, from keywords --------------------------------------------------------

SHAPE_KEYWORDS = ("concurrency", "requests", "duration", "rate", "warmup", "timeout")
#: Passed to `httpx.AsyncClient.build_request`.
REQUEST_KEYWORDS = ("headers", "params", "json", "content", "data", "cookies")


def parse_shape(**keywords: Any) -> tuple[LoadShape, dict[str, Any]]:
    """The run's shape, and the keywords that describe its request; LoadUsageError names
    what does not make sense."""
    for name in keywords:
        if name not in SHAPE_KEYWORDS and name not in REQUEST_KEYWORDS:
            raise LoadUsageError(
                f"asyncsafe_load: unknown keyword {name!r} (shape: {', '.join(SHAPE_KEYWORDS)}; "
                f"request: {', '.join(REQUEST_KEYWORDS)})"
            )
    request = {name: value for name, value in keywords.items() if name in REQUEST_KEYWORDS}
    rate = _rate(keywords["rate"]) if keywords.get("rate") is not None else None
    default_concurrency = OPEN_LOOP_CONCURRENCY if rate is not None else 1
    concurrency = _count(keywords.get("concurrency", default_concurrency), "concurrency", MAX_CONCURRENCY)
    requests = _count(keywords["requests"], "requests", MAX_REQUESTS) if keywords.get("requests") is not None else None
    duration = _seconds(keywords["duration"], "duration") if keywords.get("duration") is not None else None
    timeout = _seconds(keywords.get("timeout", LoadShape.timeout), "timeout")
    warmup = _warmup(keywords.get("warmup", 0))
    if rate is not None:
        if requests is not None:
            raise LoadUsageError(
                "asyncsafe_load: requests= and rate= do not go together: "
                "an open-loop run sends rate x duration requests"
            )
        if duration is None:
            raise LoadUsageError("asyncsafe_load: rate= needs duration= (how long to keep the rate up, e.g. '2s')")
        if _scheduled(rate, duration) > MAX_REQUESTS:
            raise LoadUsageError(
                f"asyncsafe_load: rate= x duration= is {_scheduled(rate, duration)} requests, "
                f"over the limit of {MAX_REQUESTS}"
            )
    elif requests is None and duration is None:
        raise LoadUsageError("asyncsafe_load: give requests= or duration=, e.g. requests=1000 or duration='2s'")
    elif requests is not None and duration is not None:
        raise LoadUsageError("asyncsafe_load: give requests= or duration=, not both")
    shape = LoadShape(concurrency, requests, duration, rate, warmup, timeout)
    return shape, request


def _count(value: object, name: str, limit: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise LoadUsageError(f"asyncsafe_load: {name}= must be a whole number, got {value!r}")
    if value < 1:
        raise LoadUsageError(f"asyncsafe_load: {name}= must be at least 1, got {value}")
    if value > limit:
        raise LoadUsageError(f"asyncsafe_load: {name}= is over the limit of {limit}, got {value}")
    return value


def _seconds(value: object, name: str) -> float:
    seconds = _duration(value, name)
    if seconds <= 0:
        raise LoadUsageError(f"asyncsafe_load: {name}= must be more than 0, got {value!r}")
    return seconds


def _duration(value: object, name: str) -> float:
    try:
        seconds = parse_duration(value, name)  # type: ignore[arg-type]
    except ValueError:
        raise LoadUsageError(
            f"asyncsafe_load: {name}= must be a duration such as '250ms', '2s' or 1.5 (seconds), got {value!r}"
        ) from None
    if seconds > MAX_DURATION:
        raise LoadUsageError(f"asyncsafe_load: {name}= is over the limit of {MAX_DURATION:g}s, got {value!r}")
    return seconds


def _rate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise LoadUsageError(f"asyncsafe_load: rate= must be a number of requests a second above 0, got {value!r}")
    return float(value)


def _warmup(value: object) -> int | float:
    """Requests (a whole number), or seconds (a duration: '500ms', 0.5); 0 for none."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise LoadUsageError(f"asyncsafe_load: warmup= cannot be negative, got {value}")
        if value > MAX_REQUESTS:
            raise LoadUsageError(f"asyncsafe_load: warmup= is over the limit of {MAX_REQUESTS}, got {value}")
        return value
    return _duration(value, "warmup")


def _scheduled(rate: float, seconds: float) -> int:
    return max(1, round(rate * seconds))


# --- the runner the fixture returns ---------------------------------------------------------

#: Where the generator sends load: this machine only, whatever base URL it is given.
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


#: Where each worker's loop of the server under load stands now (see `saturation`).
Readings = Callable[[], Mapping[int, LoopReading]]


class LoadTarget(Protocol):
    """A server to load: where it listens, and how to read its loops."""

    @property
    def base_url(self) -> str: ...

    def loop_readings(self) -> Mapping[int, LoopReading]: ...


class LoadRunner:
    """Sends load to the server at `base_url` and returns what each run measured.

    `get`, `post` and `request` replay one request; `scenario` runs a coroutine function
    of an `httpx.AsyncClient`.  Every completed run goes to `on_result` first (valid or
    not); then an invalid one raises `InvalidLoadRun`.  With `readings`, each run
    measures how saturated the server's workers were (`LoadResult.saturation`).
    """

    def __init__(
        self,
        base_url: str,
        on_result: Callable[[LoadResult], None] | None = None,
        readings: Readings | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme != "http" or url.host not in LOOPBACK or url.port is None:
            raise LoadUsageError(f"asyncsafe_load: loads http://127.0.0.1:PORT servers only, got {base_url!r}")
        self.base_url = base_url
        self._url = url
        self._on_result = on_result
        #: Without a way to read the server's loops, each reading is empty: no saturation.
        self._readings: Readings = readings if readings is not None else dict

    def on(self, server: LoadTarget) -> LoadRunner:
        """The same runner, loading `server` instead."""
        return LoadRunner(server.base_url, self._on_result, server.loop_readings)

    def get(self, path: str, **keywords: Any) -> LoadResult:
        __tracebackhide__ = True  # a usage error or a missed budget points at the test
        return self.request("GET", path, **keywords)

    def post(self, path: str, **keywords: Any) -> LoadResult:
        __tracebackhide__ = True
        return self.request("POST", path, **keywords)

    def request(self, method: str, path: str, **keywords: Any) -> LoadResult:
        """Send `method path` under the load `keywords` describe (see `parse_shape`), with
        the request keywords of `httpx.AsyncClient.request`: headers, params, json..."""
        __tracebackhide__ = True
        shape, options = parse_shape(**keywords)
        # Built once, by a client, as any httpx user would see it built: base URL, default
        # headers, params, cookies, encoded json.  (It never sends: its transport is only
        # there so that it opens no other.)
        builder = httpx.AsyncClient(base_url=self.base_url, timeout=shape.timeout, transport=LeanTransport(self._url))
        request = builder.build_request(method, path, **options)
        url = request.url
        if (url.scheme, url.host, url.port) != (self._url.scheme, self._url.host, self._url.port):
            raise LoadUsageError(f"asyncsafe_load: {path!r} is not on the server under load ({self.base_url})")
        target = f"{request.method} {request.url.raw_path.decode('ascii')}"
        replay = _Replay(request, self._url, shape.concurrency)
        return self._deliver(_run_on_own_loop(lambda: _run(replay, shape, target, self._readings)))

    def scenario(self, scenario: Callable[[httpx.AsyncClient], Awaitable[object]], **keywords: Any) -> LoadResult:
        """Run `await scenario(client)` under the load `keywords` describe: each call is
        one iteration (`requests`, `rate` and a whole-number `warmup` count iterations),
        each request it sends one latency.  `client` is bound to the server and is one
        connection: it sends one request at a time; its cookies last one iteration.

        A request that fails (no response) is counted in `errors`, and may end its
        iteration; any other exception ends the run and is raised."""
        __tracebackhide__ = True
        shape, options = parse_shape(**keywords)
        if options:
            raise LoadUsageError(
                f"asyncsafe_load: scenario() takes shape keywords only; pass {next(iter(options))}= "
                "to the requests in the scenario"
            )
        target = f"scenario {getattr(scenario, '__qualname__', repr(scenario))}"
        flow = _Scenario(scenario, self._url, shape)
        return self._deliver(_run_on_own_loop(lambda: _run(flow, shape, target, self._readings)))

    def _deliver(self, result: LoadResult) -> LoadResult:
        __tracebackhide__ = True
        if self._on_result is not None:
            self._on_result(result)
        if result.invalid is not None:
            raise InvalidLoadRun(f"{result.target}: {result.invalid}")
        return result


# --- its own loop, in its own thread --------------------------------------------------------

T = TypeVar("T")


def _run_on_own_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`main()`'s result, run on a new event loop in a thread of its own: the caller may
    be a sync test, or an async one whose loop must not carry the load.  The loop, its
    connections and the thread are gone when it returns."""
    outcome: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        try:
            with asyncio.Runner(loop_factory=_new_loop) as runner:
                result = runner.run(main())
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread, raised there
            outcome.set_exception(error)
        else:
            outcome.set_result(result)

    thread = threading.Thread(target=run, name="asyncsafe-load", daemon=True)
    thread.start()
    thread.join()
    return outcome.result()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# --- what the workers send ------------------------------------------------------------------

#: Sends one request (a replay) or runs one iteration (a scenario), tallying what it
#: measures; the argument is when it was due in an open loop (see `_OpenLoop._work`),
#: else None.
Unit = Callable[[float | None], Awaitable[None]]


class _Tally:
    """What the workers of one phase (the warm-up, or the counted part) measured."""

    def __init__(self) -> None:
        self.latencies = Latencies()
        self.rejected_latencies = Latencies()
        self.status_counts: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        #: Open loop: how long each request waited for a connection once due, and how late
        #: it left for the generator's own reasons (the rest of its lateness).
        self.connection_waits = array("d")
        self.schedule_lags = array("d")
        #: Open loop: how long it handed out requests, and the seconds connections spent
        #: idle meanwhile, all added up.
        self.dispatching = 0.0
        self.idle = 0.0
        self.scheduled = 0
        #: Scheduled requests never sent: the run's end came first...
        self.dropped = 0
        #: ... while the scheduler waited for a connection (else it was behind itself).
        self.cut_off_waiting = False
        #: The start of the latency of each request awaiting its answer, by connection
        #: (one request at a time on each).
        self.waiting: dict[int, float] = {}
        #: How long each request unanswered when the phase was cut off had waited.
        self.unfinished: list[float] = []

    def sending(self, connection: int, due: float | None) -> None:
        sent = time.perf_counter()
        # From when it was due, or from the send when the worker woke early for it.
        self.waiting[connection] = sent if due is None or sent < due else due

    def responded(self, connection: int, status: int) -> None:
        latency = time.perf_counter() - self.waiting.pop(connection)
        self.latencies.add(latency)
        self.status_counts[status] += 1
        if status == REJECTED:
            self.rejected_latencies.add(latency)

    def failed(self, connection: int, error: httpx.TransportError) -> None:
        del self.waiting[connection]
        if isinstance(error, httpx.UnsupportedProtocol):
            # Not the server failing: a request the generator cannot send at all.
            raise LoadUsageError(f"asyncsafe_load: {error}") from error
        self.errors[_error_kind(error)] += 1

    def cut_off(self) -> None:
        """The phase is over: the requests still awaiting an answer are unfinished, and
        their waits so far enter the latencies (lower bounds of theirs)."""
        now = time.perf_counter()
        waits = sorted((now - start for start in self.waiting.values()), reverse=True)
        self.waiting.clear()
        self.unfinished.extend(waits)
        for wait in waits:
            self.latencies.add(wait)


def _error_kind(error: httpx.TransportError) -> str:
    """How `LoadResult.errors` counts a request that got no response."""
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.ConnectError):
        return "connect"
    if isinstance(error, httpx.ReadError):
        return "read"
    if isinstance(error, httpx.WriteError):
        return "write"
    if isinstance(error, httpx.ProtocolError):
        return "protocol"
    return "other"


class _Replay:
    """One prebuilt request, sent again and again, over one transport per connection."""

    def __init__(self, request: httpx.Request, origin: httpx.URL, concurrency: int) -> None:
        self.request = request
        self.concurrency = concurrency
        self.transports = [LeanTransport(origin) for _ in range(concurrency)]

    def unit(self, connection: int, tally: _Tally) -> Unit:
        transport, request = self.transports[connection], self.request

        async def send(due: float | None) -> None:
            tally.sending(connection, due)
            try:
                response = await transport.handle_async_request(request)
                await response.aread()
            except httpx.TransportError as error:
                tally.failed(connection, error)
                return
            tally.responded(connection, response.status_code)

        return send

    async def open(self, timeout: float) -> None:
        await _open(self.transports, timeout)

    async def aclose(self) -> None:
        for transport in self.transports:
            await transport.aclose()


async def _open(transports: list[LeanTransport], timeout: float) -> None:
    """Connect every transport at once.  One that cannot is left to its first request,
    which connects again, and whose failure is counted."""
    outcomes = await asyncio.gather(*(transport.open(timeout) for transport in transports), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, httpx.TransportError):
            raise outcome


class _TimedTransport(httpx.AsyncBaseTransport):
    """A scenario's transport: tallies each request the client sends through it."""

    def __init__(self, inner: LeanTransport, connection: int) -> None:
        self.inner = inner
        self.connection = connection
        self.tally = _Tally()  # each phase gives its own
        #: The scheduled start of the iteration (open loop): its first request counts from it.
        self.due: float | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        due, self.due = self.due, None
        self.tally.sending(self.connection, due)
        try:
            # The body comes whole with the response: its return is the request's end.
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError as error:
            self.tally.failed(self.connection, error)
            raise
        self.tally.responded(self.connection, response.status_code)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Scenario:
    """A coroutine function of a client, called again and again, one client per connection."""

    def __init__(
        self, scenario: Callable[[httpx.AsyncClient], Awaitable[object]], origin: httpx.URL, shape: LoadShape
    ) -> None:
        self.scenario = scenario
        self.concurrency = shape.concurrency
        self.clients: list[tuple[httpx.AsyncClient, _TimedTransport]] = []
        for connection in range(shape.concurrency):
            transport = _TimedTransport(LeanTransport(origin), connection)
            client = httpx.AsyncClient(base_url=origin, transport=transport, timeout=shape.timeout)
            self.clients.append((client, transport))

    def unit(self, connection: int, tally: _Tally) -> Unit:
        client, transport = self.clients[connection]
        transport.tally = tally
        scenario = self.scenario

        async def iterate(due: float | None) -> None:
            transport.due = due
            client.cookies.clear()
            try:
                await scenario(client)
            except (httpx.TransportError, httpx.HTTPStatusError):
                pass  # the request's outcome, counted as it came back

        return iterate

    async def open(self, timeout: float) -> None:
        await _open([transport.inner for _, transport in self.clients], timeout)

    async def aclose(self) -> None:
        for client, _ in self.clients:
            await client.aclose()


class _Load(Protocol):
    concurrency: int

    def unit(self, connection: int, tally: _Tally) -> Unit: ...

    async def open(self, timeout: float) -> None: ...

    async def aclose(self) -> None: ...


# --- a run: an optional warm-up, then the counted part --------------------------------------

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
#: their latencies do not count that delay (see `_OpenLoop`).
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
#: An open-loop request may leave this much before its time: the loop's timers round to
#: whole milliseconds, and a latency counts from the earlier of the two anyway.
EARLY = 0.0005
#: An open-loop run sends nothing this long after its last scheduled start: requests
#: not sent by then (long behind, after a server stall at the end, or a rate far beyond
#: the connections) are dropped, and make the run invalid.
END_GRACE = 1.0
#: Once a run's time is up, the requests in flight get twice the run's p99 to finish, at
#: least this long, and at most twice the request timeout (connecting, then reading: a
#: request has failed by then).  A request slower than that is in the run's tail by the
#: run's own measure: waiting longer for it would stretch the run past what was asked,
#: and a healthy slow route still has its last requests answered.  See `_settle`.
ANSWER_GRACE = 1.0


async def _run(load: _Load, shape: LoadShape, target: str, readings: Readings) -> LoadResult:
    try:
        await load.open(shape.timeout)
        if shape.warmup:
            await _phase(load, shape, _warmup_amount(shape), _Tally())
        tally = _Tally()
        lags = array("d")
        # Out of the collector's sight: everything that exists now (the pytest process's
        # whole heap) is not walked again by a full collection in the middle of the run.
        gc.freeze()
        watching = asyncio.create_task(_watch_loop(lags))
        cpu = time.thread_time()
        before = readings()
        try:
            started, finished = await _phase(load, shape, _counted_amount(shape), tally)
        finally:
            watching.cancel()
            gc.unfreeze()
        saturation = between(before, readings())
        cpu = time.thread_time() - cpu
    finally:
        await load.aclose()
    elapsed = finished - started
    health = {"cpu_share": cpu / elapsed if elapsed > 0 else 0.0}
    samples = {"loop_lag_p99": lags}
    if shape.open_loop:
        samples.update(schedule_lag_p99=tally.schedule_lags, connection_wait_p99=tally.connection_waits)
        available = shape.concurrency * tally.dispatching
        health["connections_busy"] = 1 - tally.idle / available if available > 0 else 0.0
        health["dropped"] = float(tally.dropped)
    health.update({name: _p99(values) for name, values in samples.items() if values})
    return LoadResult(
        target=target,
        shape=shape,
        latencies=tally.latencies,
        status_counts=tally.status_counts,
        errors=tally.errors,
        elapsed=elapsed,
        started=started,
        finished=finished,
        invalid=_verdict(shape, tally, lags, health),
        health=health,
        rejected_latencies=tally.rejected_latencies,
        saturation=saturation,
        unfinished=tally.unfinished,
    )


def _warmup_amount(shape: LoadShape) -> tuple[int, float]:
    """(requests, seconds) of the warm-up: at most this many, for at most this long."""
    if isinstance(shape.warmup, int):
        return shape.warmup, MAX_DURATION
    if shape.rate is not None:
        return _scheduled(shape.rate, shape.warmup), MAX_DURATION
    return MAX_REQUESTS, shape.warmup


def _counted_amount(shape: LoadShape) -> tuple[int, float]:
    if shape.rate is not None:
        assert shape.duration is not None
        return _scheduled(shape.rate, shape.duration), MAX_DURATION
    if shape.requests is not None:
        return shape.requests, MAX_DURATION  # a server too slow for them still ends the run
    assert shape.duration is not None
    return MAX_REQUESTS, shape.duration


async def _watch_loop(lags: array[float]) -> None:
    """How late the loop wakes a sleeper: what a response waits before it is read."""
    while True:
        slept = time.perf_counter()
        await asyncio.sleep(LAG_INTERVAL)
        lags.append(max(0.0, time.perf_counter() - slept - LAG_INTERVAL))


async def _phase(load: _Load, shape: LoadShape, amount: tuple[int, float], tally: _Tally) -> tuple[float, float]:
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
        open_loop = _OpenLoop(units, rate, requests, tally)

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


class _OpenLoop:
    """Starts request i at `start + i / rate` on an idle connection: each connection has
    a worker, and the scheduler hands a due request to the one idle the latest (so that
    a slow rate keeps to a few warm connections)."""

    def __init__(self, units: list[Unit], rate: float, requests: int, tally: _Tally) -> None:
        self._rate = rate
        self._requests = requests
        self._tally = tally
        #: The idle workers, each with its assignment to come (the request's scheduled
        #: start, and how long it waited for a connection) and since when it is idle.
        self._idle: list[tuple[asyncio.Future[tuple[float, float] | None], float]] = []
        #: What the scheduler awaits when no worker is idle: one coming back, or the cutoff.
        self._freed: asyncio.Future[None] | None = None
        self._closing = False
        self.started = time.monotonic()
        self.workers = [asyncio.create_task(self._work(unit)) for unit in units]

    async def _work(self, unit: Unit) -> None:
        loop = asyncio.get_running_loop()
        while not self._closing:
            assignment: asyncio.Future[tuple[float, float] | None] = loop.create_future()
            self._idle.append((assignment, time.perf_counter()))
            self._wake_scheduler()
            given = await assignment
            if given is None:
                return
            due, held = given
            own = max(0.0, time.perf_counter() - due - held)
            self._tally.schedule_lags.append(own)
            # Its latency counts from when it was due, waits for a connection included (the
            # server held them all: its doing), but not the generator's own lateness: a host
            # that stops the generator a while must not make the server look slow.  That
            # lateness is checked apart.
            await unit(due + own)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # the workers go idle
        tally = self._tally
        tally.scheduled = self._requests
        self.started = time.monotonic()
        start = time.perf_counter()
        cutoff = start + self._requests / self._rate + END_GRACE
        # At the cutoff, a scheduler waiting for a connection stops waiting.  One timer
        # for the run, not one a wait: a scheduler short of connections waits before
        # each request, and must not spend its CPU on timers.
        timer = loop.call_later(cutoff - start, self._wake_scheduler)
        # When the scheduler last got a connection it had to wait for: a request due
        # before then was held back by the lack of one (waiting itself, or queued behind
        # those that waited), not by the scheduler.
        shortage_ended = -math.inf
        sent = 0
        while sent < self._requests:
            due = start + sent / self._rate
            now = time.perf_counter()
            if now > cutoff:
                tally.cut_off_waiting = due <= shortage_ended
                break
            if due - now > EARLY:
                await asyncio.sleep(due - now - EARLY)
            if not self._idle:
                self._freed = loop.create_future()
                await self._freed
                if not self._idle:  # woken by the cutoff
                    tally.cut_off_waiting = True
                    break
                shortage_ended = time.perf_counter()
            assignment, idle_since = self._idle.pop()
            now = time.perf_counter()
            tally.idle += now - idle_since
            held = now - due if due <= shortage_ended and now > due else 0.0
            tally.connection_waits.append(held)
            assignment.set_result((due, held))
            sent += 1
        timer.cancel()
        tally.dropped = self._requests - sent
        self._closing = True
        now = time.perf_counter()
        tally.dispatching = now - start
        for assignment, idle_since in self._idle:
            tally.idle += now - idle_since
            assignment.set_result(None)
        self._idle.clear()

    def _wake_scheduler(self) -> None:
        if self._freed is not None and not self._freed.done():
            self._freed.set_result(None)


async def _settle(
    tasks: list[asyncio.Task[None]], time_up: asyncio.Future[None], tally: _Tally, timeout: float
) -> None:
    """Wait for `tasks`.  Once `time_up`, the requests in flight get a grace to finish
    (`_grace`); then the phase is cut off: the requests still unanswered are tallied
    unfinished, and the tasks cancelled.  Every kind of run ends here: a `requests=` run
    whose requests are all answered (or failed) before its hard limit has none.  The
    first task to fail cancels the others, and its exception is raised."""

    async def cut_off() -> None:
        await time_up
        since = time.perf_counter()
        # A run is usually over by then: only one still waiting sorts its latencies for `_grace`.
        await asyncio.sleep(min(ANSWER_GRACE, 2 * timeout))
        await asyncio.sleep(max(0.0, since + _grace(tally, timeout) - time.perf_counter()))
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


def _grace(tally: _Tally, timeout: float) -> float:
    """How long after its time is up a phase waits for its requests in flight: see
    `ANSWER_GRACE`."""
    p99 = tally.latencies.percentile(99)
    slow = 0.0 if math.isnan(p99) else 2 * p99
    return min(max(ANSWER_GRACE, slow), 2 * timeout)


# --- was the generator the bottleneck? ------------------------------------------------------


def _verdict(shape: LoadShape, tally: _Tally, loop_lags: array[float], health: dict[str, float]) -> str | None:
    """Why the run describes the generator rather than the server, if it does."""
    lag_limit = max(LOOP_LAG_LIMIT, LOOP_LAG_SHARE * tally.latencies.percentile(50))
    if _over(loop_lags, lag_limit):
        return f"the generator's own event loop lagged: p99 {format_ms(_p99(loop_lags))} (limit {format_ms(lag_limit)})"
    if not shape.open_loop:
        return None
    waits, lags = tally.connection_waits, tally.schedule_lags
    waited, lagged = _over(waits, CONNECTION_WAIT_LIMIT), _over(lags, SCHEDULE_LAG_LIMIT, percentile=90)
    if not (waited or lagged or tally.dropped):
        return None
    # The checks' arrays are never empty here: the first request is always sent.
    unsent = f"{tally.dropped} of {tally.scheduled} scheduled requests were never sent; " if tally.dropped else ""
    late = f"p99 lag {format_ms(_p99(lags))}, p99 wait for a connection {format_ms(_p99(waits))} (limit {format_ms(SCHEDULE_LAG_LIMIT)})"
    cpu, busy = health["cpu_share"], health["connections_busy"]
    if cpu > CPU_LIMIT:
        return (
            f"the generator was saturated ({cpu:.0%} of a core) and fell behind its open-loop schedule: {unsent}{late}"
        )
    if (waited or tally.cut_off_waiting) and busy > CONNECTIONS_BUSY_LIMIT:
        share = _count_over(waits, CONNECTION_WAIT_LIMIT) / len(waits)
        return (
            f"ran out of connections: {unsent}with concurrency={shape.concurrency}, none was idle {busy:.0%} of "
            f"the run, and {share:.0%} of requests waited for one (p99 {format_ms(_p99(waits))}, limit "
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


def _p99(samples: array[float]) -> float:
    return _percentile(samples, 99)


def _percentile(samples: array[float], percentile: float) -> float:
    return Latencies(samples).percentile(percentile)
