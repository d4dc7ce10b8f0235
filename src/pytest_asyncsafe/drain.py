"""The SIGTERM drain check: requests in flight, the signal a deploy sends, and everything
that must then happen - every request answered in full, new connections refused, the
lifespan shutdown run in every worker with no task left behind, the process tree gone
in time with the exit status Uvicorn documents, and no error in the server's output.

The in-flight requests go out on fresh connections: a request sent on an idle
keep-alive connection races the server closing it, which is in the nature of HTTP/1.1,
not a fault of the app.

A rolling deploy, played out: with `rate`, traffic (`traffic.Traffic`) flows from before
termination begins until the load balancer has taken the pod out of rotation,
`deregister_delay` later; SIGTERM comes `prestop` after termination began (a Kubernetes
preStop sleep).  Every request that arrived after termination began and was not
answered in full is lost, and the report says which knob would have saved it.
"""

from __future__ import annotations

import math
import re
import signal
import socket
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from asyncsafe_lint.untrusted import printable
from pytest_asyncsafe import traffic
from pytest_asyncsafe.durations import format_duration
from pytest_asyncsafe.events import Cancelled, Event, SampleTaken, ShutdownComplete, ShutdownFailed, ShutdownStarted
from pytest_asyncsafe.server import Server
from pytest_asyncsafe.stalls import Frame, Sample, Task

#: What the process tree gets beyond the graceful timeout for the lifespan shutdown and
#: the exit itself, before it is declared hung and killed.
EXIT_MARGIN = 5.0
#: How long the requests may take to reach the app before the signal is sent anyway.
IN_FLIGHT_TIMEOUT = 10.0
#: New connections must be refused within this long after the signal (Uvicorn's
#: supervisor of several workers looks at signals twice a second).
REFUSAL_DEADLINE = 2.0
_PROBE_EVERY = 0.02
#: How long traffic flows before termination begins: a pod serving as usual.
TRAFFIC_BEFORE = 0.5
#: A probe connection that gets no answer this long is hung: queued by a kernel for a
#: socket no process serves.
_PROBE_HANG = 1.0
#: How long stuck workers get to answer the stack-sampling signal before they are killed.
_SAMPLE_WAIT = 2.0
_RESAMPLE_EVERY = 0.1
#: How a worker's lifespan shutdown ended.
COMPLETED, RAISED, UNFINISHED, NEVER_STARTED = "completed", "raised", "unfinished", "never started"
#: An error in the server's output: Uvicorn's log lines (`ERROR: ...`), Gunicorn's
#: (`[time] [pid] [ERROR] ...`), a traceback.
_ERROR_LINE = re.compile(
    r"^(ERROR|CRITICAL):|^\[[^]]*\] \[\d+\] \[(ERROR|CRITICAL)\] |Traceback \(most recent call last\)"
)
_TRACEBACK_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)')


@dataclass(frozen=True)
class Outcome:
    """One in-flight request: its status and body size, or why it got no full response."""

    status: int | None
    body_bytes: int
    #: None when it completed; else why not.
    reason: str | None = None
    #: When it was sent and when it ended (`time.monotonic()`): the report's timeline.
    sent: float = 0.0
    ended: float = 0.0


@dataclass(frozen=True)
class LeakedTask:
    pid: int
    task: Task

    def describe(self, root: Path) -> str:
        return f"worker pid {self.pid}: {self.task.describe(root)}"


