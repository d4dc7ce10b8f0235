"""Loop stalls: what the workers reported, which test they belong to, and how they read."""

from __future__ import annotations

import functools
import itertools
import linecache
import os
import sysconfig
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_asyncsafe.durations import format_duration

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
    def code(self) -> str:
        return linecache.getline(self.file, self.line).strip()

    def location(self, root: Path) -> str:
        try:
            shown = os.path.relpath(self.file, root) if os.path.isabs(self.file) else self.file
        except ValueError:
            shown = self.file
        return f"{self.file if shown.startswith('..') else shown}:{self.line} in {self.function}"


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
        return f"{self.coroutine}(){created}{waiting}"


@dataclass(frozen=True, slots=True)
class Sample:
    """The loop thread's stack at one moment of a stall, what it was serving, and the
    worker's tasks."""

    pid: int
    time: float
    stack: Stack
    requests: tuple[dict[str, Any], ...]
    tasks: tuple[Task, ...] = ()
    #: Which of the loop's callbacks was running, numbered by the worker: two samples in a
    #: row with the same number caught the same callback (0: none was).
    callback: int = 0

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Sample:
        tasks = tuple(Task.from_event(task) for task in event.get("tasks", ()))
        return cls(
            event["pid"], event["time"], _stack(event["stack"]), tuple(event["requests"]), tasks, event["callback"]
        )


@dataclass(frozen=True, slots=True)
class Stall:
    pid: int
    start: float
    #: None while the stall is still going on.
    end: float | None
    phase: str
    requests: tuple[dict[str, Any], ...]
    samples: tuple[Sample, ...]
    #: How much of it the loop's thread spent waiting for a CPU (a busy machine, not the app).
    descheduled: float = 0.0

    @classmethod
    def from_event(cls, event: dict[str, Any], samples: Sequence[Sample]) -> Stall:
        start, end = event["start"], event["end"]
        within = _within(samples, start, end)
        # A sample saw what was in flight during the stall; the worker's own report, made
        # once it was over, can only list what ran at some time since it began.
        requests = _requests_of(within) or tuple(event["requests"])
        return cls(event["pid"], start, end, event["phase"], requests, within, event.get("descheduled", 0.0))

    @classmethod
    def going_on(cls, pid: int, start: float, phase: str, samples: Sequence[Sample]) -> Stall:
        """A stall not over yet, known from outside: its beat is overdue."""
        within = _within(samples, start, time.monotonic())
        return cls(pid, start, None, phase, _requests_of(within), within)

    @property
    def ongoing(self) -> bool:
        return self.end is None

    @property
    def saturated(self) -> bool:
        """Whether the loop was late because it ran many callbacks in turn, not one for
        long: no two samples in a row caught the same callback running.  A callback that
        blocks for the threshold spans at least two of the samples, taken every quarter
        of the threshold from half of it on; one sample alone proves nothing, and the
        stall stands."""
        return len(self.samples) >= 2 and not any(
            earlier.callback != 0 and earlier.callback == later.callback
            for earlier, later in itertools.pairwise(self.samples)
        )

    def duration(self, now: float | None = None) -> float:
        """Wall time: how long the loop answered nothing."""
        end = self.end if self.end is not None else (now if now is not None else time.monotonic())
        return end - self.start

    def own_time(self, now: float | None = None) -> float:
        """The part of it the loop's thread ran or blocked, rather than waited for a CPU:
        what a threshold is held against."""
        return self.duration(now) - self.descheduled

    @property
    def stack(self) -> Stack:
        """The stack seen most often while the loop was stalled, judged by its blocking
        frame: the line that kept the loop busy for most of the stall."""
        if not self.samples:
            return ()
        counts = Counter(_blocking(sample.stack) for sample in self.samples)
        best = counts.most_common(1)[0][0]
        return next(sample.stack for sample in reversed(self.samples) if _blocking(sample.stack) == best)

    @property
    def blocking_frame(self) -> Frame | None:
        return _blocking(self.stack)

    def to_json(self, root: Path, test: str | None) -> dict[str, Any]:
        frame = self.blocking_frame
        return {
            "test": test,
            "pid": self.pid,
            "duration": self.duration(),
            "descheduled": self.descheduled,
            "ongoing": self.ongoing,
            "phase": self.phase,
            "requests": [{key: request[key] for key in _REQUEST_KEYS} for request in self.requests],
            "where": frame.location(root) if frame else None,
            "samples": len(self.samples),
            "stack": [{"file": f.file, "line": f.line, "function": f.function, "code": f.code} for f in self.stack],
        }


#: What the JSON report says of each request (its id only tells the samples' copies apart).
_REQUEST_KEYS = ("method", "path", "responded", "running")


def _within(samples: Sequence[Sample], start: float, end: float) -> tuple[Sample, ...]:
    return tuple(sample for sample in samples if start <= sample.time <= end)


def _requests_of(samples: Sequence[Sample]) -> tuple[dict[str, Any], ...]:
    """Each request the samples saw in flight, once, as last seen; `running` if any sample
    caught its code running.  The ones running first."""
    seen: dict[int, dict[str, Any]] = {}
    for sample in samples:
        for request in sample.requests:
            running = request["running"] or seen.get(request["id"], request)["running"]
            seen[request["id"]] = {**request, "running": running}
    return tuple(sorted(seen.values(), key=lambda request: not request["running"]))


def _blocking(stack: Stack) -> Frame | None:
    """The innermost frame of the user's own code (not the stdlib, not a library)."""
    user = [frame for frame in stack if frame.user]
    return user[-1] if user else (stack[-1] if stack else None)


def during(stalls: Iterable[Stall], start: float, end: float) -> list[Stall]:
    """The stalls that began in [start, end): a stall belongs to the test it began in.
    A saturated loop is not stalled: it is left out."""
    return [stall for stall in stalls if start <= stall.start < end and not stall.saturated]


def _serving(stall: Stall) -> list[str]:
    """Whose code blocked, and who waited.  Without a sample, whose it was is unknown:
    every request in flight is named."""
    named = [request for request in stall.requests if request["running"]] if stall.samples else list(stall.requests)
    lines = [
        f"  while serving: {request['method']} {request['path']}"
        + (" (after its response: a background task)" if request["responded"] else "")
        for request in named
    ]
    if not named:
        lines.append("  while serving: no request (startup, or a task of the app's own)")
    waited = len(stall.requests) - len(named)
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
    lines.extend(_serving(stall))
    frame = stall.blocking_frame
    if frame is None:
        lines.append(
            "  no stack: the loop could not be interrupted during the stall "
            "(C code holding the GIL, or a stall too short to sample)"
        )
    else:
        lines.append(f"  {frame.location(root)}")
        if frame.code:
            lines.append(f"      {frame.code}")
    return "\n".join(lines)
