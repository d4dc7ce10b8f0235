"""What a load run measured: `LoadResult` (its latencies, statuses and failures, the
generator's health and the server's saturation; the percentiles, `assert_budget` and the
table a miss reads as), the verdict of `LoadResult.rejected_fast` (`Rejections`), and
`InvalidLoadRun`, raised for a run that the generator, not the server, held back."""

from __future__ import annotations

import dataclasses
import math
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from asyncsafe_lint.untrusted import printable
from pytest_asyncsafe.budget import Budget, Row, budget_rows
from pytest_asyncsafe.durations import parse_duration
from pytest_asyncsafe.load.shape import LoadShape
from pytest_asyncsafe.readings import unbalanced
from pytest_asyncsafe.saturation import Saturation
from pytest_asyncsafe.stats import Latencies
from pytest_asyncsafe.threadpool import ThreadPool
from pytest_asyncsafe.units import describe_unfinished, format_ms


class InvalidLoadRun(Exception):
    """The generator could not keep up (its own loop lagged, the open-loop schedule fell
    behind, it ran out of connections): its numbers describe itself, not the server."""


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
    #: Each worker's thread pool (AnyIO's default thread limiter) over the run, by pid:
    #: how many threads were in use at most, and how long tasks waited for one.
    threadpool: tuple[ThreadPool, ...] = ()
    #: The requests each worker received during the run, by pid: how the load was shared.
    per_worker: dict[int, int] = field(default_factory=dict)
    #: Requests still unanswered when the run ended (see `engine._settle`): how long each had
    #: waited, in seconds, longest first.  Each counts as a request that failed, and its
    #: wait is in `latencies` too: a lower bound of its latency, so that the percentiles
    #: and the max can be understated by a run's end, never rid of its slowest requests.
    unfinished: list[float] = field(default_factory=list)
    #: When each latency in `latencies` began, in seconds from `started`, in the same
    #: order: its scheduled start in an open loop, its send in a closed one.
    starts: array[float] = field(default_factory=lambda: array("d"))

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
    def threadpool_wait(self) -> float:
        """The longest any task waited for a thread of a worker's pool, in seconds: 0 when
        none did (or none asked for one), NaN when the pools were not read."""
        if not self.threadpool:
            return math.nan
        return max((pool.wait_max for pool in self.threadpool if not math.isnan(pool.wait_max)), default=0.0)

    @property
    def unbalanced(self) -> list[int]:
        """The workers that received twice their share of the run's requests or more (see
        `readings.unbalanced`)."""
        return unbalanced(self.per_worker)

    @property
    def histogram(self) -> list[tuple[float, int]]:
        return self.latencies.histogram()

    def metric(self, name: str) -> float:
        """A metric by its budget name: p50, p90, p95, p99, max, mean, error_rate, rps, threadpool_wait."""
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
            f"<LoadResult {printable(self.target)} {self.count} requests, {self.rps:.0f} rps, "
            f"p50 {format_ms(self.p50)}, p95 {format_ms(self.p95)}, p99 {format_ms(self.p99)}, "
            f"errors {dict(self.errors)}{rejections}{unfinished}>"
        )


def combined(parts: Sequence[LoadResult]) -> LoadResult:
    """One run sent from several generator processes at once, each a share of its rate
    (or its connections), as one result: the counts added up, the latencies of all,
    interleaved by their place in each part's run (each part's are in the order they
    were answered, and the parts ran side by side), and a part's invalidity the whole's."""
    first = parts[0]
    rates = [part.shape.rate for part in parts]
    shape = dataclasses.replace(
        first.shape,
        concurrency=sum(part.shape.concurrency for part in parts),
        rate=sum(rate for rate in rates if rate is not None) if first.shape.open_loop else None,
    )
    started = min(part.started for part in parts)
    placed = sorted(
        (i / len(part.latencies), value, start + part.started - started)
        for part in parts
        for i, (value, start) in enumerate(zip(part.latencies, part.starts, strict=True))
    )
    invalid = [
        f"{part.invalid} (generator process {n} of {len(parts)})" for n, part in enumerate(parts, 1) if part.invalid
    ]
    keys = {key for part in parts for key in part.health}
    return LoadResult(
        target=first.target,
        shape=shape,
        latencies=Latencies(value for _, value, _ in placed),
        starts=array("d", (start for _, _, start in placed)),
        status_counts=sum((part.status_counts for part in parts), Counter()),
        errors=sum((part.errors for part in parts), Counter()),
        # Each part's own clock of its counted part: they ran side by side, not end to end.
        elapsed=max(part.elapsed for part in parts),
        started=started,
        finished=max(part.finished for part in parts),
        invalid=invalid[0] if invalid else None,
        health={key: max(part.health.get(key, 0.0) for part in parts) for key in keys},
        rejected_latencies=Latencies(value for part in parts for value in part.rejected_latencies),
        saturation=next((part.saturation for part in parts if part.saturation), ()),
        threadpool=next((part.threadpool for part in parts if part.threadpool), ()),
        per_worker=next((part.per_worker for part in parts if part.per_worker), {}),
        unfinished=sorted((wait for part in parts for wait in part.unfinished), reverse=True),
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
