"""A third application with a lifespan *and* a deprecated `on_event` handler (ASF302).

When a FastAPI app is given `lifespan=`, its `on_event` / `on_startup` handlers are
never called - no error, no warning at startup.  `GET /started` shows it: the startup
hook's flag stays false.  (It lives in its own module: ASF302 only reports a handler
when it can tell which app it is registered on, and it cannot when one module builds
several apps.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

_state: dict[str, object] = {}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        _state["client"] = client
        yield
    _state.pop("client", None)


hybrid_app = FastAPI(title="hybrid", lifespan=lifespan)


@hybrid_app.on_event("startup")  # expect: ASF301, ASF302
async def never_runs() -> None:
    """Ignored: `hybrid_app` has a lifespan, so this is dead code."""
    _state["startup_hook_ran"] = True


@hybrid_app.get("/started")
async def started() -> dict[str, bool]:
    return {"startup_hook_ran": bool(_state.get("startup_hook_ran")), "lifespan_ran": "client" in _state}
