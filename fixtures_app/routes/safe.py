"""`/safe/...`: the correct counterparts of every hazard.  Nothing here may be flagged,
and nothing here blocks the event loop.

Three ways to keep blocking work off the loop appear below: use an async API
(`asyncio.sleep`, `httpx.AsyncClient`, `asyncio.create_subprocess_exec`,
`anyio.Path`, `asyncio.open_connection`, `asyncio.Lock`); hand the blocking callable to
a worker thread (`run_in_threadpool`, `anyio.to_thread.run_sync`, `asyncio.to_thread`,
`loop.run_in_executor`); or write a plain `def` route, which FastAPI runs in its
threadpool.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import aiohttp
import anyio
import anyio.to_thread
import requests
from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, status
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from fixtures_app.dependencies import (
    OrmSession,
    ResourcesDep,
    get_db_sync,
    get_exchange_rates_async,
    get_feature_flags_async,
    get_feature_flags_offloaded,
    get_feature_flags_sync,
    get_revenue,
    polite_throttle,
)
from fixtures_app.models import HazardReport, RevenueRow, UpstreamReply
from fixtures_app.resources import REVENUE_REPORT, REVENUE_REPORT_NAMED
from fixtures_app.services import append_audit_line, burn_cpu, count_catalog_lines, rebuild_search_index, revenue_report

router = APIRouter(prefix="/safe", tags=["safe"])

SLOW_CHILD = (sys.executable, "-c", "import time; time.sleep(0.2); print('done')")


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


@router.get("/sleep")
async def safe_sleep() -> HazardReport:
    """Only this request waits; the loop serves others meanwhile."""
    started = time.perf_counter()
    await asyncio.sleep(0.3)
    return HazardReport(hazard="sleep", elapsed_ms=_elapsed_ms(started))


@router.get("/sleep/thread")
async def safe_sleep_in_thread() -> HazardReport:
    """`time.sleep` handed to a worker thread by reference is fine (it is not called here)."""
    started = time.perf_counter()
    await asyncio.to_thread(time.sleep, 0.1)
    await run_in_threadpool(time.sleep, 0.1)
    await anyio.to_thread.run_sync(time.sleep, 0.1)
    await asyncio.get_running_loop().run_in_executor(None, lambda: time.sleep(0.1))
    return HazardReport(hazard="sleep:thread", elapsed_ms=_elapsed_ms(started))


@router.get("/http")
async def safe_http(resources: ResourcesDep) -> UpstreamReply:
    """The shared `httpx.AsyncClient` (created with timeouts in the lifespan)."""
    started = time.perf_counter()
    try:
        reply = await resources.http.get(f"{resources.upstream_url}inventory", timeout=3.0)
        body = reply.json()
    except Exception as error:  # httpx.HTTPError or a non-JSON body
        raise HTTPException(status_code=502, detail=f"upstream unreachable: {error!r}") from error
    return UpstreamReply(status=reply.status_code, body=body, elapsed_ms=_elapsed_ms(started))


@router.get("/http/aiohttp")
async def safe_http_aiohttp(resources: ResourcesDep) -> UpstreamReply:
    """aiohttp with an explicit total timeout."""
    started = time.perf_counter()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5, connect=2)) as session:
            async with session.get(f"{resources.upstream_url}inventory") as reply:
                body = await reply.json(content_type=None)
                code = reply.status
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        raise HTTPException(status_code=502, detail=f"upstream unreachable: {error!r}") from error
    return UpstreamReply(status=code, body=body, elapsed_ms=_elapsed_ms(started))


@router.get("/http/sync-route")
def safe_http_in_sync_route(resources: ResourcesDep) -> UpstreamReply:
    """`requests` in a plain `def` route: FastAPI runs it in the threadpool."""
    started = time.perf_counter()
    try:
        reply = requests.get(f"{resources.upstream_url}inventory", timeout=(2.0, 5.0))
        body = reply.json()
    except (requests.RequestException, ValueError) as error:
        raise HTTPException(status_code=502, detail=f"upstream unreachable: {error!r}") from error
    return UpstreamReply(status=reply.status_code, body=body, elapsed_ms=_elapsed_ms(started))


@router.get("/subprocess")
async def safe_subprocess() -> HazardReport:
    """An asyncio child process, waited for with a timeout."""
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(*SLOW_CHILD, stdout=asyncio.subprocess.PIPE)
    try:
        output, _ = await asyncio.wait_for(child.communicate(), timeout=5.0)
    except TimeoutError:
        child.kill()
        raise HTTPException(status_code=504, detail="child process timed out") from None
    return HazardReport(hazard="subprocess", elapsed_ms=_elapsed_ms(started), detail=output.decode().strip())


@router.get("/file")
async def safe_file(resources: ResourcesDep) -> HazardReport:
    """Reads the catalog through `anyio.Path` (its I/O runs in a worker thread)."""
    started = time.perf_counter()
    catalog = anyio.Path(resources.workspace.catalog)
    if not await catalog.exists():
        raise HTTPException(status_code=404, detail="no catalog dump")
    text = await catalog.read_text(encoding="utf-8")
    return HazardReport(hazard="file", elapsed_ms=_elapsed_ms(started), detail=f"{text.count(chr(10))} lines")


@router.get("/file/threadpool")
async def safe_file_threadpool(resources: ResourcesDep) -> HazardReport:
    """The sync helper handed to the threadpool."""
    started = time.perf_counter()
    lines = await run_in_threadpool(count_catalog_lines, resources.workspace.catalog)
    return HazardReport(hazard="file:threadpool", elapsed_ms=_elapsed_ms(started), detail=f"{lines} lines")


@router.get("/file/sync-route")
def safe_file_in_sync_route(resources: ResourcesDep) -> HazardReport:
    """`open()` in a plain `def` route runs in the threadpool."""
    started = time.perf_counter()
    catalog: Path = resources.workspace.catalog
    with open(catalog, encoding="utf-8") as dump:
        lines = sum(1 for _ in dump)
    return HazardReport(hazard="file:sync-route", elapsed_ms=_elapsed_ms(started), detail=f"{lines} lines")


@router.get("/socket")
async def safe_socket(resources: ResourcesDep) -> HazardReport:
    """asyncio streams, with a deadline on the whole exchange."""
    parts = urlsplit(resources.upstream_url)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(3.0):
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            writer.write(b"GET /socket HTTP/1.0\r\nHost: upstream\r\n\r\n")
            await writer.drain()
            status_line = await reader.readline()
            writer.close()
            await writer.wait_closed()
    except (OSError, TimeoutError) as error:
        raise HTTPException(status_code=502, detail=f"upstream unreachable: {error!r}") from error
    return HazardReport(hazard="socket", elapsed_ms=_elapsed_ms(started), detail=status_line.decode().strip())


@router.get("/db")
async def safe_db(revenue: Annotated[list[tuple[int, str, float]], Depends(get_revenue)]) -> list[RevenueRow]:
    """The slow report from an async dependency that offloads it to a worker thread."""
    return [RevenueRow(customer=customer, sku=sku, revenue=value) for customer, sku, value in revenue]


@router.get("/db/sync-route")
def safe_db_in_sync_route(
    db: Annotated[sqlite3.Connection, Depends(get_db_sync)], limit: int = Query(10, ge=1, le=100)
) -> list[RevenueRow]:
    """SQLite in a plain `def` route, with a connection from a plain `def` dependency."""
    rows = db.execute(REVENUE_REPORT, (limit,)).fetchall()
    return [RevenueRow(customer=customer, sku=sku, revenue=value) for customer, sku, value in rows]


@router.get("/orm/sync-route")
def safe_orm_in_sync_route(db: OrmSession, limit: int = Query(10, ge=1, le=100)) -> list[RevenueRow]:
    """A synchronous SQLAlchemy `Session` in a plain `def` route: FastAPI runs it in its
    thread pool, as the guide recommends for blocking database code."""
    rows = db.execute(text(REVENUE_REPORT_NAMED), {"limit": limit}).all()
    return [RevenueRow(customer=customer, sku=sku, revenue=value) for customer, sku, value in rows]


@router.get("/db/to-thread")
async def safe_db_to_thread(resources: ResourcesDep, limit: int = Query(10, ge=1, le=100)) -> list[RevenueRow]:
    rows = await asyncio.to_thread(revenue_report, resources.workspace.database, limit)
    return [RevenueRow(customer=customer, sku=sku, revenue=value) for customer, sku, value in rows]


_stock_lock = asyncio.Lock()
_stock: dict[str, int] = {"SKU-000001": 3}


@router.get("/lock")
async def safe_lock() -> HazardReport:
    """`asyncio.Lock`: waiting for it suspends this coroutine, not the loop."""
    started = time.perf_counter()
    async with _stock_lock:
        await asyncio.sleep(0.05)
        _stock["SKU-000001"] += 1
    return HazardReport(hazard="lock", elapsed_ms=_elapsed_ms(started), detail=json.dumps(_stock))


_thread_lock = threading.Lock()


def _with_thread_lock() -> int:
    with _thread_lock:
        time.sleep(0.05)
        return 1


@router.get("/lock/threaded")
async def safe_thread_lock() -> HazardReport:
    """A `threading.Lock` is fine when it is taken in a worker thread."""
    started = time.perf_counter()
    await anyio.to_thread.run_sync(_with_thread_lock)
    return HazardReport(hazard="lock:threaded", elapsed_ms=_elapsed_ms(started))


@router.get("/queue")
async def safe_queue() -> HazardReport:
    """`asyncio.Queue` with a deadline on `get`."""
    replies: asyncio.Queue[str] = asyncio.Queue(maxsize=1)

    async def quoter() -> None:
        await asyncio.sleep(0.2)
        await replies.put("quote: 42.00 EUR")

    started = time.perf_counter()
    task = asyncio.create_task(quoter())
    try:
        quote = await asyncio.wait_for(replies.get(), timeout=1.0)
    except TimeoutError:
        raise HTTPException(status_code=504, detail="no quote in time") from None
    finally:
        await task
    return HazardReport(hazard="queue", elapsed_ms=_elapsed_ms(started), detail=quote)


@router.get("/cpu")
async def safe_cpu(milliseconds: int = Query(300, ge=1, le=5_000)) -> HazardReport:
    """CPU-bound work in a worker thread; the loop gets the GIL back every few ms."""
    started = time.perf_counter()
    digest = await asyncio.to_thread(burn_cpu, milliseconds / 1000)
    return HazardReport(hazard="cpu", elapsed_ms=_elapsed_ms(started), detail=str(digest))


@router.get("/indirect")
async def safe_indirect(resources: ResourcesDep) -> HazardReport:
    """The slow sync helper handed to the threadpool instead of called on the loop."""
    started = time.perf_counter()
    lines = await run_in_threadpool(rebuild_search_index, resources.workspace.catalog)
    return HazardReport(hazard="indirect", elapsed_ms=_elapsed_ms(started), detail=f"{lines} lines indexed")


@router.get("/background", status_code=status.HTTP_202_ACCEPTED)
async def safe_background(resources: ResourcesDep, background_tasks: BackgroundTasks) -> HazardReport:
    """A plain `def` background task: Starlette runs it in the threadpool."""
    line = f"{time.time():.3f} safe download"
    background_tasks.add_task(append_audit_line, resources.workspace.audit_log, line)
    background_tasks.add_task(partial(time.sleep, 0.05))
    return HazardReport(hazard="background", elapsed_ms=0.0, detail="audit record scheduled")


@router.get("/timeout")
async def safe_timeouts(resources: ResourcesDep) -> UpstreamReply:
    """Deadlines on awaits: `asyncio.wait_for` with a number, `asyncio.timeout` with one."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(4.0):
            reply = await asyncio.wait_for(resources.http.get(f"{resources.upstream_url}inventory"), timeout=3.0)
    except (TimeoutError, OSError) as error:
        raise HTTPException(status_code=504, detail=f"upstream too slow: {error!r}") from error
    except Exception as error:  # httpx.HTTPError
        raise HTTPException(status_code=502, detail=f"upstream unreachable: {error!r}") from error
    return UpstreamReply(status=reply.status_code, body=reply.json(), elapsed_ms=_elapsed_ms(started))


