"""FastAPI dependencies: hazardous async ones, and their correct counterparts.

FastAPI awaits an `async def` dependency on the event loop, exactly like an async
route, so a blocking call inside one stalls every request on the worker - and it is
easy to miss, because the dependency runs before the route body even starts.  A plain
`def` dependency is run in the threadpool, where blocking is fine.

The hazardous dependencies are only used by the `/hazards/deps/...` routes.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import anyio
import requests
from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from fixtures_app.resources import Resources
from fixtures_app.services import read_flags, revenue_report

#: What `get_build_info` runs: a stand-in for `git describe` that takes 0.2 s.
BUILD_INFO_SCRIPT = "import platform, time; time.sleep(0.2); print(platform.python_version())"


async def get_resources(request: Request) -> Resources:
    """The shared resources the lifespan opened (no I/O: a lookup on `app.state`)."""
    resources = getattr(request.app.state, "resources", None)
    if resources is None:
        raise RuntimeError("fixtures_app's lifespan has not run: use `with TestClient(app)` or a real server")
    return resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


# --- hazards: blocking calls in async dependencies ----------------------------------------


async def throttle() -> None:
    """A crude rate limiter: every caller waits 200 ms.

    Hazard: `time.sleep` in an async dependency freezes the whole worker for those
    200 ms, not just this request.
    """
    time.sleep(0.2)  # expect: ASF101


async def get_exchange_rates(resources: ResourcesDep) -> dict[str, float]:
    """Today's exchange rates from the pricing upstream.

    Hazard: `requests` is synchronous; the event loop waits for the whole round trip.
    """
    try:
        reply = requests.get(f"{resources.upstream_url}rates", timeout=2.0)  # expect: ASF102
    except requests.RequestException as error:
        raise HTTPException(status_code=502, detail=f"pricing upstream unreachable: {error}") from error
    return reply.json()["rates"]


async def get_build_info() -> str:
    """The running build's version, from an external tool.

    Hazard: `subprocess.check_output` waits for the child to exit, on the loop.
    """
    output = subprocess.check_output([sys.executable, "-c", BUILD_INFO_SCRIPT], text=True, timeout=5)  # expect: ASF103
    return output.strip()


async def get_feature_flags(resources: ResourcesDep) -> dict[str, bool]:
    """Feature flags, re-read from disk on every request so edits apply at once.

    Hazard: `open()` and `read()` are blocking disk I/O in async code.
    """
    with open(resources.workspace.flags, encoding="utf-8") as handle:  # expect: ASF104
        text = handle.read()  # expect: ASF104
    return json.loads(text)


async def probe_upstream(resources: ResourcesDep) -> str:
    """Checks that the upstream answers before the route talks to it.

    Hazard: name resolution, `connect`, `sendall` and `recv` on a blocking socket all
    wait on the loop; `recv` waits for the upstream's (slow) reply.
    """
    parts = urlsplit(resources.upstream_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]  # expect: ASF105
        with socket.create_connection(address[:2], timeout=2.0) as connection:  # expect: ASF105
            connection.sendall(b"GET /ping HTTP/1.0\r\nHost: upstream\r\n\r\n")  # expect: ASF105
            status_line = connection.recv(64)  # expect: ASF105
    except OSError as error:
        raise HTTPException(status_code=502, detail=f"upstream probe failed: {error}") from error
    return status_line.split(b"\r\n", 1)[0].decode("latin-1")


async def get_db(resources: ResourcesDep) -> AsyncIterator[sqlite3.Connection]:
    """A database connection per request.

    Hazard: `sqlite3.connect` opens (and may create or recover) the database file on
    the loop - and everything the route then does with the connection blocks too.
    """
    with closing(sqlite3.connect(resources.workspace.database)) as connection:  # expect: ASF106
        yield connection


_rates_lock = threading.Lock()
_rates_cache: dict[str, float] = {}


def _refresh_rates_holding_lock() -> None:
    """Runs in a thread that was handed `_rates_lock` already held; releases it when done."""
    try:
        time.sleep(0.2)  # a slow recomputation; fine here, this is a worker thread
        _rates_cache.update({"EUR": 0.92, "GBP": 0.79, "JPY": 151.2})
    finally:
        _rates_lock.release()


async def get_cached_rates(refresh: bool = True) -> dict[str, float]:
    """Exchange rates from an in-process cache that a worker thread rebuilds.

    Hazard: `threading.Lock` is a thread primitive.  Taking it on the loop - either
    `acquire()` or `with lock:` - parks the event loop until the refresher thread lets
    go (here ~200 ms), and no other coroutine runs meanwhile.  Use `asyncio.Lock` for
    coroutines, or take the thread lock in a worker thread.
    """
    if refresh:
        # Hand the held lock to the refresher, so no reader sees a half-built cache.
        _rates_lock.acquire()  # expect: ASF107
        threading.Thread(target=_refresh_rates_holding_lock, name="rates-refresher", daemon=True).start()
    with _rates_lock:  # expect: ASF107
        return dict(_rates_cache)


# --- the correct counterparts -------------------------------------------------------------


def get_feature_flags_sync(resources: ResourcesDep) -> dict[str, bool]:
    """The same file read in a plain `def` dependency: FastAPI runs it in the threadpool."""
    with open(resources.workspace.flags, encoding="utf-8") as handle:
        return json.loads(handle.read())


async def get_feature_flags_async(resources: ResourcesDep) -> dict[str, bool]:
    """The same file read through `anyio.Path`, which does its I/O in a worker thread."""
    text = await anyio.Path(resources.workspace.flags).read_text(encoding="utf-8")
    return json.loads(text)


async def get_feature_flags_offloaded(resources: ResourcesDep) -> dict[str, bool]:
    """The same again, handing the sync helper to the threadpool explicitly."""
    return await run_in_threadpool(read_flags, resources.workspace.flags)


def get_db_sync(resources: ResourcesDep) -> Iterator[sqlite3.Connection]:
    """A connection opened and closed in the threadpool.  `check_same_thread=False`
    because FastAPI may run the route and the teardown on different threads."""
    connection = sqlite3.connect(resources.workspace.database, check_same_thread=False)
    try:
        yield connection
    finally:
        connection.close()


@cache
def _orm_engine(database: Path) -> Engine:
    # One engine (and connection pool) per database, as an app keeps one for its life.
    return create_engine(f"sqlite:///{database}", connect_args={"check_same_thread": False})


def get_orm_session(resources: ResourcesDep) -> Iterator[Session]:
    """A synchronous SQLAlchemy `Session`, as most FastAPI tutorials make one: fine in a
    `def` route, a stall in an `async def` one."""
    with Session(_orm_engine(resources.workspace.database)) as session:
        yield session


#: What the FastAPI project template calls `SessionDep`: routes of other modules use it.
OrmSession = Annotated[Session, Depends(get_orm_session)]


async def get_revenue(resources: ResourcesDep) -> list[tuple[int, str, float]]:
    """The slow report, computed in a worker thread while the loop keeps serving."""
    return await anyio.to_thread.run_sync(revenue_report, resources.workspace.database, 5)


async def get_exchange_rates_async(resources: ResourcesDep) -> dict[str, float]:
    """The rates through the app's shared `httpx.AsyncClient` (timeouts set at creation)."""
    try:
        reply = await resources.http.get(f"{resources.upstream_url}rates")
        reply.raise_for_status()
    except Exception as error:  # httpx.HTTPError, or a malformed body
        raise HTTPException(status_code=502, detail=f"pricing upstream unreachable: {error}") from error
    return reply.json()["rates"]


async def polite_throttle() -> None:
    """The rate limiter done right: only this request waits."""
    await anyio.sleep(0.2)
