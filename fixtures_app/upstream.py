"""A stub "upstream" service on 127.0.0.1, so the HTTP and socket hazards have
something real - and slow - to wait for, without any network access.

It runs in a daemon thread of the app's own process (started and stopped by the
lifespan, off the event loop) and answers every GET/POST with a small JSON body after
a fixed delay.  It binds an ephemeral port, so several workers or test sessions never
collide.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True
    delay: float = 0.2

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up early (the socket hazards read one line) are not news."""


class _SlowHandler(BaseHTTPRequestHandler):
    server: _StubServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._answer()

    def _answer(self) -> None:
        # This thread is not an event loop: sleeping here is exactly what a slow service does.
        time.sleep(self.server.delay)
        body = json.dumps({"path": self.path, "delay": self.server.delay, "rates": {"EUR": 0.92, "GBP": 0.79}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Silence the per-request log lines on stderr."""


class StubUpstream:
    """The stub server's lifecycle.  `start` and `stop` block: call them from a thread."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._server: _StubServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stub upstream is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> str:
        server = _StubServer(("127.0.0.1", 0), _SlowHandler)
        server.delay = self.delay
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.name = "fixtures-stub-upstream"
        thread.start()
        self._server, self._thread = server, thread
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._server = self._thread = None
