"""Small apps for sizing workers (`asyncsafe-tune`): what the worker count should follow.

``app``
    ``GET /compute`` spends ~3 ms of pure-Python CPU on the loop per request (a
    CPU-bound service: a worker per CPU is what it can use), and ``GET /wait`` awaits
    20 ms (an I/O-bound one: its latency is mostly waiting).
``heavy_app``
    The same routes, in a worker that holds ~100 MB (a model, a cache) from its
    lifespan startup: what a container's memory limit runs out of first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

#: What the heavy worker holds, written through so that every page is resident.
BALLAST_BYTES = 100 * 2**20

router = APIRouter()


@router.get("/compute")
async def compute() -> dict[str, int]:
    """~3 ms of arithmetic, measured in this thread's CPU time."""
    deadline = time.thread_time() + 0.003
    digest = 0
    while time.thread_time() < deadline:
        for value in range(500):
            digest = (digest * 31 + value) % 1_000_000_007
    return {"digest": digest}


@router.get("/wait")
async def wait() -> dict[str, bool]:
    await asyncio.sleep(0.02)
    return {"waited": True}


app = FastAPI(title="sizing")
app.include_router(router)


@asynccontextmanager
async def holding_lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.ballast = bytearray(b"\x01") * BALLAST_BYTES
    yield
    del app.state.ballast


heavy_app = FastAPI(title="sizing, 100 MB a worker", lifespan=holding_lifespan)
heavy_app.include_router(router)
