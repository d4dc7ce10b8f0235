"""Apps whose *startup* is the point: small on purpose, so a server boots at once.

``failing_startup``
    The lifespan raises before the app is ready (a database that cannot be reached).
``never_ready``
    The lifespan waits for something that never comes; the server never gets ready.
``blocking_startup``
    The lifespan blocks the event loop for 300 ms - harmless for requests, as nothing
    is served yet - then serves ``GET /env/{name}``, which echoes an environment
    variable of the worker (how a test sees what the server was started with).
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
