"""The ASGI app Uvicorn serves: the user's app, wrapped to report what the pytest
process needs to know - when the worker is ready, which requests are in flight, how
lifespan went - and to run the loop monitor.

Uvicorn imports `create` in every worker (`--factory`), and Gunicorn's worker
(`worker/gunicorn_internals.Worker`) calls `watch` once it has loaded the app, so each
worker process gets its own wrapper, channel and monitor.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pytest_asyncsafe.channel import WorkerChannel
from pytest_asyncsafe.events import (
    Cancelled,
    PoolExhausted,
    Ready,
    ShutdownComplete,
    ShutdownFailed,
    ShutdownStarted,
    StartupFailed,
    WorkerStarted,
    phase,
)
from pytest_asyncsafe.worker import threadpool
from pytest_asyncsafe.worker.monitor import LoopMonitor
from pytest_asyncsafe.worker.orphans import die_with_parent
from pytest_asyncsafe.worker.tasks import leftover_tasks, track_origins
from pytest_asyncsafe.worker.uvicorn_internals import import_from_string, response_flag

#: Set by the pytest process: what to serve and where to report (JSON).
ENVIRONMENT_KEY = "ASYNCSAFE_WORKER"

#: The request whose code is running (0: none), in the context of every task that request
#: runs or starts (Starlette's middleware runs the app in tasks of its own).  The stack
#: sampler, a signal handler, runs in the context of the task it interrupted.
SERVING: ContextVar[int] = ContextVar("asyncsafe_serving", default=0)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def settings() -> dict[str, Any]:
    """What the pytest process asked for (see `server.Server`), as this process's environment holds it."""
    return json.loads(os.environ[ENVIRONMENT_KEY])  # type: ignore[no-any-return]


def create() -> ASGIApp:
    """Uvicorn's factory: the user's app, loaded and watched in this worker."""
    given = settings()
    if given["workers"] > 1:
        # A worker of a multi-process server must not outlive the supervisor.
        die_with_parent()
    track_origins(True)
    return watch(load(given["app"], given["factory"]), given)


def watch(app: ASGIApp, given: dict[str, Any]) -> Watched:
    """`app`, reporting to the pytest process from this worker."""
    channel = WorkerChannel(Path(given["channel"]), os.getpid())
    channel.emit(WorkerStarted(channel.pid, time.monotonic()))
    return Watched(app, channel, given["threshold"], given["task_origins"])


class FactoryFailed(Exception):
    """The app factory raised `TypeError`: Uvicorn would print the message alone."""


def load(spec: str, factory: bool) -> ASGIApp:
    """The app `spec` names, loaded as `uvicorn spec` (with `--factory` when `factory`)
    loads it.  Uvicorn calls what it imports with no arguments: what it returns is the
    app, unless the call raises `TypeError` (an app wants three arguments), in which case
    what was imported is the app - for a factory, that is a failure.  Any other
    exception a factory raises fails the worker's start with its traceback."""
    imported = import_from_string(spec)
    try:
        return imported()  # type: ignore[no-any-return]
    except TypeError as error:
        if factory:
            raise FactoryFailed(
                f"the app factory {spec} raised TypeError: {error} (if {spec} is the app itself, not a factory,"
                " leave asyncsafe_factory unset)"
            ) from error
        return imported  # type: ignore[no-any-return]


def request_line(scope: Scope) -> tuple[str, str]:
    """A request's method (`WS` for a websocket) and path."""
    return scope.get("method", "WS"), scope.get("path", "")


