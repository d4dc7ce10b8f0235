"""Apps whose *shutdown* is the point: each serves `/slow` and `/stream` like the main
app, and gets one thing wrong when it is told to stop.

``raising_shutdown``
    The lifespan's shutdown raises: the metrics it flushes cannot be delivered.
``hanging_shutdown``
    The lifespan's shutdown waits for a queue of outgoing events that nothing drains.
``leaky_shutdown``
    The lifespan starts a polling task at startup and never stops it: it is still
    running when the shutdown completes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fixtures_app.routes import lifecycle


class MetricsUnreachable(ConnectionError):
    pass


async def flush_metrics() -> None:
    raise MetricsUnreachable("fixtures_app.shutdown: cannot flush metrics to 127.0.0.1:1")


@asynccontextmanager
async def raising_lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await flush_metrics()


raising_shutdown = FastAPI(title="raising shutdown", lifespan=raising_lifespan)
raising_shutdown.include_router(lifecycle.router)


@asynccontextmanager
async def hanging_lifespan(app: FastAPI) -> AsyncIterator[None]:
    outbox: asyncio.Queue[str] = asyncio.Queue()
    outbox.put_nowait("goodbye")  # nothing ever takes it
    yield
    await outbox.join()


hanging_shutdown = FastAPI(title="hanging shutdown", lifespan=hanging_lifespan)
hanging_shutdown.include_router(lifecycle.router)


async def poll_config_forever() -> None:
    while True:
        await asyncio.sleep(0.5)


@asynccontextmanager
async def leaky_lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.poller = asyncio.create_task(poll_config_forever())
    yield  # and the poller is never cancelled


leaky_shutdown = FastAPI(title="leaky shutdown", lifespan=leaky_lifespan)
leaky_shutdown.include_router(lifecycle.router)