# --- dependencies done right ---------------------------------------------------------------


@router.get("/deps/sleep", dependencies=[Depends(polite_throttle)])
async def safe_dependency_sleep() -> HazardReport:
    return HazardReport(hazard="dependency:sleep", elapsed_ms=0.0, detail="throttled by asyncio sleep")


@router.get("/deps/http")
async def safe_dependency_http(rates: Annotated[dict[str, float], Depends(get_exchange_rates_async)]) -> HazardReport:
    return HazardReport(hazard="dependency:http", elapsed_ms=0.0, detail=json.dumps(rates))


@router.get("/deps/file")
async def safe_dependency_file(
    sync_flags: Annotated[dict[str, bool], Depends(get_feature_flags_sync)],
    async_flags: Annotated[dict[str, bool], Depends(get_feature_flags_async)],
    offloaded_flags: Annotated[dict[str, bool], Depends(get_feature_flags_offloaded)],
) -> HazardReport:
    if not sync_flags == async_flags == offloaded_flags:
        raise HTTPException(status_code=500, detail="the three flag readers disagree")
    return HazardReport(hazard="dependency:file", elapsed_ms=0.0, detail=json.dumps(sync_flags))


# --- sync helpers that block, called where blocking is fine --------------------------------

from fixtures_app import repository


@router.get("/helpers/revenue")
def helper_revenue_sync(resources: ResourcesDep, limit: int = Query(5, ge=1, le=100)) -> list[RevenueRow]:
    """A `def` route: FastAPI runs it, and the helper's query, in its threadpool."""
    return repository.top_revenue(resources.workspace.database, limit)


@router.get("/helpers/revenue/offloaded")
async def helper_revenue_offloaded(resources: ResourcesDep, limit: int = Query(5, ge=1, le=100)) -> list[RevenueRow]:
    """An async route that hands the helper to a worker thread instead of calling it."""
    return await run_in_threadpool(repository.top_revenue, resources.workspace.database, limit)
