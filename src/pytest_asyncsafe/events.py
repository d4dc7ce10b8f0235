"""What a worker tells the pytest process: one typed event per line of its channel.

The worker builds them (`worker/app.py`, `worker/monitor.py`) and `channel.WorkerChannel`
writes them as JSON lines; `channel.ServerChannel` reads them back as the same types, the
one place a line is parsed.  What they carry is plain data: stacks as (file, line,
function) triples, requests and tasks as the dicts the worker described them with
(`stalls` makes its model of them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, get_args

#: A stack as the worker sends it, outermost frame first: (file, line, function) each.
Places = Sequence[Sequence[Any]]


@dataclass(frozen=True, slots=True)
class _Dated:
    """What most events carry: the worker's pid and when it happened."""

    pid: int
    time: float


@dataclass(frozen=True, slots=True)
class WorkerStarted(_Dated):
    """The worker imported the app."""

    kind: ClassVar[str] = "worker-started"


@dataclass(frozen=True, slots=True)
class Ready(_Dated):
    """The app's lifespan startup completed: the worker takes requests from `time` on."""

    kind: ClassVar[str] = "ready"


@dataclass(frozen=True, slots=True)
class StartupFailed:
    kind: ClassVar[str] = "startup-failed"
    pid: int
    message: str


@dataclass(frozen=True, slots=True)
class ShutdownStarted(_Dated):
    kind: ClassVar[str] = "shutdown-started"


@dataclass(frozen=True, slots=True)
class ShutdownComplete(_Dated):
    """The lifespan shutdown completed, leaving `tasks` unfinished."""

    kind: ClassVar[str] = "shutdown-complete"
    tasks: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ShutdownFailed(_Dated):
    kind: ClassVar[str] = "shutdown-failed"
    message: str


@dataclass(frozen=True, slots=True)
class Cancelled:
    """Uvicorn cancelled a request still running when its graceful shutdown timed out."""

    kind: ClassVar[str] = "cancelled"
    pid: int
    method: str
    path: str
    #: Whether its response had started.
    started: bool


@dataclass(frozen=True, slots=True)
class SampleTaken:
    """The loop thread's stack at one moment of an overdue beat (or when asked)."""

    kind: ClassVar[str] = "sample"
    pid: int
    time: float
    stack: Places
    #: The request whose code was running (id, method, path, responded), if any.
    running: dict[str, Any] | None
    in_flight: int
    tasks: list[dict[str, Any]]
    #: Which of the loop's callbacks was running, numbered by the worker (0: none was).
    callback: int
    #: The other threads' names and stacks, for a loop caught waiting for the GIL.
    threads: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class StallOver:
    """A beat came `end - start` late: reported by that beat."""

    kind: ClassVar[str] = "stall"
    pid: int
    start: float
    end: float
    #: How long of it the loop's thread waited for a CPU.
    descheduled: float
    #: The garbage collector's pauses meanwhile, (start, end) each.
    collecting: Sequence[Sequence[float]]
    #: "startup" before the app was ready, then "serving".
    phase: str
    #: Every request in flight at some time since `start`.
    requests: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class TimedOut(_Dated):
    """Gunicorn's arbiter sent the worker SIGABRT, as it does to one that has not told it
    it is alive within its `--timeout`; the worker exits next."""

    kind: ClassVar[str] = "timed-out"
    #: Gunicorn's `--timeout`, in seconds.
    timeout: float


@dataclass(frozen=True, slots=True)
class PoolExhausted(_Dated):
    """Every thread of the worker's pool was taken, and a task began to wait for one: the
    first such wait since the pool last had a thread free."""

    kind: ClassVar[str] = "pool-exhausted"
    #: The pool's size.
    total: int
    #: The requests that held its threads then: [method, path, threads held], most first
    #: (threads taken by code serving no request are not listed).
    holders: list[list[Any]]


def phase(ready_at: float | None, at: float) -> str:
    """A worker's phase at `at`: "startup" until its app was ready (`Ready.time`), then
    "serving".  The worker dates a stall by it, the pytest process one still going on."""
    return "serving" if ready_at is not None and 0 < ready_at <= at else "startup"


Event = (
    WorkerStarted
    | Ready
    | StartupFailed
    | ShutdownStarted
    | ShutdownComplete
    | ShutdownFailed
    | Cancelled
    | SampleTaken
    | StallOver
    | TimedOut
    | PoolExhausted
)
_KINDS: dict[str, type[Event]] = {kind.kind: kind for kind in get_args(Event)}


def encode(event: Event) -> bytes:
    """One line of the channel."""
    data = {"event": event.kind, **{field.name: getattr(event, field.name) for field in fields(event)}}
    return (json.dumps(data, default=str) + "\n").encode()


def decode(line: bytes) -> Event:
    data = json.loads(line)
    return _KINDS[data.pop("event")](**data)