@dataclass
class DrainReport:
    """What one drain showed.  `clean` when `problems` is empty; `assert_clean()` fails
    with the whole report otherwise."""

    app: str
    request: str
    in_flight: int
    workers: int
    graceful_timeout: float
    root: Path
    #: `asyncsafe_server`: uvicorn or gunicorn.
    server: str = "uvicorn"
    completed: list[Outcome] = field(default_factory=list)
    #: (request, reason) for each in-flight request that did not complete.
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: How many requests the workers had in flight when the signal was sent.
    seen_in_flight: int = 0
    refused_after_signal: bool = False
    #: What the connections tried after the signal saw, in words.
    refusal: str = ""
    #: From the signal until the last process of the tree was gone.
    shutdown_seconds: float = 0.0
    #: How each worker's lifespan shutdown ended, by pid: (one of `COMPLETED`, `RAISED`,
    #: `UNFINISHED`, `NEVER_STARTED`; what it raised, for `RAISED`).
    lifespan: dict[int, tuple[str, str]] = field(default_factory=dict)
    leaked_tasks: list[LeakedTask] = field(default_factory=list)
    #: Requests Uvicorn cancelled when the graceful timeout passed: (request, streaming).
    cancelled: list[tuple[str, bool]] = field(default_factory=list)
    exit_code: int | None = None
    expected_exit_code: int = 0
    #: Whether the tree outlived the deadline and was killed; then where each worker was
    #: stuck, by pid.
    killed: bool = False
    stuck: dict[int, str] = field(default_factory=dict)
    log: str = ""
    log_errors: list[str] = field(default_factory=list)
    #: With traffic through the shutdown: its rate, how long after termination began the
    #: load balancer still routed here, and the preStop delay before SIGTERM (seconds).
    rate: float | None = None
    deregister_delay: float = 0.0
    prestop: float = 0.0
    #: The traffic's requests sent after termination began, by how they ended
    #: (`traffic.COMPLETED`, `REFUSED`, `RESET`, `FAILED`), and why those that failed did.
    traffic: Counter[str] = field(default_factory=Counter)
    traffic_failures: Counter[str] = field(default_factory=Counter)
    #: The timeline, in seconds from the signal: when termination began (before it by
    #: the preStop delay), each in-flight request (sent, ended, why it failed or None),
    #: each traffic request (sent, how it ended), and each worker's lifespan shutdown
    #: (began, ended; None when it never did), by pid.
    terminating: float = 0.0
    in_flight_times: list[tuple[float, float, str | None]] = field(default_factory=list)
    traffic_times: list[tuple[float, str]] = field(default_factory=list)
    lifespan_times: dict[int, tuple[float, float | None]] = field(default_factory=dict)

    @property
    def deadline(self) -> float:
        return self.graceful_timeout + EXIT_MARGIN

    @property
    def problems(self) -> list[str]:
        problems = []
        if self.seen_in_flight < self.in_flight:
            problems.append(
                f"only {self.seen_in_flight} of {self.in_flight} requests were in flight when SIGTERM was sent "
                f"(a request that finishes at once cannot test a drain: use a slower path)"
            )
        reasons = Counter(self.failed)
        problems += [
            f"{printable(request)}: {printable(reason)}" + (f" ({n} requests)" if n > 1 else "")
            for (request, reason), n in reasons.items()
        ]
        for (request, streaming), n in Counter(self.cancelled).items():
            kind = "a streaming response still sending" if streaming else "still running"
            problems.append(
                f"{printable(request)} ({n}) was {kind} when the graceful timeout "
                f"({format_duration(self.graceful_timeout)}) passed: Uvicorn cancelled it"
            )
        if not self.refused_after_signal:
            problems.append(f"new connections after the signal: {self.refusal}")
        problems += self.traffic_problems
        problems += self.lifespan_problems
        problems += [f"task left running after lifespan shutdown in {t.describe(self.root)}" for t in self.leaked_tasks]
        if self.killed:
            problems.append(
                f"the server did not exit within {format_duration(self.deadline)} (graceful timeout "
                f"{format_duration(self.graceful_timeout)} + {format_duration(EXIT_MARGIN)}): killed"
            )
            # A worker whose lifespan shutdown never finished was stuck in it: said above.
            problems += [
                f"  worker pid {pid}: {where}"
                for pid, where in self.stuck.items()
                if self.lifespan.get(pid, (COMPLETED, ""))[0] != UNFINISHED
            ]
        elif self.exit_code != self.expected_exit_code:
            problems.append(f"exit status {self.exit_code}, expected {self.expected_exit_code} ({self.exit_rule})")
        problems += [f"server output: {printable(line)}" for line in self.log_errors]
        return problems

    @property
    def traffic_problems(self) -> list[str]:
        """Requests of the traffic lost after termination began, and what would have saved them."""
        problems = []
        routed = self.deregister_delay - self.prestop
        for kind in (traffic.REFUSED, traffic.RESET):
            if self.traffic[kind]:
                problems.append(
                    f"{self.traffic[kind]} requests {kind} in the {max(routed, 0.0):.1f} s after SIGTERM while the "
                    f"load balancer still routed here: a preStop delay of at least "
                    f"{math.ceil(self.deregister_delay):g} s"
                )
        problems += [
            f"{n} requests failed after termination began: {printable(reason)}"
            for reason, n in self.traffic_failures.items()
        ]
        return problems

    @property
    def lifespan_ok(self) -> bool:
        return all(end == COMPLETED for end, _ in self.lifespan.values())

    @property
    def lifespan_problems(self) -> list[str]:
        """Why the lifespan shutdown was not ok, one line per worker."""
        problems = []
        for pid, (end, raised) in self.lifespan.items():
            if end == RAISED:
                problems.append(f"lifespan shutdown raised in worker pid {pid}: {printable(raised)}")
            elif end != COMPLETED and self.server == "gunicorn" and not self.killed:
                # The tree exited in time: the arbiter killed the worker at the graceful timeout.
                ran = "did not complete" if end == UNFINISHED else "never ran"
                problems.append(
                    f"worker pid {pid} was still serving when the graceful timeout "
                    f"({format_duration(self.graceful_timeout)}) passed: Gunicorn's arbiter killed it, and its "
                    f"lifespan shutdown {ran}"
                )
            elif end == UNFINISHED:
                where = f": {self.stuck[pid]}" if pid in self.stuck else ""
                problems.append(f"lifespan shutdown did not complete in worker pid {pid}{where}")
            elif end == NEVER_STARTED:
                problems.append(f"lifespan shutdown never started in worker pid {pid}")
        return problems

    @property
    def clean(self) -> bool:
        return not self.problems

    @property
    def exit_rule(self) -> str:
        if self.server == "gunicorn":
            return "Gunicorn's arbiter exits normally once its workers are gone"
        if self.workers == 1:
            return "with 1 worker Uvicorn re-raises SIGTERM once it has shut down"
        return "Uvicorn's supervisor of several workers returns normally"

    def describe(self) -> str:
        workers = f"{self.workers} worker{'s' if self.workers > 1 else ''}"
        load = f"{self.in_flight} x {printable(self.request)}" if self.in_flight else "no request"
        head = (
            f"asyncsafe: drain of {printable(self.app)} ({workers}, graceful timeout "
            f"{format_duration(self.graceful_timeout)}) with {load} in flight"
        )
        problems = self.problems
        verdict = ["  clean"] if not problems else ["  UNCLEAN:", *(f"  - {line}" for line in problems)]
        exit_text = "killed" if self.killed else f"status {self.exit_code}"
        fresh = "on fresh connections: an idle keep-alive connection racing the shutdown is no drain failure"
        lifespan = "completed in every worker" if self.lifespan_ok else "NOT OK"
        expected = f"expected {self.expected_exit_code}: {self.exit_rule}"
        details = [
            f"  requests completed: {len(self.completed)} of {self.in_flight} ({fresh})",
            f"  new connections after SIGTERM: {self.refusal}",
            f"  lifespan shutdown: {lifespan}",
            f"  tasks left running: {len(self.leaked_tasks)}",
            f"  exit: {exit_text} after {self.shutdown_seconds:.2f}s ({expected})",
        ]
        if self.rate is not None:
            kinds = (traffic.COMPLETED, traffic.REFUSED, traffic.RESET, traffic.FAILED)
            counts = ", ".join(f"{self.traffic[kind]} {kind}" for kind in kinds)
            details.append(
                f"  traffic at {self.rate:g}/s through the shutdown (preStop {self.prestop:g} s, out of rotation "
                f"{self.deregister_delay:g} s after termination began): {counts} after termination began"
            )
        return "\n".join([head, *verdict, *details])

    def assert_clean(self) -> None:
        __tracebackhide__ = True
        if not self.clean:
            raise DrainFailed(self.describe())

    def __repr__(self) -> str:
        return f"<DrainReport {'clean' if self.clean else 'UNCLEAN'}: {len(self.problems)} problem(s)>"


