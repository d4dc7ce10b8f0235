"""Upstreams a test controls: real HTTP servers on 127.0.0.1, in the pytest process, that
the app under test calls (a payments API, a database's HTTP front), made slow, silent,
absent or broken on demand - what a route's deadline on a downstream call is tested
against.

Each is started, before the app's server, by the first `asyncsafe_env` value that names it
(`{asyncsafe_upstream}`, or `{asyncsafe_upstream:payments}` for one named `payments`), and
lasts the session; the value reads its base URL.  It answers `200 {}` until told otherwise
(`Upstream.delay`, `blackhole`, `refuse`, `reset`, `status`, `respond`), and the
`asyncsafe_upstream` fixture restores that at the end of each test.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pytest_asyncsafe.durations import parse_duration

#: `{asyncsafe_upstream}` or `{asyncsafe_upstream:NAME}` in an `asyncsafe_env` value.
PLACEHOLDER = re.compile(r"\{asyncsafe_upstream(?::([A-Za-z0-9_-]+))?\}")
DEFAULT = "default"
#: The longest a blackholed request is held before its connection is closed anyway: no
#: thread of the pytest process waits forever.
HOLD_LIMIT = 300.0


@dataclass(frozen=True)
class Received:
    """A request the upstream received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class _Behaviour:
    """How the upstream answers now."""

    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    delay: float = 0.0
    #: Accept and read the request, never answer.
    blackhole: bool = False
    #: Send the start of a response, then reset the connection.
    reset: bool = False


@dataclass
class Upstream:
    """One upstream: its base URL, what it received, and how it answers.  Called with a
    name, the session's upstream of that name: `asyncsafe_upstream("payments")`."""

    name: str
    registry: Upstreams
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    _behaviour: _Behaviour = field(default_factory=_Behaviour)
    _server: ThreadingHTTPServer | None = None
    _port: int = 0
    #: Set to let every held (blackholed, delayed) request go.
    _released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, name: str) -> Upstream:
        return self.registry.get(name)

    # --- what a test asks for -----------------------------------------------------------------
    def delay(self, duration: str | float) -> Upstream:
        """Answer each request after `duration` (`"5s"`, `0.5`)."""
        return self._set(delay=parse_duration(duration, f"asyncsafe_upstream({self.name!r}).delay"))

    def blackhole(self) -> Upstream:
        """Accept connections and read requests, and never answer."""
        return self._set(blackhole=True)

    def reset(self) -> Upstream:
        """Start each response, then reset the connection mid-way."""
        return self._set(reset=True)

    def status(self, status: int) -> Upstream:
        """Answer each request with `status` and `{}`."""
        return self._set(status=status)

    def respond(self, body: str | bytes | object = b"{}", status: int = 200) -> Upstream:
        """Answer each request with `body` (text, bytes, or anything JSON) and `status`."""
        if isinstance(body, (str, bytes)):
            content, kind = (body.encode() if isinstance(body, str) else body), "text/plain; charset=utf-8"
        else:
            content, kind = json.dumps(body).encode(), "application/json"
        return self._set(status=status, body=content, content_type=kind)

    def refuse(self) -> Upstream:
        """Stop listening: a connection is refused, as with nothing there."""
        with self._lock:
            self._stop_listening()
        return self

    def restore(self) -> None:
        """Back to `200 {}` at once, listening, holding nothing; `requests` emptied."""
        with self._lock:
            self._behaviour = _Behaviour()
            self._released.set()
            self._released = threading.Event()
            if self._server is None:
                self._listen(self._port)
            self.requests.clear()

    # --- its server ---------------------------------------------------------------------------
    def start(self) -> str:
        with self._lock:
            self._listen(0)
        return self.url

    def close(self) -> None:
        with self._lock:
            self._released.set()
            self._stop_listening()

    def _set(self, **changes: Any) -> Upstream:
        with self._lock:
            self._behaviour = dataclasses.replace(self._behaviour, **changes)
            if self._server is None:
                self._listen(self._port)
        return self

    def _listen(self, port: int) -> None:
        server = _Server(("127.0.0.1", port), _Handler)
        server.upstream = self
        self._server, self._port = server, server.server_address[1]
        self.url = f"http://127.0.0.1:{self._port}"
        threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"asyncsafe-upstream-{self.name}",
            daemon=True,
        ).start()

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _receive(self, request: Received) -> tuple[_Behaviour, threading.Event]:
        with self._lock:
            self.requests.append(request)
            return self._behaviour, self._released


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    upstream: Upstream

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up (the app gave up on a blackholed request) is no error."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        received = Received(self.command, self.path, dict(self.headers.items()), body)
        behaviour, released = self.server.upstream._receive(received)
        if behaviour.blackhole:
            released.wait(HOLD_LIMIT)
            self.close_connection = True
            return
        if behaviour.delay and released.wait(behaviour.delay):
            self.close_connection = True
            return
        if behaviour.reset:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{")
            self.wfile.flush()
            # Closing with a zero linger sends a reset, not an orderly end.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self.send_response(behaviour.status)
        self.send_header("Content-Type", behaviour.content_type)
        self.send_header("Content-Length", str(len(behaviour.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(behaviour.body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Quiet: the test reads `requests`."""


class Upstreams:
    """The session's upstreams, by name, started on first mention."""

    def __init__(self) -> None:
        self._started: dict[str, Upstream] = {}

    def get(self, name: str = DEFAULT) -> Upstream:
        if name not in self._started:
            upstream = Upstream(name, self)
            upstream.start()
            self._started[name] = upstream
        return self._started[name]

    def fill(self, env: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        """`env` with each placeholder replaced by its upstream's base URL (started now)."""
        return tuple(
            (key, PLACEHOLDER.sub(lambda match: self.get(match[1] or DEFAULT).url, value)) for key, value in env
        )

    def restore(self) -> None:
        for upstream in self._started.values():
            upstream.restore()

    def close(self) -> None:
        for upstream in self._started.values():
            upstream.close()
        self._started.clear()
