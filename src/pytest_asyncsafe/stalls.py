"""Loop stalls: what the workers reported, which test they belong to, and how they read."""

from __future__ import annotations

import functools
import itertools
import linecache
import math
import os
import sysconfig
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncsafe_lint.untrusted import printable
from pytest_asyncsafe.durations import format_duration
from pytest_asyncsafe.events import SampleTaken, StallOver

#: Where code that is not the user's own lives: the stdlib, installed packages, this plugin.
_NOT_USER = tuple(
    {str(Path(sysconfig.get_path(name)).resolve()) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
) + (str(Path(__file__).resolve().parent),)


@functools.cache
def _is_user(file: str) -> bool:
    return not file.startswith("<") and not str(Path(file).resolve()).startswith(_NOT_USER)


@dataclass(frozen=True, slots=True)
class Frame:
    file: str
    line: int
    function: str

    @property
    def user(self) -> bool:
        return _is_user(self.file)

    @property
    def source(self) -> str:
        """The line's source, stripped, as the file has it: what the JSON report keeps."""
        return linecache.getline(self.file, self.line).strip()

    @property
    def code(self) -> str:
        """The line's source as reports print it: a string in it may hold control
        characters, a comment bidirectional overrides."""
        return printable(self.source)

    def place(self, root: Path) -> str:
        """`path:line in function`, the path relative to `root` when it is under it, as
        the JSON report keeps it."""
        try:
            shown = os.path.relpath(self.file, root) if os.path.isabs(self.file) else self.file
        except ValueError:
            shown = self.file
        return f"{self.file if shown.startswith('..') else shown}:{self.line} in {self.function}"

    def location(self, root: Path) -> str:
        """`place` as reports print it: a file name may hold anything."""
        return printable(self.place(root))


Stack = tuple[Frame, ...]


def _stack(places: Iterable[Sequence[Any]]) -> Stack:
    return tuple(Frame(file, line, function) for file, line, function in places)


@dataclass(frozen=True, slots=True)
class Task:
    """An asyncio task of a worker: its coroutine, where it was created (when the worker
    recorded it) and the chain of awaits it is suspended in, outermost first."""

    coroutine: str
    created: Frame | None
    awaiting: Stack

    @classmethod
    def from_event(cls, fields: dict[str, Any]) -> Task:
        created = fields["created"]
        return cls(fields["coroutine"], Frame(*created) if created else None, _stack(fields["awaiting"]))

    @property
    def waiting_at(self) -> Frame | None:
        """The innermost await in the user's own code, if any."""
        return next((frame for frame in reversed(self.awaiting) if frame.user), None)

    def describe(self, root: Path) -> str:
        where = self.waiting_at
        created = f", created at {self.created.location(root)}" if self.created else ""
        waiting = f", waiting at {where.location(root)}" if where else ""
        return f"{printable(self.coroutine)}(){created}{waiting}"


@dataclass(frozen=True, slots=True)
class Sample:
    """The loop thread's stack at one moment of a stall, the request whose code was
    running, and the worker's tasks."""

    pid: int
    time: float
    stack: Stack
    #: The request whose code the sample caught running (method, path, responded), if any.
    running: dict[str, Any] | None = None
    #: How many requests the worker had in flight.
    in_flight: int = 0
    tasks: tuple[Task, ...] = ()
    #: Which of the loop's callbacks was running, numbered by the worker: two samples in a
    #: row with the same number caught the same callback (0: none was).
    callback: int = 0
    #: The worker's other threads (name, stack), when the sample caught the loop's thread
    #: kept waiting for the GIL (see `worker.monitor._held_off`).
    threads: tuple[tuple[str, Stack], ...] = ()

    @classmethod
    def from_event(cls, event: SampleTaken) -> Sample:
        tasks = tuple(Task.from_event(task) for task in event.tasks)
        threads = tuple((thread["name"], _stack(thread["stack"])) for thread in event.threads)
        return cls(
            event.pid, event.time, _stack(event.stack), event.running, event.in_flight, tasks, event.callback, threads
        )


@dataclass(frozen=True, slots=True)
class Stall:
    pid: int
    start: float
    #: None while the stall is still going on.
    end: float | None
    phase: str
    #: The requests in flight during it: those whose code blocked first (`running`).
    requests: tuple[dict[str, Any], ...]
    samples: tuple[Sample, ...]
    #: How much of it the loop's thread spent waiting for a CPU (a busy machine, not the app).
    descheduled: float = 0.0
    #: How many requests, besides those that blocked, were in flight while it blocked.
    waited: int = 0
    #: When the garbage collector paused the interpreter meanwhile: (start, end) each.
    collecting: tuple[tuple[float, float], ...] = ()

    @classmethod
    def from_event(cls, event: StallOver, samples: Sequence[Sample]) -> Stall:
        start, end = event.start, event.end
        within = _within(samples, start, end)
        collecting = tuple((begun, ended) for begun, ended in event.collecting)
        culprits = _culprits(within, start, end, collecting)
        running = _running(culprits)
        # The worker's own list, made once the stall was over: every request in flight at
        # some time since it began (the one that blocked may have finished meanwhile).
        others = [request for request in event.requests if request["id"] not in {r["id"] for r in running}]
        requests = (*running, *({**request, "running": False} for request in others))
        waited = _waited(culprits, running) if culprits else len(others)
        return cls(event.pid, start, end, event.phase, requests, within, event.descheduled, waited, collecting)

    @classmethod
    def going_on(cls, pid: int, start: float, phase: str, samples: Sequence[Sample], descheduled: float) -> Stall:
        """A stall not over yet, known from outside: its beat is overdue.  `descheduled`:
        how long the loop's thread has waited for a CPU since its last beat."""
        now = time.monotonic()
        within = _within(samples, start, now)
        culprits = _culprits(within, start, now)
        running = _running(culprits)
        return cls(pid, start, None, phase, running, within, descheduled, waited=_waited(culprits, running))

    @property
    def ongoing(self) -> bool:
        return self.end is None

    def blocked(self, threshold: float) -> bool:
        """Whether one callback held the loop for `threshold` or more, rather than many
        short ones in turn (a saturated loop, late for want of capacity: no bug).

        Samples come every few milliseconds while a beat is overdue; a run of them that
        caught the same callback bounds how long it ran: at most from the sample before
        the run to the one after (or the stall's edges).  A callback that blocked for the
        threshold has such a bound of at least the threshold, whichever samples fell in
        it.  Fewer than two samples cannot tell: the stall stands.  No sample can land
        while the garbage collector runs: its pauses are taken out of the bound."""
        run = _longest_run(self.samples, self.start, self._until, self.collecting)
        return run is None or run[0] >= threshold

    @property
    def culprits(self) -> tuple[Sample, ...]:
        """The samples that caught the callback that blocked (all of them when the samples
        cannot tell one callback from another)."""
        return _culprits(self.samples, self.start, self._until, self.collecting)

    @property
    def _until(self) -> float:
        return self.end if self.end is not None else time.monotonic()

    def duration(self, now: float | None = None) -> float:
        """Wall time: how long the loop answered nothing."""
        end = self.end if self.end is not None else (now if now is not None else time.monotonic())
        return end - self.start

    @property
    def collected(self) -> float:
        """How much of it the garbage collector took."""
        return _overlap(self.collecting, self.start, self.end if self.end is not None else math.inf)

    def own_time(self, now: float | None = None) -> float:
        """The part of it the app's code ran or blocked, rather than waited for a CPU or
        for the garbage collector: what a threshold is held against."""
        return max(self.duration(now) - self.descheduled - self.collected, 0.0)

    @property
    def stack(self) -> Stack:
        """The stack seen most often in the callback that blocked, judged by its blocking
        frame: the line that kept the loop busy for most of the stall.  When the loop's
        thread was kept waiting for the GIL instead, outside the user's code, the stack of
        the `thread` that held it."""
        return self._culprit[1]

    @property
    def thread(self) -> str | None:
        """The name of the thread whose code held the loop's thread off the GIL, if one did."""
        return self._culprit[0]

    @property
    def _culprit(self) -> tuple[str | None, Stack]:
        culprits = self.culprits
        loop = _most_seen(sample.stack for sample in culprits)
        frame = _blocking(loop)
        if frame is not None and frame.user:
            return None, loop
        # Only the stacks in the user's code: the others are idle, waiting for work.
        held = [(name, stack) for sample in culprits for name, stack in sample.threads if any(f.user for f in stack)]
        if not held:
            return None, loop
        stack = _most_seen(stack for _, stack in held)
        return next(name for name, seen in held if seen == stack), stack

    @property
    def blocking_frame(self) -> Frame | None:
        return _blocking(self.stack)

    def where(self, root: Path) -> str:
        """Where it blocked, as the reports print it: the line, and whose thread's it
        was when not the loop's."""
        thread, stack = self._culprit
        frame = _blocking(stack)
        if frame is None:
            return "(no stack: GIL held)"
        holding = f" (in thread {printable(repr(thread))}, holding the GIL)" if thread is not None else ""
        return f"{frame.location(root)}{holding}"

    def to_json(self, root: Path, test: str | None) -> dict[str, Any]:
        frame = self.blocking_frame
        return {
            "test": test,
            "pid": self.pid,
            "duration": self.duration(),
            "descheduled": self.descheduled,
            "collected": self.collected,
            "ongoing": self.ongoing,
            "phase": self.phase,
            "requests": [{key: request[key] for key in _REQUEST_KEYS} for request in self.requests],
            "where": frame.place(root) if frame else None,
            "thread": self.thread,
            "samples": len(self.samples),
            "stack": [{"file": f.file, "line": f.line, "function": f.function, "code": f.source} for f in self.stack],
        }


#: What the JSON report says of each request (its id only tells the samples' copies apart).
_REQUEST_KEYS = ("method", "path", "responded", "running")


def _within(samples: Sequence[Sample], start: float, end: float) -> tuple[Sample, ...]:
    return tuple(sample for sample in samples if start <= sample.time <= end)


def _longest_run(
    samples: Sequence[Sample], start: float, end: float, collecting: Sequence[tuple[float, float]]
) -> tuple[float, tuple[Sample, ...]] | None:
    """The run of consecutive samples that caught one callback for the longest, with the
    bound on how long that callback ran: from the sample before the run to the one after
    (the stall's edges at its ends), less the garbage collector's pauses in between.
    (0, ()) when no sample caught any callback; None when fewer than two samples cannot
    tell one callback from another."""
    if len(samples) < 2:
        return None
    times = [start, *(sample.time for sample in samples), end]
    longest: tuple[float, tuple[Sample, ...]] = (0.0, ())
    for callback, run in itertools.groupby(enumerate(samples), key=lambda pair: pair[1].callback):
        indexed = list(run)
        first, last = indexed[0][0], indexed[-1][0]
        bound = times[last + 2] - times[first] - _overlap(collecting, times[first], times[last + 2])
        if callback != 0 and bound > longest[0]:
            longest = (bound, tuple(sample for _, sample in indexed))
    return longest


def _culprits(
    samples: Sequence[Sample], start: float, end: float, collecting: Sequence[tuple[float, float]] = ()
) -> tuple[Sample, ...]:
    run = _longest_run(samples, start, end, collecting)
    return run[1] if run is not None and run[1] else tuple(samples)


def _waited(culprits: Sequence[Sample], running: Sequence[dict[str, Any]]) -> int:
    """How many requests were in flight, besides those that blocked, while it blocked."""
    return max(max((sample.in_flight for sample in culprits), default=0) - len(running), 0)


def _overlap(spans: Iterable[tuple[float, float]], start: float, end: float) -> float:
    """How much of [start, end] the (non-overlapping) `spans` cover."""
    return sum(max(0.0, min(end, span_end) - max(start, span_start)) for span_start, span_end in spans)


def _running(samples: Sequence[Sample]) -> tuple[dict[str, Any], ...]:
    """Each request the samples caught running, once, as first seen: whether its response
    had been sent is told by when it blocked, not by a sample that caught the same
    callback sending the response once the blocking call returned."""
    seen: dict[int, dict[str, Any]] = {}
    for sample in samples:
        if sample.running is not None:
            seen.setdefault(sample.running["id"], {**sample.running, "running": True})
    return tuple(seen.values())


def _most_seen(stacks: Iterable[Stack]) -> Stack:
    """The stack whose blocking frame was seen most often (the latest such stack)."""
    stacks = list(stacks)
    if not stacks:
        return ()
    best = Counter(_blocking(stack) for stack in stacks).most_common(1)[0][0]
    return next(stack for stack in reversed(stacks) if _blocking(stack) == best)


def _blocking(stack: Stack) -> Frame | None:
    """The innermost frame of the user's own code (not the stdlib, not a library)."""
    user = [frame for frame in stack if frame.user]
    return user[-1] if user else (stack[-1] if stack else None)


def during(stalls: Iterable[Stall], start: float, end: float, threshold: float) -> list[Stall]:
    """The stalls that began in [start, end) in which one callback blocked the loop for
    `threshold` or more: a stall belongs to the test it began in, and a saturated loop
    (late from running many short callbacks) is not stalled."""
    return [stall for stall in stalls if start <= stall.start < end and stall.blocked(threshold)]


def request_line(request: Mapping[str, Any]) -> str:
    """`GET /path` of a request a worker reported, as reports print it: the path is the
    client's, decoded (`/%1b` is an ESC)."""
    return printable(f"{request['method']} {request['path']}")


def _serving(stall: Stall) -> list[str]:
    """Whose code blocked, and who waited.  Without a sample, whose it was is unknown:
    every request in flight is named."""
    named = [request for request in stall.requests if request["running"]] if stall.samples else list(stall.requests)
    waited = stall.waited if stall.samples else 0
    lines = [
        f"  while serving: {request_line(request)}"
        + (" (after its response: a background task)" if request["responded"] else "")
        for request in named
    ]
    if not named:
        lines.append("  while serving: no request (startup, or a task of the app's own)")
    if waited:
        lines.append(f"  and {waited} other request{'s' if waited != 1 else ''} waited")
    return lines


def describe(stall: Stall, length: float, threshold: float, root: Path) -> str:
    """The report of one stall, `length` long when it was charged (the loop's own time)."""
    shown = format_duration(length)
    if stall.ongoing:
        shown = f"at least {shown} (still blocked when the test ended)"
    lines = [
        f"asyncsafe: event loop blocked for {shown} in worker pid {stall.pid} (threshold {format_duration(threshold)})"
    ]
    if stall.descheduled >= 0.01:
        lines.append(f"  (and {format_duration(stall.descheduled)} more waiting for a CPU: the machine was busy)")
    if stall.collected >= 0.01:
        lines.append(
            f"  (and {format_duration(stall.collected)} more in the garbage collector: the interpreter's pause)"
        )
    return "\n".join([*lines, *whose(stall, root)])


def whose(stall: Stall, root: Path) -> list[str]:
    """The lines of a report that say whose code blocked, and where."""
    lines = _serving(stall)
    frame = stall.blocking_frame
    if frame is None:
        lines.append(
            "  no stack: the loop could not be interrupted during the stall "
            "(C code holding the GIL, or a stall too short to sample)"
        )
    else:
        lines.append(f"  {stall.where(root)}")
        if frame.code:
            lines.append(f"      {frame.code}")
    return lines