class DrainFailed(AssertionError):
    pass


def drain(
    server: Server,
    path: str | None,
    *,
    in_flight: int,
    method: str = "GET",
    log_from_signal: bool = False,
    rate: float | None = None,
    deregister_delay: float = 0.0,
    prestop: float = 0.0,
    **request_kw: Any,
) -> DrainReport:
    """Drain `server`: `in_flight` requests of `method path` (none when `path` is None),
    SIGTERM to its main process, then judge everything that followed; with `rate`, as a
    rolling deploy does it (see the module's docstring).  The server is stopped for good
    when this returns."""
    settings = server.settings
    report = DrainReport(
        settings.app or "", f"{method} {path}", in_flight if path else 0, settings.workers,
        settings.graceful_timeout, settings.rootdir, settings.server,
        expected_exit_code=-signal.SIGTERM if settings.workers == 1 and settings.server == "uvicorn" else 0,
        rate=rate, deregister_delay=deregister_delay, prestop=prestop,
    )  # fmt: skip
    flow = traffic.Traffic(server.base_url, method, path or "/", rate, request_kw).start() if rate else None
    if flow is not None:
        time.sleep(TRAFFIC_BEFORE)
    # Termination begins: the load balancer starts taking the pod out, the preStop sleep runs.
    terminating = time.monotonic()
    if flow is not None:
        flow.stop_at(terminating + deregister_delay)
    time.sleep(prestop)
    events: list[Event] = []
    timeout = settings.graceful_timeout + EXIT_MARGIN + 5
    with (
        httpx.Client(base_url=server.base_url, timeout=timeout, limits=_FRESH_CONNECTIONS) as client,
        ThreadPoolExecutor(max_workers=max(report.in_flight, 1), thread_name_prefix="asyncsafe-drain") as pool,
    ):
        futures = [pool.submit(_send, client, method, path or "", request_kw) for _ in range(report.in_flight)]
        report.seen_in_flight = _wait_in_flight(server, report.in_flight, futures)
        log_offset = len(server.logs) if log_from_signal else 0
        # A worker that died earlier (and was replaced) has no shutdown to judge.
        workers = server.live_workers()
        signalled = time.monotonic()
        server.terminate()
        report.refused_after_signal, report.refusal = _probe(server.port, signalled)
        report.exit_code, gone = _wait_exit(server, signalled + report.deadline, events)
        report.shutdown_seconds = gone - signalled
        report.killed = report.exit_code is None
        if report.killed:
            # Before reading the responses: a request stuck in a hung server ends with it.
            report.stuck = _where_stuck(server, events)
            report.exit_code = server.stop(graceful=False)
        for future in futures:
            _judge(report, future.result(), signalled)
    report.terminating = terminating - signalled
    if flow is not None:
        every = flow.finish()
        report.traffic_times = [(sent.at - signalled, sent.outcome) for sent in every]
        after = [sent for sent in every if sent.at >= terminating]
        report.traffic = Counter(sent.outcome for sent in after)
        report.traffic_failures = Counter(sent.detail for sent in after if sent.outcome == traffic.FAILED)
    events += server.poll()
    _worker_reports(report, server, workers, events, signalled)
    # Quoted by the verdict, and a test may print it: the values of `asyncsafe_env` hidden.
    report.log = settings.hide_env(server.logs[log_offset:])
    report.log_errors = [line for line in report.log.splitlines() if _ERROR_LINE.search(line)]
    return report


