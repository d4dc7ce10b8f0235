"""Warming the service up before it serves: FastAPI builds parts of a route (signatures,
validators, serializers) on the route's first request, and in a new worker that first
request stalls the event loop for as long as that takes - 100 ms and more on a small
machine.  A service that cares sends itself one request per hot route in its lifespan,
before the worker takes traffic."""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message

#: The routes every deployment probe and dashboard hits first.
HOT_PATHS = ("/health", "/items")


async def warm_up(app: ASGIApp) -> None:
    for path in HOT_PATHS:
        with anyio.move_on_after(5):
            await _get(app, path)


async def _get(app: ASGIApp, path: str) -> None:
    """`GET path` through the whole app, middleware included, answered to nobody."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
        "state": {},
    }
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await anyio.sleep_forever()  # the client stays: the app decides when it is done
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        pass

    await app(scope, receive, send)
