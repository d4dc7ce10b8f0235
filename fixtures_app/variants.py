"""Apps whose *startup* is the point: small on purpose, so a server boots at once.

``failing_startup``
    The lifespan raises before the app is ready (a database that cannot be reached).
``never_ready``
    The lifespan waits for something that never comes; the server never gets ready.
``blocking_startup``
    The lifespan blocks the event loop for 300 ms - harmless for requests, as nothing
    is served yet - then serves ``GET /env/{name}``, which echoes an environment
    variable of the worker (how a test sees what the server was started with).
``periodic_stall_app``
    Serves a fast ``GET /ping``, but its lifespan starts a housekeeping task that every
    second blocks the event loop for 300 ms (a cache "refresh" with ``time.sleep``).
    Requests that arrive during a stall wait for it: an open-loop load at a steady
    rate sees the stalls in its p99, while a closed loop at concurrency 1 has only one
    request waiting per stall and hides them.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI


class DatabaseUnreachable(RuntimeError):
    pass


@asynccontextmanager
async def failing_lifespan(app: FastAPI) -> AsyncIterator[None]:
    raise DatabaseUnreachable("fixtures_app.variants: cannot reach the orders database at 127.0.0.1:1")
    yield  # a generator: never reached


failing_startup = FastAPI(title="failing startup", lifespan=failing_lifespan)


@asynccontextmanager
async def waiting_lifespan(app: FastAPI) -> AsyncIterator[None]:
    await asyncio.Event().wait()  # nothing ever sets it
    yield


never_ready = FastAPI(title="never ready", lifespan=waiting_lifespan)


@asynccontextmanager
async def blocking_lifespan(app: FastAPI) -> AsyncIterator[None]:
    time.sleep(0.3)  # expect: ASF101
    yield


blocking_startup = FastAPI(title="blocking startup", lifespan=blocking_lifespan)


@blocking_startup.get("/env/{name}")
async def environment_variable(name: str) -> dict[str, str | None]:
    return {"name": name, "value": os.environ.get(name)}


#: The housekeeping task of `periodic_stall_app`: sleeps this long, then blocks the loop
#: for `STALL_SECONDS`, over and over.
STALL_PERIOD = 1.0
STALL_SECONDS = 0.3


async def refresh_cache_forever() -> None:
    while True:
        await asyncio.sleep(STALL_PERIOD)
        time.sleep(STALL_SECONDS)  # expect: ASF101


@asynccontextmanager
async def housekeeping_lifespan(app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(refresh_cache_forever())
    try:
        yield
    finally:
        task.cancel()


periodic_stall_app = FastAPI(title="periodic stall", lifespan=housekeeping_lifespan)


@periodic_stall_app.get("/ping")
async def ping() -> dict[str, str]:
    return {"ping": "pong"}