#: One connection per request, never reused.
_FRESH_CONNECTIONS = httpx.Limits(max_connections=None, max_keepalive_connections=0)


def _send(client: httpx.Client, method: str, path: str, request_kw: dict[str, Any]) -> Outcome:
    sent = time.monotonic()
    try:
        response = client.request(method, path, **request_kw)
    except httpx.TimeoutException:
        return Outcome(None, 0, "no response before the client's timeout", sent, time.monotonic())
    except httpx.RemoteProtocolError as error:
        return Outcome(None, 0, f"the connection closed before the full response ({error})", sent, time.monotonic())
    except httpx.TransportError as error:
        return Outcome(None, 0, f"{type(error).__name__}: {error}", sent, time.monotonic())
    ended = time.monotonic()
    if response.status_code >= 500:
        why = f"answered {response.status_code} {response.reason_phrase}"
        return Outcome(response.status_code, len(response.content), why, sent, ended)
    return Outcome(response.status_code, len(response.content), None, sent, ended)


def _judge(report: DrainReport, outcome: Outcome, signalled: float) -> None:
    report.in_flight_times.append((outcome.sent - signalled, outcome.ended - signalled, outcome.reason))
    if outcome.reason is None:
        report.completed.append(outcome)
    else:
        report.failed.append((report.request, outcome.reason))