class Watched:
    """Wraps the user's ASGI app; adds nothing to the requests themselves."""

    def __init__(self, app: ASGIApp, channel: WorkerChannel, threshold: float, task_origins: bool) -> None:
        self.app = app
        self.channel = channel
        self.threshold = threshold
        #: Whether to go on recording where coroutines are created once serving (it costs
        #: every coroutine a little: only servers dedicated to a drain check do).
        self.task_origins = task_origins
        #: When lifespan startup completed (0: not yet).
        self.ready_at = 0.0
        self.monitor: LoopMonitor | None = None
        self._requests: dict[int, tuple[Scope, Send]] = {}
        #: (when, key, method, path) of the requests that finished lately: a stall is
        #: reported once it is over, and the request that caused it has often finished by
        #: then.  Not the scopes themselves: kept alive, they would outlive the young GC
        #: generation.
        self._finished: deque[tuple[float, int, str, str]] = deque(maxlen=64)
        self._next_id = 0

    def phase(self, at: float) -> str:
        return phase(self.ready_at, at)

    def requests(self, since: float) -> list[dict[str, Any]]:
        """What was being served at any time since `since`: a snapshot, as the requests
        go on changing."""
        finished = [
            {"id": key, "method": method, "path": path, "responded": True}
            for end, key, method, path in self._finished
            if end >= since
        ]
        return finished + [self._describe(key, scope, send) for key, (scope, send) in self._requests.items()]

    def running(self) -> dict[str, Any] | None:
        """The request whose code runs now (in the sampler: the code the signal
        interrupted), if any and still known: one lookup, cheap enough to take under load."""
        key = SERVING.get()
        if key in self._requests:
            return self._describe(key, *self._requests[key])
        finished = [(method, path) for _, done, method, path in self._finished if done == key]
        if finished:
            return {"id": key, "method": finished[0][0], "path": finished[0][1], "responded": True}
        return None

    def _serving(self) -> tuple[str, str] | None:
        """The request whose code runs now, as (method, path): one lookup."""
        request = self._requests.get(SERVING.get())
        return request_line(request[0]) if request is not None else None

    def _pool_exhausted(self, total: int, holders: list[list[object]]) -> None:
        self.channel.emit(PoolExhausted(self.channel.pid, time.monotonic(), total, holders))

    @staticmethod
    def _describe(key: int, scope: Scope, send: Send) -> dict[str, Any]:
        method, path = request_line(scope)
        return {"id": key, "method": method, "path": path, "responded": response_flag(send, "response_complete")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.monitor is None:
            self.monitor = LoopMonitor(asyncio.get_running_loop(), self.channel, self.threshold, self)
            self.monitor.start()
            # Before the app's own lifespan runs, which may raise the limiter's size.
            threadpool.install(self.channel.threadpool, self._serving, self._pool_exhausted)
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        # The hot path, inline and lean: every request pays for what is here.
        self._next_id += 1
        key = self._next_id
        requests = self._requests
        requests[key] = (scope, send)
        in_flight = self.channel.in_flight
        in_flight[0] = len(requests)
        self.channel.received[0] += 1
        serving = SERVING.set(key)
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            # Uvicorn cancels what is still running when its graceful shutdown times out.
            self.channel.emit(
                Cancelled(self.channel.pid, *request_line(scope), response_flag(send, "response_started"))
            )
            raise
        finally:
            SERVING.reset(serving)
            del requests[key]
            in_flight[0] = len(requests)
            self._finished.append((time.monotonic(), key, *request_line(scope)))

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        sent: list[str] = []

        async def reporting_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self.channel.emit(ShutdownStarted(self.channel.pid, time.monotonic()))
            return message

        async def reporting_send(message: Message) -> None:
            sent.append(message["type"])
            if message["type"] == "lifespan.startup.complete":
                track_origins(self.task_origins)
                self.ready_at = time.monotonic()
                self.channel.emit(Ready(self.channel.pid, self.ready_at))
            elif message["type"] == "lifespan.startup.failed":
                self.channel.emit(StartupFailed(self.channel.pid, message.get("message", "")))
            elif message["type"] == "lifespan.shutdown.complete":
                self.channel.emit(ShutdownComplete(self.channel.pid, time.monotonic(), leftover_tasks()))
                self._stop_monitor()
            elif message["type"] == "lifespan.shutdown.failed":
                self.channel.emit(ShutdownFailed(self.channel.pid, time.monotonic(), message.get("message", "")))
                self._stop_monitor()
            await send(message)

        try:
            await self.app(scope, reporting_receive, reporting_send)
        except Exception:
            if sent:
                raise
            # The app does not speak the lifespan protocol: answer it on the app's behalf,
            # as Uvicorn's `--lifespan auto` would have carried on without it.
            await self._lifespan_without_app(reporting_receive, reporting_send)

    def _stop_monitor(self) -> None:
        # Once the app has shut down the loop is about to close: its beats stop, and a
        # timer left armed would sample the interpreter on its way out.
        if self.monitor is not None:
            self.monitor.stop()

    async def _lifespan_without_app(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
