"""The open loop's scheduler (`OpenLoop`): it starts request i at `start + i / rate` on
an idle connection, and the request's latency counts from then, so that a server that
stalls cannot hide it by holding the generator back; it tallies its own lateness and
its waits for a connection apart, for the self-checks (`health`)."""

from __future__ import annotations

import asyncio
import math
import time

from pytest_asyncsafe.load.tally import Tally
from pytest_asyncsafe.load.workload import Unit

#: An open-loop request may leave this much before its time: the loop's timers round to
#: whole milliseconds, and a latency counts from the earlier of the two anyway.
EARLY = 0.0005
#: An open-loop run sends nothing this long after its last scheduled start: requests
#: not sent by then (long behind, after a server stall at the end, or a rate far beyond
#: the connections) are dropped, and make the run invalid.
END_GRACE = 1.0


class OpenLoop:
    """Starts request i at `start + i / rate` on an idle connection: each connection has
    a worker, and the scheduler hands a due request to the one idle the latest (so that
    a slow rate keeps to a few warm connections)."""

    def __init__(self, units: list[Unit], rate: float, requests: int, tally: Tally) -> None:
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
