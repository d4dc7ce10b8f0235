"""`/hazards/...`: async routes that block the event loop, one blocking family at a time.

Each route really does the blocking thing when called - against loopback targets only
(the stub upstream, a child Python process, the scratch files, a temp SQLite database,
in-process threads) - so a runtime monitor sees a genuine stall, and each line the
linter must flag carries an `# expect:` annotation.

While one of these routes runs, *every* other request on the worker waits: that is
the hazard.  The correct versions are in `routes/safe.py`.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import shlex
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
import requests
import urllib3
from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request, status
from sqlalchemy import text

from fixtures_app.dependencies import (
    OrmSession,
    ResourcesDep,
    get_build_info,
    get_cached_rates,
    get_db,
    get_exchange_rates,
    get_feature_flags,
    probe_upstream,
    throttle,
)
from fixtures_app.models import Family, HazardReport, RevenueRow, UpstreamReply
from fixtures_app.resources import REVENUE_REPORT, REVENUE_REPORT_NAMED
from fixtures_app.services import legacy_sync_fetch, rebuild_search_index

router = APIRouter(prefix="/hazards", tags=["hazards"])

#: A child process that takes 0.2 s, standing in for any external tool.
SLOW_CHILD = [sys.executable, "-c", "import time; time.sleep(0.2); print('done')"]

#: Errors an unreachable upstream produces, whichever client is used.
UPSTREAM_ERRORS = (
    OSError,  # includes urllib.error.URLError and requests.ConnectionError
    ValueError,  # a body that is not JSON
    requests.RequestException,
    httpx.HTTPError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
)

# Sync clients created once, at import (not on the loop); *using* them in async code blocks.
_session = requests.Session()
_urllib3_pool = urllib3.PoolManager(timeout=urllib3.Timeout(total=2.0), retries=False)
_httpx_sync = httpx.Client(timeout=2.0)
_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hazards")


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _bad_gateway(error: Exception) -> HTTPException:
    return HTTPException(status_code=status.HTTP_502_BAD_GATEWAY, detail=f"upstream unreachable: {error!r}")


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


# --- ASF101: sleeping ------------------------------------------------------------------------


@router.get("/sleep")
async def blocking_sleep() -> HazardReport:
    """A "back-off" written with `time.sleep`: the loop stops for 300 ms."""
    started = time.perf_counter()
    time.sleep(0.3)  # expect: ASF101
    return HazardReport(hazard="sleep", elapsed_ms=_elapsed_ms(started))


# --- ASF102: synchronous HTTP clients ----------------------------------------------------


class HttpClientName(str, Enum):
    requests = "requests"
    session = "requests-session"
    urllib = "urllib"
    http_client = "http.client"
    urllib3 = "urllib3"
    httpx = "httpx"
    httpx_client = "httpx-client"
    gateway = "gateway"


class InventoryGateway:
    """A client for the inventory service, written for sync code and later called from
    async code - a very common way for `requests` to end up on the event loop."""

    session: requests.Session

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = _session

    async def stock_level(self, sku: str) -> dict[str, Any]:
        reply = self.session.get(f"{self.base_url}stock/{sku}", timeout=2.0)  # expect: ASF102
        reply.raise_for_status()
        return reply.json()


@router.get("/http")
async def blocking_http(resources: ResourcesDep, client: HttpClientName = HttpClientName.requests) -> UpstreamReply:
    """Calls the upstream with a synchronous client (each with a timeout: the problem here
    is not waiting forever, it is waiting *on the loop*).  502 if the upstream is down."""
    url = f"{resources.upstream_url}inventory"
    started = time.perf_counter()
    try:
        if client is HttpClientName.requests:
            reply = requests.get(url, timeout=2.0)  # expect: ASF102
            code, body = reply.status_code, reply.json()
        elif client is HttpClientName.session:
            reply = _session.get(url, timeout=2.0)  # expect: ASF102
            code, body = reply.status_code, reply.json()
        elif client is HttpClientName.urllib:
            with urllib.request.urlopen(url, timeout=2.0) as response:  # expect: ASF102
                code, body = response.status, json.loads(response.read())
        elif client is HttpClientName.http_client:
            host, port = _address(url)
            connection = http.client.HTTPConnection(host, port, timeout=2.0)
            try:
                connection.request("GET", "/inventory")  # expect: ASF102
                answer = connection.getresponse()  # expect: ASF102
                code, body = answer.status, json.loads(answer.read())  # expect: ASF102
            finally:
                connection.close()
        elif client is HttpClientName.urllib3:
            response = _urllib3_pool.request("GET", url)  # expect: ASF102
            code, body = response.status, json.loads(response.data)
        elif client is HttpClientName.httpx:
            reply = httpx.get(url, timeout=2.0)  # expect: ASF102
            code, body = reply.status_code, reply.json()
        elif client is HttpClientName.httpx_client:
            reply = _httpx_sync.get(url)  # expect: ASF102
            code, body = reply.status_code, reply.json()
        else:
            code, body = 200, await InventoryGateway(resources.upstream_url).stock_level("SKU-000042")
    except UPSTREAM_ERRORS as error:
        raise _bad_gateway(error) from error
    return UpstreamReply(status=code, body=body, elapsed_ms=_elapsed_ms(started))


@router.get("/http/unbounded")
async def blocking_http_without_timeout(
    resources: ResourcesDep, client: Literal["requests", "urllib"] = "requests"
) -> UpstreamReply:
    """Worse still: a synchronous call with no timeout at all.  If the upstream accepts
    the connection and never answers, this worker is gone for good."""
    url = f"{resources.upstream_url}inventory"
    started = time.perf_counter()
    try:
        if client == "requests":
            reply = requests.get(url)  # expect: ASF102, ASF201
            code, body = reply.status_code, reply.json()
        else:
            with urllib.request.urlopen(url) as response:  # expect: ASF102, ASF204
                code, body = response.status, json.loads(response.read())
    except UPSTREAM_ERRORS as error:
        raise _bad_gateway(error) from error
    return UpstreamReply(status=code, body=body, elapsed_ms=_elapsed_ms(started))


# --- ASF103: child processes -------------------------------------------------------------


@router.get("/subprocess")
async def blocking_subprocess(via: Literal["run", "os.system", "os.popen"] = "run") -> HazardReport:
    """Runs a 0.2 s child process and waits for it on the loop."""
    started = time.perf_counter()
    if via == "run":
        completed = subprocess.run(SLOW_CHILD, capture_output=True, text=True, check=True, timeout=5)  # expect: ASF103
        detail = completed.stdout.strip()
    elif via == "os.system":
        detail = f"exit status {os.system(shlex.join(SLOW_CHILD) + ' > /dev/null')}"  # expect: ASF103
    else:
        detail = os.popen(shlex.join(SLOW_CHILD)).read().strip()  # expect: ASF103
    return HazardReport(hazard=f"subprocess:{via}", elapsed_ms=_elapsed_ms(started), detail=detail)


@router.get("/subprocess/unbounded")
async def blocking_subprocess_without_timeout() -> HazardReport:
    """Waits for children with no timeout: a child that hangs hangs the worker."""
    started = time.perf_counter()
    version = subprocess.check_output(SLOW_CHILD, text=True)  # expect: ASF103, ASF206
    child = subprocess.Popen(SLOW_CHILD, stdout=subprocess.PIPE, text=True)  # expect: ASF103
    output, _ = child.communicate()  # expect: ASF103, ASF206
    return HazardReport(hazard="subprocess:unbounded", elapsed_ms=_elapsed_ms(started), detail=version + output)


# --- ASF104: files -----------------------------------------------------------------------


@router.get("/file")
async def blocking_file(resources: ResourcesDep, via: Literal["open", "pathlib", "listdir"] = "open") -> HazardReport:
    """Reads the 12 MB catalog dump (or lists the scratch directory) on the loop."""
    catalog: Path = resources.workspace.catalog
    started = time.perf_counter()
    if via == "open":
        size = os.path.getsize(catalog)  # expect: ASF104
        with open(catalog, encoding="utf-8") as dump:  # expect: ASF104
            lines = dump.read().count("\n")  # expect: ASF104
        detail = f"{lines} lines, {size} bytes"
    elif via == "pathlib":
        if not catalog.exists():  # expect: ASF104
            raise HTTPException(status_code=404, detail="no catalog dump")
        detail = f"{catalog.read_text(encoding='utf-8').count(chr(10))} lines"  # expect: ASF104
    else:
        detail = ", ".join(sorted(os.listdir(catalog.parent)))  # expect: ASF104
    return HazardReport(hazard=f"file:{via}", elapsed_ms=_elapsed_ms(started), detail=detail)


# --- ASF105: sockets ---------------------------------------------------------------------


@router.get("/socket")
async def blocking_socket(resources: ResourcesDep) -> HazardReport:
    """Speaks HTTP to the upstream over a plain blocking socket (with a timeout)."""
    started = time.perf_counter()
    try:
        with socket.create_connection(_address(resources.upstream_url), timeout=2.0) as conn:  # expect: ASF105
            conn.sendall(b"GET /socket HTTP/1.0\r\nHost: upstream\r\n\r\n")  # expect: ASF105
            received = b""
            while chunk := conn.recv(4096):  # expect: ASF105
                received += chunk
    except OSError as error:
        raise _bad_gateway(error) from error
    return HazardReport(hazard="socket", elapsed_ms=_elapsed_ms(started), detail=received.split(b"\r\n", 1)[0].decode())


@router.get("/socket/unbounded")
async def blocking_socket_without_timeout(resources: ResourcesDep) -> HazardReport:
    """The same with no timeout: `connect` to a black-holed address waits minutes."""
    started = time.perf_counter()
    try:
        conn = socket.create_connection(_address(resources.upstream_url))  # expect: ASF105, ASF205
        with conn:
            conn.sendall(b"GET /socket HTTP/1.0\r\n\r\n")  # expect: ASF105
            first = conn.recv(64)  # expect: ASF105
    except OSError as error:
        raise _bad_gateway(error) from error
    return HazardReport(hazard="socket:unbounded", elapsed_ms=_elapsed_ms(started), detail=first.decode("latin-1"))


# --- ASF106: databases -------------------------------------------------------------------


@router.get("/db")
async def blocking_db(resources: ResourcesDep, limit: int = Query(10, ge=1, le=100)) -> list[RevenueRow]:
    """The unindexed revenue report (~0.2 s of SQLite work) run on the loop."""
    with sqlite3.connect(resources.workspace.database) as connection:  # expect: ASF106
        rows = connection.execute(REVENUE_REPORT, (limit,)).fetchall()  # expect: ASF106
    return [RevenueRow(customer=customer, sku=sku, revenue=revenue) for customer, sku, revenue in rows]


@router.get("/orm")
async def blocking_orm(db: OrmSession, limit: int = Query(10, ge=1, le=100)) -> list[RevenueRow]:
    """The same report through a synchronous SQLAlchemy `Session` (the tutorials' kind),
    typed by `OrmSession`, an alias another module defines."""
    rows = db.execute(text(REVENUE_REPORT_NAMED), {"limit": limit}).all()  # expect: ASF106
    return [RevenueRow(customer=customer, sku=sku, revenue=revenue) for customer, sku, revenue in rows]


# --- ASF107: thread synchronisation primitives -------------------------------------------

_inventory_lock = threading.Lock()
_inventory: dict[str, int] = {"SKU-000001": 3}


def _restock(holding: threading.Event) -> None:
    """A worker thread that rebuilds the inventory under the lock for 0.2 s."""
    with _inventory_lock:
        holding.set()
        time.sleep(0.2)
        _inventory["SKU-000001"] += 10


@router.get("/lock")
async def blocking_lock() -> HazardReport:
    """Waits on the loop for a thread: first `Event.wait`, then a `threading.Lock` that a
    restocking thread holds for 0.2 s."""
    holding = threading.Event()
    threading.Thread(target=_restock, args=(holding,), name="restock", daemon=True).start()
    started = time.perf_counter()
    if not holding.wait(timeout=1.0):  # expect: ASF107
        raise HTTPException(status_code=503, detail="restock thread did not start")
    with _inventory_lock:  # expect: ASF107
        stock = dict(_inventory)
    return HazardReport(hazard="lock", elapsed_ms=_elapsed_ms(started), detail=json.dumps(stock))


def _quote_worker(replies: queue.Queue[str]) -> None:
    time.sleep(0.2)
    replies.put("quote: 42.00 EUR")


@router.get("/queue")
async def blocking_queue() -> HazardReport:
    """Hands work to a thread, then blocks on a `queue.Queue` for its answer."""
    replies: queue.Queue[str] = queue.Queue(maxsize=1)
    threading.Thread(target=_quote_worker, args=(replies,), name="quoter", daemon=True).start()
    started = time.perf_counter()
    try:
        quote = replies.get(timeout=1.0)  # expect: ASF107
    except queue.Empty:
        raise HTTPException(status_code=504, detail="no quote in time") from None
    return HazardReport(hazard="queue", elapsed_ms=_elapsed_ms(started), detail=quote)


@router.get("/future")
async def blocking_future(resources: ResourcesDep) -> HazardReport:
    """Submits the report to a thread pool - and then waits for it on the loop anyway."""
    started = time.perf_counter()
    future = _executor.submit(time.sleep, 0.2)
    future.result(timeout=5.0)  # expect: ASF107
    return HazardReport(hazard="future", elapsed_ms=_elapsed_ms(started))


# --- ASF108: reading the terminal --------------------------------------------------------


@router.get("/input")
async def blocking_input() -> HazardReport:
    """A debugging prompt left in a handler.  `input()` reads stdin on the loop: with a
    terminal attached it waits for a human, so this route refuses to run there; with
    stdin at end-of-file (a server started with stdin from /dev/null) it returns at once.
    """
    if sys.stdin is None or sys.stdin.isatty():
        raise HTTPException(status_code=409, detail="refusing to prompt on an interactive terminal")
    started = time.perf_counter()
    try:
        answer = input("purge the cache? [y/N] ")  # expect: ASF108
    except EOFError:
        answer = ""
    return HazardReport(hazard="input", elapsed_ms=_elapsed_ms(started), detail=answer or "(no answer)")


# --- ASF109: a blocking call named in [tool.asyncsafe] blocking-calls -------------------


@router.get("/configured")
async def configured_blocking_call(resources: ResourcesDep) -> UpstreamReply:
    """Calls the legacy reporting SDK, which is synchronous HTTP inside.  The linter
    cannot see into it; the project's configuration tells it that it blocks."""
    started = time.perf_counter()
    try:
        body = legacy_sync_fetch(f"{resources.upstream_url}reports/daily")  # expect: ASF109
    except UPSTREAM_ERRORS as error:
        raise _bad_gateway(error) from error
    return UpstreamReply(status=200, body=body, elapsed_ms=_elapsed_ms(started))


# --- not flagged by the per-file rules ----------------------------------------------------


@router.get("/cpu")
async def cpu_bound(milliseconds: int = Query(300, ge=1, le=5_000)) -> HazardReport:
    """Pure-Python arithmetic for ~300 ms of CPU time (more on a busy machine).  There is no
    blocking *call* to name, so the linter does not flag it - but the loop is just as stuck.
    The monitor sees it; the fix is `await asyncio.to_thread(...)` or a process pool."""
    started = time.perf_counter()
    deadline = time.thread_time() + milliseconds / 1000
    digest = rounds = 0
    while time.thread_time() < deadline:
        for value in range(2_000):
            digest = (digest * 31 + value) % 1_000_000_007
        rounds += 1
    return HazardReport(hazard="cpu", elapsed_ms=_elapsed_ms(started), detail=f"{rounds} rounds, digest {digest}")


@router.get("/c-loop")
async def c_extension_loop(n: int = Query(40_000_000, ge=1, le=400_000_000)) -> HazardReport:
    """A C function that keeps the GIL from start to end - the builtin `sum` over a
    `range`, standing in for a C extension that does not release it.  No Python line
    runs meanwhile and no other thread can take the GIL; the loop is stuck all the same,
    ~0.4 s for the default `n`.  Not flagged by the linter: nothing here looks blocking."""
    started = time.perf_counter()
    total = sum(range(n))
    return HazardReport(hazard="c-loop", elapsed_ms=_elapsed_ms(started), detail=f"sum {total}")


@router.get("/indirect")
async def indirect_blocking(resources: ResourcesDep) -> HazardReport:
    """Calls a sync helper that sleeps 0.3 s inside.

    The blocking call is in `fixtures_app/services.py`, another module: the per-file
    rules do not see it, the call graph does (ASF110 here, with the chain from this
    route to the `time.sleep` in the helper).
    """
    started = time.perf_counter()
    lines = rebuild_search_index(resources.workspace.catalog)  # expect: ASF110
    return HazardReport(hazard="indirect", elapsed_ms=_elapsed_ms(started), detail=f"{lines} lines indexed")


@router.get("/suppressed")
async def suppressed_sleep() -> HazardReport:
    """A blocking call someone silenced with a suppression comment.  The linter stays
    quiet, as asked; the loop still stops for 300 ms, and the runtime monitor sees it."""
    started = time.perf_counter()
    time.sleep(0.3)  # noqa: ASF101 - "only the staging smoke test calls this"
    return HazardReport(hazard="suppressed", elapsed_ms=_elapsed_ms(started))


# --- a background task is async code too -------------------------------------------------


async def record_download(audit_log: Path, sku: str) -> None:
    """Runs after the response is sent - but an *async* background task runs on the
    event loop, so its blocking calls stall whatever requests come next.  (A plain `def`
    task would be run in the threadpool: see `/safe/background`.)"""
    time.sleep(0.2)  # expect: ASF101
    with open(audit_log, "a", encoding="utf-8") as log:  # expect: ASF104
        log.write(f"{time.time():.3f} download {sku}\n")  # expect: ASF104


@router.get("/background", status_code=status.HTTP_202_ACCEPTED)
async def blocking_background_task(
    resources: ResourcesDep, background_tasks: BackgroundTasks, sku: str = "SKU-000001"
) -> HazardReport:
    """Answers at once, then stalls the loop for 0.2 s in `record_download`."""
    background_tasks.add_task(record_download, resources.workspace.audit_log, sku)
    return HazardReport(hazard="background", elapsed_ms=0.0, detail="audit record scheduled")


# --- blocking in async dependencies: one route per family --------------------------------


@router.get("/deps/sleep", dependencies=[Depends(throttle)])
async def dependency_sleep() -> HazardReport:
    return HazardReport(hazard="dependency:sleep", elapsed_ms=0.0, detail="throttled by time.sleep")


@router.get("/deps/http")
async def dependency_http(rates: Annotated[dict[str, float], Depends(get_exchange_rates)]) -> HazardReport:
    return HazardReport(hazard="dependency:http", elapsed_ms=0.0, detail=json.dumps(rates))


@router.get("/deps/subprocess")
async def dependency_subprocess(build: Annotated[str, Depends(get_build_info)]) -> HazardReport:
    return HazardReport(hazard="dependency:subprocess", elapsed_ms=0.0, detail=build)


@router.get("/deps/file")
async def dependency_file(flags: Annotated[dict[str, bool], Depends(get_feature_flags)]) -> HazardReport:
    return HazardReport(hazard="dependency:file", elapsed_ms=0.0, detail=json.dumps(flags))


@router.get("/deps/socket")
async def dependency_socket(status_line: Annotated[str, Depends(probe_upstream)]) -> HazardReport:
    return HazardReport(hazard="dependency:socket", elapsed_ms=0.0, detail=status_line)


@router.get("/deps/db")
async def dependency_db(db: Annotated[sqlite3.Connection, Depends(get_db)]) -> HazardReport:
    """The connection comes from a blocking async dependency, and using it blocks too."""
    (customers,) = db.execute("SELECT COUNT(DISTINCT customer) FROM orders").fetchone()  # expect: ASF106
    return HazardReport(hazard="dependency:db", elapsed_ms=0.0, detail=f"{customers} customers")


@router.get("/deps/lock")
async def dependency_lock(rates: Annotated[dict[str, float], Depends(get_cached_rates)]) -> HazardReport:
    return HazardReport(hazard="dependency:lock", elapsed_ms=0.0, detail=json.dumps(rates))


# --- blocking in middleware ---------------------------------------------------------------


@router.get("/middleware/{family}")
async def middleware_hazard(family: Family, request: Request) -> HazardReport:
    """The `audit_trail` middleware in `main.py` has already blocked, with a call of
    `family`, before this route runs; this reports what it measured."""
    audit = getattr(request.state, "audit", None) or {}
    return HazardReport(hazard=f"middleware:{family.value}", elapsed_ms=round(audit.get("elapsed_ms", 0.0), 1))


# --- a worker that dies --------------------------------------------------------------------


@router.get("/crash")
async def crash_worker() -> HazardReport:
    """A native extension that segfaults, an OOM kill, a stray `os._exit` in a library:
    the worker process dies mid-request, with only its last words on stderr.  (Not exit
    status 3: Uvicorn's supervisor reads that as "failed to start" and stops the server.)"""
    print(f"fixtures_app: worker {os.getpid()} is going down (exit status 70)", file=sys.stderr, flush=True)
    os._exit(70)


# --- contention: correct async code that still serialises every request --------------------
# (Down here, not with the imports above, so that the lines above keep their numbers.)

import asyncio

#: One ledger, one writer at a time.
_ledger_lock = asyncio.Lock()
_ledger: dict[str, int] = {"SKU-000001": 0}


@router.post("/serialized")
@router.get("/serialized")
async def serialized_ledger(sku: str = "SKU-000001") -> HazardReport:
    """Updates a shared ledger under an `asyncio.Lock` held across a 20 ms await (a
    stand-in for a round trip to the database that owns the ledger).  Nothing blocks the
    event loop - the linter rightly says nothing and the loop monitor sees no stall - yet
    requests run one at a time: at concurrency 1 each takes ~20 ms, at concurrency 20 the
    last in line waits ~400 ms.  A latency budget under load is what catches it."""
    started = time.perf_counter()
    async with _ledger_lock:
        await asyncio.sleep(0.02)
        _ledger[sku] = _ledger.get(sku, 0) + 1
        count = _ledger[sku]
    return HazardReport(hazard="serialized", elapsed_ms=_elapsed_ms(started), detail=f"{sku}: {count} updates")


# --- blocking two modules down: route -> repository.py -> db.py (ASF110) -------------------

from fixtures_app import repository


@router.get("/helpers/revenue")
async def helper_revenue(resources: ResourcesDep, limit: int = Query(5, ge=1, le=100)) -> list[RevenueRow]:
    """Looks harmless: no blocking call in sight.  `repository.top_revenue` runs a
    SQLite query in `db.py`, on the loop."""
    return repository.top_revenue(resources.workspace.database, limit)  # expect: ASF110


@router.get("/helpers/prices")
async def helper_prices(resources: ResourcesDep, amount: float = 10.0) -> dict[str, float]:
    """Making a `PriceBook` fetches the rates with `requests`, on the loop, in its
    `__init__` (through a method, then `db.fetch_json`)."""
    try:
        book = repository.PriceBook(resources.upstream_url)  # expect: ASF110
    except requests.RequestException as error:
        raise _bad_gateway(error) from error
    return {currency: book.convert(amount, currency) for currency in book.rates}