def _wait_in_flight(server: Server, count: int, futures: list[Future[Outcome]]) -> int:
    """How many requests the workers have in flight once `count` are (as the workers
    count them, in the app), or once the wait is given up."""
    deadline = time.monotonic() + IN_FLIGHT_TIMEOUT
    while True:
        seen = server.in_flight()
        if seen >= count or time.monotonic() > deadline or all(future.done() for future in futures):
            return min(seen, count)
        time.sleep(0.005)


def _probe(port: int, signalled: float) -> tuple[bool, str]:
    """Open connections after the signal until one is refused: (refused in time, what they saw)."""
    served = reset = 0
    while True:
        elapsed = time.monotonic() - signalled
        if elapsed > REFUSAL_DEADLINE:
            return False, f"still accepted {format_duration(REFUSAL_DEADLINE)} after the signal ({served} served)"
        try:
            outcome = _connect(port)
        except ConnectionRefusedError:
            also = f"; {served} earlier connection(s) still served" if served else ""
            also += f"; {reset} reset while the listener closed" if reset else ""
            return True, f"refused {format_duration(elapsed)} after the signal{also}"
        if outcome == "hung":
            return (
                False,
                f"a connection made {format_duration(elapsed)} after the signal was accepted and never answered",
            )
        served += outcome == "served"
        # A connection the kernel queued just as the listener closed is reset: the race
        # inherent in closing a socket; the next one tells.
        reset += outcome == "reset"
        time.sleep(_PROBE_EVERY)


def _connect(port: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=_PROBE_HANG) as probe:
        try:
            probe.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = probe.recv(16)
        except TimeoutError:
            return "hung"
        except OSError:
            return "reset"
    return "served" if answer.startswith(b"HTTP/") else "reset"


def _wait_exit(server: Server, deadline: float, events: list[Event]) -> tuple[int | None, float]:
    """The main process's exit status once the whole process tree is gone (None when the
    deadline came first), and when that was."""
    while time.monotonic() < deadline:
        events += server.poll()
        status = server.exit_status()
        if status is not None:
            return status, time.monotonic()
        time.sleep(0.01)
    return None, time.monotonic()


