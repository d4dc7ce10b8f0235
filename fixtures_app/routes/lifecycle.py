"""`/slow` and `/stream`: requests that take a while on purpose, without blocking the
event loop - what a shutdown must let finish (see `pytest_asyncsafe`'s drain check).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

router = APIRouter(tags=["lifecycle"])

#: The body of `/slow`: long enough that a response cut short shows.
SLOW_BODY = "slow response, complete\n" * 256


@router.get("/slow", response_class=PlainTextResponse)
async def slow(seconds: float = Query(1.0, ge=0, le=60)) -> str:
    """Answers after `seconds` (awaited: the loop serves others meanwhile)."""
    await asyncio.sleep(seconds)
    return SLOW_BODY


@router.get("/stream")
async def stream(chunks: int = Query(10, ge=1, le=1000), every: float = Query(0.5, ge=0, le=10)) -> StreamingResponse:
    """A streaming response: `chunks` lines, one every `every` seconds."""

    async def lines() -> AsyncIterator[str]:
        for index in range(chunks):
            yield f"chunk {index}\n"
            await asyncio.sleep(every)

    return StreamingResponse(lines(), media_type="text/plain")
