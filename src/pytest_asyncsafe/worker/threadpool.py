"""The worker's end of `threadpool`: AnyIO's default thread limiter, made to count.

The limiter is the loop's own (`anyio.to_thread.current_default_thread_limiter()`, the
one `def` routes, sync dependencies and `run_in_threadpool` share): `install` takes it
from inside the loop and turns it into a `MeasuredLimiter`, the same object with a
subclass that adds no state - so an app that raises its `total_tokens`, before or
after, raises this one.  Every token taken and every wait for one adds to the counts in
the worker's state file, which the pytest process reads; the first wait of a pool run
dry is reported with the requests holding its threads.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread
from anyio._backends._asyncio import CapacityLimiter as AsyncioLimiter

from pytest_asyncsafe.saturation import lag_bucket
from pytest_asyncsafe.threadpool import COUNT_BUCKETS, FIELDS

_TOTAL, _IN_USE, _WAITING = range(FIELDS)
_TAKEN = FIELDS
_QUEUED = _TAKEN + COUNT_BUCKETS
_WAITS = _QUEUED + COUNT_BUCKETS
#: A limiter with no bound (`math.inf` tokens) is counted as this many.
_UNBOUNDED = 2**62
#: A pool that runs dry again and again is reported once a second at most.
REPORT_EVERY = 1.0

#: The request the running code serves, as (method, path); None outside a request.
Serving = Callable[[], tuple[str, str] | None]
#: Told the pool's size and its holders ([method, path, threads], most first) when it runs dry.
Exhausted = Callable[[int, list[list[object]]], None]


@dataclass
class _Watch:
    counts: memoryview
    serving: Serving
    exhausted: Exhausted
    #: The request each borrower (a task) took its thread for.
    holders: dict[object, tuple[str, str]] = field(default_factory=dict)
    reported: float = 0.0


#: Set by `install`, once, in the loop's thread: the only one that touches it.
_watch: _Watch | None = None


class MeasuredLimiter(AsyncioLimiter):
    """AnyIO's asyncio limiter, counting what it does."""

    __slots__ = ()

    async def acquire_on_behalf_of(self, borrower: object) -> None:
        watch = _watch
        assert watch is not None
        counts = watch.counts
        if self.available_tokens >= 1 and not counts[_WAITING]:
            # A token is taken at once, but the call then lets other tasks run: its holder
            # is known from now, or a pool running dry meanwhile would not count it.
            self._hold(watch, borrower)
            try:
                await super().acquire_on_behalf_of(borrower)
            except BaseException:
                watch.holders.pop(borrower, None)
                raise
            self._taken(watch, 0.0)
            return
        # Every token is taken, or others wait already: this task waits its turn.
        if not counts[_WAITING]:
            self._ran_dry(watch)
        counts[_WAITING] += 1
        counts[_QUEUED + min(counts[_WAITING], COUNT_BUCKETS - 1)] += 1
        started = time.monotonic()
        try:
            await super().acquire_on_behalf_of(borrower)
        finally:
            counts[_WAITING] -= 1
        self._hold(watch, borrower)
        self._taken(watch, time.monotonic() - started)

    def release_on_behalf_of(self, borrower: object) -> None:
        super().release_on_behalf_of(borrower)
        if _watch is not None:
            _watch.holders.pop(borrower, None)
            _watch.counts[_IN_USE] = self.borrowed_tokens

    @staticmethod
    def _hold(watch: _Watch, borrower: object) -> None:
        request = watch.serving()
        if request is not None:
            watch.holders[borrower] = request

    def _taken(self, watch: _Watch, waited: float) -> None:
        counts = watch.counts
        in_use = self.borrowed_tokens
        counts[_TOTAL] = _size(self)
        counts[_IN_USE] = in_use
        counts[_TAKEN + min(in_use, COUNT_BUCKETS - 1)] += 1
        counts[_WAITS + lag_bucket(waited)] += 1

    def _ran_dry(self, watch: _Watch) -> None:
        now = time.monotonic()
        if now - watch.reported < REPORT_EVERY:
            return
        watch.reported = now
        held = Counter(watch.holders.values()).most_common()
        watch.exhausted(_size(self), [[method, path, n] for (method, path), n in held])


def install(counts: memoryview, serving: Serving, exhausted: Exhausted) -> None:
    """Count the running loop's default thread limiter into `counts`, and tell `exhausted`
    when it runs dry.  Called in a task on the loop, once; a limiter that is not AnyIO's
    own is left alone (uncounted)."""
    global _watch
    limiter = anyio.to_thread.current_default_thread_limiter()
    if type(limiter) is AsyncioLimiter:
        _watch = _Watch(counts, serving, exhausted)
        counts[_TOTAL] = _size(limiter)
        limiter.__class__ = MeasuredLimiter


def _size(limiter: AsyncioLimiter) -> int:
    """The limiter's tokens in all, a whole number even when it has no bound."""
    return int(min(limiter.total_tokens, _UNBOUNDED))