def _where_stuck(server: Server, events: list[Event]) -> dict[int, str]:
    """Ask every live worker for its stack and tasks: where each was stuck."""
    alive = server.live_workers()
    deadline = time.monotonic() + _SAMPLE_WAIT
    samples: dict[int, Sample] = {}
    # Asked again until each sample tells something: one that lands while an idle loop
    # runs its own machinery (a timer, say) rather than waiting in its selector shows
    # neither a blocking line nor the tasks.
    while time.monotonic() < deadline and not all(_telling(samples.get(pid)) for pid in alive):
        for pid in alive:
            if not _telling(samples.get(pid)):
                server.ask_sample(pid)
        time.sleep(_RESAMPLE_EVERY)
        for event in server.poll():
            events.append(event)
            if isinstance(event, SampleTaken) and event.pid in alive and not _telling(samples.get(event.pid)):
                samples[event.pid] = Sample.from_event(event)
    return {pid: _stuck(samples.get(pid), server.settings.rootdir) for pid in alive}


def _telling(sample: Sample | None) -> bool:
    return sample is not None and (any(frame.user for frame in sample.stack) or bool(sample.tasks))


def _stuck(sample: Sample | None, root: Path) -> str:
    """Where a worker that would not exit was: its loop blocked, or its tasks waiting."""
    if sample is None:
        return "no stack (it did not answer the sampling signal)"
    blocking = [frame for frame in sample.stack if frame.user]
    if blocking:
        return f"its event loop was blocked at {_shown(blocking[-1], root)}"
    waiting = [task.waiting_at for task in sample.tasks if task.waiting_at is not None]
    if not waiting:
        return "its loop was idle, with no task of the app's own waiting"
    return "; ".join(f"waiting at {_shown(frame, root)}" for frame in waiting)


def _shown(frame: Frame, root: Path) -> str:
    code = f": {frame.code}" if frame.code else ""
    return f"{frame.location(root)}{code}"


def _worker_reports(
    report: DrainReport, server: Server, workers: list[int], events: list[Event], signalled: float
) -> None:
    """What the `workers` reported of their shutdown: the requests Uvicorn cancelled, and
    how each one's lifespan shutdown ended, and when (from the signal)."""
    by_pid: dict[int, dict[type[Event], Event]] = {pid: {} for pid in workers}
    for event in events:
        if event.pid in by_pid:
            by_pid[event.pid][type(event)] = event
        if isinstance(event, Cancelled):
            report.cancelled.append((f"{event.method} {event.path}", event.started))
    for pid, seen in by_pid.items():
        failed, complete = seen.get(ShutdownFailed), seen.get(ShutdownComplete)
        if isinstance(failed, ShutdownFailed):
            # The app's own words: an error may quote a value of `asyncsafe_env`.
            raised = _raised(failed.message, report.root)
            report.lifespan[pid] = (RAISED, server.settings.hide_env(raised))
        elif isinstance(complete, ShutdownComplete):
            report.lifespan[pid] = (COMPLETED, "")
            report.leaked_tasks += [LeakedTask(pid, Task.from_event(task)) for task in complete.tasks]
        else:
            report.lifespan[pid] = (UNFINISHED if ShutdownStarted in seen else NEVER_STARTED, "")
        began = seen.get(ShutdownStarted)
        if isinstance(began, ShutdownStarted):
            ended = failed if isinstance(failed, ShutdownFailed) else complete
            end = ended.time - signalled if isinstance(ended, (ShutdownFailed, ShutdownComplete)) else None
            report.lifespan_times[pid] = (began.time - signalled, end)


def _raised(message: str, root: Path) -> str:
    """The exception and the innermost frame of the traceback the app sent."""
    lines = [line for line in message.strip().splitlines() if line.strip()]
    frames = list(_TRACEBACK_FRAME.finditer(message))
    where = ""
    if frames:
        last = frames[-1]
        where = f" (at {Frame(last['file'], int(last['line']), last['function']).location(root)})"
    return (lines[-1] if lines else "no message") + where
