"""The application: `app = FastAPI(lifespan=lifespan)`, its middleware and routers.

Run it with `uvicorn fixtures_app.main:app`.  `/health` and `/items` are fast and never
block; everything under `/hazards/` blocks on purpose (see `routes/hazards.py`); `/slow`
and `/stream` take their time without blocking (what a shutdown must let finish).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import anyio
import httpx
import requests
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from fixtures_app.config import AppConfig
from fixtures_app.models import Family, Health
from fixtures_app.resources import Resources, prepare_workspace, remove_workspace
from fixtures_app.routes import checkout, hazards, items, lifecycle, outbound, reports, safe
from fixtures_app.upstream import StubUpstream
from fixtures_app.warmup import warm_up

CallNext = Callable[[Request], Awaitable[Response]]

#: The prefix under which `audit_trail` misbehaves; the last path segment picks the family.
MIDDLEWARE_HAZARD_PREFIX = "/hazards/middleware/"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the shared resources at startup and close them at shutdown.

    Everything slow (seeding the scratch files, starting and stopping the stub
    upstream, deleting the directory) runs in a worker thread: a lifespan is a
    coroutine on the event loop like any other.
    """
    config = AppConfig.from_env()
    if config.thread_tokens is not None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.thread_tokens
    workspace = await anyio.to_thread.run_sync(prepare_workspace, config)
    stub: StubUpstream | None = None
    if config.upstream is None:
        stub = StubUpstream(config.upstream_delay)
        upstream_url = await anyio.to_thread.run_sync(stub.start)
    else:
        upstream_url = config.upstream
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0))
    app.state.resources = Resources(config, workspace, upstream_url, http, stub)
    await warm_up(app)
    try:
        yield
    finally:
        await http.aclose()
        if stub is not None:
            await anyio.to_thread.run_sync(stub.stop)
        await anyio.to_thread.run_sync(remove_workspace, workspace)


app = FastAPI(title="fixtures_app", version="1.0.0", lifespan=lifespan)
app.include_router(items.router)
app.include_router(safe.router)
app.include_router(outbound.router)
app.include_router(hazards.router)
app.include_router(lifecycle.router)
app.include_router(reports.router)
app.include_router(checkout.router)


@app.get("/health", tags=["ops"])
async def health(request: Request) -> Health:
    """Liveness: answers at once, touches nothing."""
    resources: Resources | None = getattr(request.app.state, "resources", None)
    return Health(upstream=resources.upstream_url if resources else "unconfigured")


@app.middleware("http")
async def server_timing(request: Request, call_next: CallNext) -> Response:
    """Adds a `Server-Timing` header.  Measures the clock only: nothing here blocks."""
    started = time.perf_counter()
    response = await call_next(request)
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


_quota_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="quota")

AUDIT_INSERT = "INSERT INTO audit (at, method, path) VALUES (?, ?, ?)"
#: A stand-in for an audit hook script the middleware runs per request.
AUDIT_HOOK = [sys.executable, "-c", "import sys, time; time.sleep(0.2); sys.stdout.write('audited')"]


def _check_quota(client: str) -> int:
    """The quota service's client: synchronous, ~0.2 s per call (runs in `_quota_pool`)."""
    time.sleep(0.2)
    return 1000 - len(client)


@app.middleware("http")
async def audit_trail(request: Request, call_next: CallNext) -> Response:
    """Records every request under `/hazards/middleware/<family>` in an audit trail,
    the wrong way: with a blocking call of the chosen family, on the event loop, before
    the route even starts.  Every other path goes straight through.

    Middleware is the worst place to block: it runs for every request it wraps.
    """
    path = request.url.path
    if not path.startswith(MIDDLEWARE_HAZARD_PREFIX):
        return await call_next(request)
    try:
        family = Family(path.removeprefix(MIDDLEWARE_HAZARD_PREFIX).strip("/"))
    except ValueError:
        return await call_next(request)  # the route answers 422 for an unknown family
    resources: Resources = request.app.state.resources
    upstream = resources.upstream_url
    record = {"at": time.time(), "method": request.method, "path": path}
    started = time.perf_counter()
    try:
        if family is Family.sleep:
            time.sleep(0.2)  # expect: ASF101
        elif family is Family.http:
            requests.post(f"{upstream}audit", json=record, timeout=2.0)  # expect: ASF102
        elif family is Family.subprocess:
            subprocess.run(AUDIT_HOOK, capture_output=True, check=True, timeout=5)  # expect: ASF103
        elif family is Family.file:
            with open(resources.workspace.audit_log, "a", encoding="utf-8") as log:  # expect: ASF104
                log.write(json.dumps(record) + "\n")  # expect: ASF104
                os.fsync(log.fileno())  # expect: ASF104
        elif family is Family.socket:
            parts = urlsplit(upstream)
            with socket.create_connection((parts.hostname, parts.port or 80), timeout=2.0) as sink:  # expect: ASF105
                message = f"POST /audit HTTP/1.0\r\nContent-Length: {len(path)}\r\n\r\n{path}"
                sink.sendall(message.encode())  # expect: ASF105
                sink.recv(64)  # expect: ASF105
        elif family is Family.db:
            with sqlite3.connect(resources.workspace.database) as db:  # expect: ASF106
                db.execute(AUDIT_INSERT, (record["at"], record["method"], path))  # expect: ASF106
        elif family is Family.lock:
            # Offloading to a pool and then waiting for the result on the loop is no offloading at all.
            caller = request.client.host if request.client else "unknown"
            remaining = _quota_pool.submit(_check_quota, caller).result(timeout=2.0)  # expect: ASF107
            record["quota"] = remaining
    except (OSError, requests.RequestException, subprocess.SubprocessError, sqlite3.Error) as error:
        return JSONResponse({"detail": f"audit trail failed: {error}"}, status_code=502)
    request.state.audit = {"family": family.value, "elapsed_ms": (time.perf_counter() - started) * 1000}
    return await call_next(request)
