"""With `--asyncsafe` and `asyncsafe_lb_idle_timeout`, one more item: `asyncsafe::keepalive`.

A load balancer keeps its connections to the app open while idle, and reuses them.  If
the server closes an idle connection first (Uvicorn after 5 s; ALB, nginx ingress and
most gateways keep theirs 60 s), the load balancer may send a request on a connection
the server is closing: a 502 nobody can reproduce.  The item measures the server's real
idle timeout - one request on a kept-alive connection, then nothing, until the server
closes it - and fails when it is not longer than the load balancer's, naming the option
to raise.
"""

from __future__ import annotations

import http.client
import math
import socket
import time
from pathlib import Path

import httpx
import pytest

from pytest_asyncsafe.session import SESSION

KEEPALIVE_ITEM = "asyncsafe::keepalive"
#: How much longer than the load balancer's the recommended server timeout is.
MARGIN = 5
#: How long past the load balancer's timeout a connection must still be open to pass.
GRACE = 0.5
#: The option that sets the idle timeout, by server.
OPTIONS = {"uvicorn": "--timeout-keep-alive", "gunicorn": "--keep-alive"}
#: What the probe asks for: any answer will do, the connection is what is measured.
PROBE = "/asyncsafe-keepalive-probe"


class KeepAliveTooShort(AssertionError):
    """The server closes idle connections before the load balancer does."""


def idle_timeout(base_url: str, longest: float) -> float | None:
    """Seconds the server at `base_url` kept a kept-alive connection open, idle, after
    answering a request on it; None when it was still open after `longest`."""
    url = httpx.URL(base_url)
    assert url.host and url.port
    connection = http.client.HTTPConnection(url.host, url.port, timeout=10)
    try:
        connection.request("GET", PROBE)
        connection.getresponse().read()
        answered = time.monotonic()
        sock = connection.sock
        assert sock is not None
        sock.settimeout(longest)
        try:
            closed = sock.recv(1) == b""
        except (TimeoutError, socket.timeout):
            return None
        except ConnectionResetError:
            closed = True
        return time.monotonic() - answered if closed else None
    finally:
        connection.close()


def verdict(server: str, measured: float | None, balancer: float) -> str | None:
    """Why the server's idle timeout is too short for the load balancer's, if it is."""
    if measured is None or measured > balancer:
        return None
    name = "Gunicorn's Uvicorn workers close" if server == "gunicorn" else "Uvicorn closes"
    return (
        f"{name} idle connections after {measured:.1f} s, the load balancer keeps them {balancer:g} s: set "
        f"{OPTIONS[server]} {math.ceil(balancer) + MARGIN} (in production, and in asyncsafe_server_args). A request "
        "the load balancer sends on a connection the server is closing fails with a 502."
    )


class KeepAliveItem(pytest.Item):
    def __init__(self, *, balancer: float, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.balancer = balancer

    def runtest(self) -> None:
        session = self.config.stash[SESSION]
        server = session.session_server()
        measured = idle_timeout(server.base_url, self.balancer + GRACE)
        problem = verdict(server.settings.server, measured, self.balancer)
        if problem is not None:
            raise KeepAliveTooShort(problem)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: object = None) -> str:
        if isinstance(excinfo.value, KeepAliveTooShort):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, None, str]:
        return (
            self.config.rootpath,
            None,
            f"the server keeps idle connections longer than the load balancer's {self.balancer:g} s",
        )
