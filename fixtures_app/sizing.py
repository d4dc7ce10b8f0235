"""Small apps for sizing workers (`asyncsafe-tune`): what the worker count should follow.

``app``
    ``GET /compute`` spends ~3 ms of pure-Python CPU on the loop per request (a
    CPU-bound service: a worker per CPU is what it can use), and ``GET /wait`` awaits
    20 ms (an I/O-bound one: its latency is mostly waiting).
``heavy_app``
    The same routes, in a worker that holds ~100 MB (a model, a cache) from its
    lifespan startup: what a container's memory limit runs out of first.
``signed_requests``
    A load scenario whose client does real work for each request (signing it, say):
    ~4 ms of CPU in the load generator, then ``GET /wait``.  One generator process
    sends at most ~250 a second of what one worker answers by the thousand: the
    generator, not the server, is what such a sweep measures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI

#: What the heavy worker holds, written through so that every page is resident.
BALLAST_BYTES = 100 * 2**20

router = APIRouter()


def _arithmetic(seconds: float) -> int:
    """`seconds` of arithmetic, measured in this thread's CPU time."""
    deadline = time.thread_time() + seconds
    digest = 0
    while time.thread_time() < deadline:
        for value in range(500):
            digest = (digest * 31 + value) % 1_000_000_007
    return digest


@router.get("/compute")
async def compute() -> dict[str, int]:
    return {"digest": _arithmetic(0.003)}


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


async def signed_requests(client: httpx.AsyncClient) -> None:
    signature = _arithmetic(0.004)
    await client.get("/wait", headers={"x-signature": str(signature)})
