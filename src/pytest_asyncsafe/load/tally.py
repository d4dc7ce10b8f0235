"""The tally of one phase of a run (the warm-up, or the counted part): what its workers
measured, request by request (each latency from its send, or from its scheduled start in
an open loop; the statuses; the failures, by kind), the open loop's own lateness and
waits for a connection, and the requests still unanswered when the phase was cut off."""

from __future__ import annotations

import time
from array import array
from collections import Counter

import httpx

from pytest_asyncsafe.load.result import REJECTED
from pytest_asyncsafe.load.shape import LoadUsageError
from pytest_asyncsafe.stats import Latencies


class Tally:
    """What the workers of one phase (the warm-up, or the counted part) measured."""

    def __init__(self) -> None:
        self.latencies = Latencies()
        #: When each latency began (`time.perf_counter()`), in the same order: the HTML
        #: report draws latency over time from them (8 bytes a request, as the latencies).
        self.starts = array("d")
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
        start = self.waiting.pop(connection)
        latency = time.perf_counter() - start
        self.latencies.add(latency)
        self.starts.append(start)
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
        starts = sorted(self.waiting.values())  # the longest wait first
        self.waiting.clear()
        for start in starts:
            self.unfinished.append(now - start)
            self.latencies.add(now - start)
            self.starts.append(start)


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
