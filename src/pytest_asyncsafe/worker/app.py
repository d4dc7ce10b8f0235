"""The ASGI app Uvicorn serves: the user's app, wrapped to report what the pytest
process needs to know - when the worker is ready, which requests are in flight, how
lifespan went - and to run the loop monitor.

Uvicorn imports `create` in every worker (`--factory`), so each worker process gets its
own wrapper, channel and monitor.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from uvicorn.importer import import_from_string

from pytest_asyncsafe.channel import WorkerChannel
from pytest_asyncsafe.worker.monitor import LoopMonitor
from pytest_asyncsafe.worker.orphans import die_with_parent

#: Set by the pytest process: what to serve and where to report (JSON).
ENVIRONMENT_KEY = "ASYNCSAFE_WORKER"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def create() -> ASGIApp:
    settings = json.loads(os.environ[ENVIRONMENT_KEY])
    if settings["workers"] > 1:
        # A worker of a multi-process server must not outlive the supervisor.
        die_with_parent()
    channel = WorkerChannel(Path(settings["channel"]), os.getpid())
    app = import_from_string(settings["app"])
    channel.emit("worker-started", time=time.monotonic())
    return Watched(app, channel, settings["threshold"])


class Watched:
    """Wraps the user's ASGI app; adds nothing to the requests themselves."""

    def __init__(self, app: ASGIApp, channel: WorkerChannel, threshold: float) -> None:
        self.app = app
        self.channel = channel
        self.threshold = threshold
        #: When lifespan startup completed (0: not yet).
        self.ready_at = 0.0
        self.monitor: LoopMonitor | None = None
        self._requests: dict[int, dict[str, Any]] = {}
        #: Requests that finished lately: a stall is reported once it is over, and the
        #: request that caused it has often finished by then.
        self._finished: deque[dict[str, Any]] = deque(maxlen=64)
        self._next_id = 0

    def phase(self, at: float) -> str:
        return "serving" if 0 < self.ready_at <= at else "startup"

    def requests(self, since: float) -> list[dict[str, Any]]:
        """What was being served at any time since `since`: a snapshot, as the requests
        go on changing."""
        finished = [request for request in self._finished if request["end"] >= since]
        return [
            # A request that had sent its response before `since` was running its
            # background tasks by then.
            {"method": r["method"], "path": r["path"], "responded": 0 < r["responded_at"] <= since}
            for r in (*finished, *self._requests.values())
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.monitor is None:
            self.monitor = LoopMonitor(asyncio.get_running_loop(), self.channel, self.threshold, self.requests, self.phase)
            self.monitor.start()
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
        elif scope["type"] in ("http", "websocket"):
            await self._request(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _request(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._next_id += 1
        key = self._next_id
        request = {"method": scope.get("method", "WS"), "path": scope.get("path", ""), "responded_at": 0.0, "end": 0.0}

        async def tracking_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                # What runs from now on (background tasks) still belongs to this request.
                request["responded_at"] = time.monotonic()

        self._requests[key] = request
        self.channel.in_flight(len(self._requests))
        try:
            await self.app(scope, receive, tracking_send)
        finally:
            del self._requests[key]
            self.channel.in_flight(len(self._requests))
            request["end"] = time.monotonic()
            self._finished.append(request)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        sent: list[str] = []

        async def reporting_send(message: Message) -> None:
            sent.append(message["type"])
            if message["type"] == "lifespan.startup.complete":
                self.ready_at = time.monotonic()
                self.channel.emit("ready", time=self.ready_at)
            elif message["type"] == "lifespan.startup.failed":
                self.channel.emit("startup-failed", message=message.get("message", ""))
            elif message["type"] == "lifespan.shutdown.complete":
                self.channel.emit("shutdown-complete", time=time.monotonic())
            await send(message)

        try:
            await self.app(scope, receive, reporting_send)
        except Exception:
            if sent:
                raise
            # The app does not speak the lifespan protocol: answer it on the app's behalf,
            # as Uvicorn's `--lifespan auto` would have carried on without it.
            await self._lifespan_without_app(receive, reporting_send)

    async def _lifespan_without_app(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
