"""What the workers send, as units: a `Unit` sends one request or runs one iteration, and
tallies what it measures.  A replay (`Replay`) sends one prebuilt request again and
again; a scenario (`Scenario`) calls a coroutine function of an `httpx.AsyncClient`
whose transport tallies each request it sends (`_TimedTransport`).  Each connection is
a `LeanTransport` of its own, and all are opened at once, before the clock starts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

import httpx

from pytest_asyncsafe.load.shape import LoadShape
from pytest_asyncsafe.load.tally import Tally
from pytest_asyncsafe.load.transport import LeanTransport

#: Sends one request (a replay) or runs one iteration (a scenario), tallying what it
#: measures; the argument is when it was due in an open loop (see
#: `openloop.OpenLoop._work`), else None.
Unit = Callable[[float | None], Awaitable[None]]


class Replay:
    """One prebuilt request, sent again and again, over one transport per connection."""

    def __init__(self, request: httpx.Request, origin: httpx.URL, concurrency: int) -> None:
        self.request = request
        self.concurrency = concurrency
        self.transports = [LeanTransport(origin) for _ in range(concurrency)]

    def unit(self, connection: int, tally: Tally) -> Unit:
        transport, request = self.transports[connection], self.request

        async def send(due: float | None) -> None:
            tally.sending(connection, due)
            try:
                response = await transport.handle_async_request(request)
                await response.aread()
            except httpx.TransportError as error:
                tally.failed(connection, error)
                return
            tally.responded(connection, response.status_code)

        return send

    async def open(self, timeout: float) -> None:
        await _open(self.transports, timeout)

    async def aclose(self) -> None:
        for transport in self.transports:
            await transport.aclose()


async def _open(transports: list[LeanTransport], timeout: float) -> None:
    """Connect every transport at once.  One that cannot is left to its first request,
    which connects again, and whose failure is counted."""
    outcomes = await asyncio.gather(*(transport.open(timeout) for transport in transports), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, httpx.TransportError):
            raise outcome


class _TimedTransport(httpx.AsyncBaseTransport):
    """A scenario's transport: tallies each request the client sends through it."""

    def __init__(self, inner: LeanTransport, connection: int) -> None:
        self.inner = inner
        self.connection = connection
        self.tally = Tally()  # each phase gives its own
        #: The scheduled start of the iteration (open loop): its first request counts from it.
        self.due: float | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        due, self.due = self.due, None
        self.tally.sending(self.connection, due)
        try:
            # The body comes whole with the response: its return is the request's end.
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError as error:
            self.tally.failed(self.connection, error)
            raise
        self.tally.responded(self.connection, response.status_code)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class Scenario:
    """A coroutine function of a client, called again and again, one client per connection."""

    def __init__(
        self, scenario: Callable[[httpx.AsyncClient], Awaitable[object]], origin: httpx.URL, shape: LoadShape
    ) -> None:
        self.scenario = scenario
        self.concurrency = shape.concurrency
        self.clients: list[tuple[httpx.AsyncClient, _TimedTransport]] = []
        for connection in range(shape.concurrency):
            transport = _TimedTransport(LeanTransport(origin), connection)
            client = httpx.AsyncClient(base_url=origin, transport=transport, timeout=shape.timeout)
            self.clients.append((client, transport))

    def unit(self, connection: int, tally: Tally) -> Unit:
        client, transport = self.clients[connection]
        transport.tally = tally
        scenario = self.scenario

        async def iterate(due: float | None) -> None:
            transport.due = due
            client.cookies.clear()
            try:
                await scenario(client)
            except (httpx.TransportError, httpx.HTTPStatusError):
                pass  # the request's outcome, counted as it came back

        return iterate

    async def open(self, timeout: float) -> None:
        await _open([transport.inner for _, transport in self.clients], timeout)

    async def aclose(self) -> None:
        for client, _ in self.clients:
            await client.aclose()


class Load(Protocol):
    concurrency: int

    def unit(self, connection: int, tally: Tally) -> Unit: ...

    async def open(self, timeout: float) -> None: ...

    async def aclose(self) -> None: ...
