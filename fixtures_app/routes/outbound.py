"""`/outbound/...`: outbound calls with and without timeouts.

The routes that use blocking clients are plain `def` routes, so they run in the
threadpool and do not stall the loop - but a call with no timeout can still hold a
worker thread (and the client's request) forever when the other side never answers.
Each `.../unbounded` route has a bounded twin right next to it.  The async routes show
the async clients' ways of switching the timeout off, and awaits that have no timeout of
their own (asyncio streams and child processes) made outside any deadline.

Against the stub upstream all of these return after its delay; against
`FIXTURES_UPSTREAM=http://127.0.0.1:9/` they fail fast with 502.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import requests
from fastapi import APIRouter, HTTPException

from fixtures_app.dependencies import ResourcesDep
from fixtures_app.models import UpstreamReply

router = APIRouter(prefix="/outbound", tags=["outbound"])

CHILD = [sys.executable, "-c", "import time; time.sleep(0.1); print('exported')"]
CONNECT_AND_READ = (2.0, 5.0)


def _reply(code: int, body: Any, started: float) -> UpstreamReply:
    return UpstreamReply(status=code, body=body, elapsed_ms=round((time.perf_counter() - started) * 1000, 1))


def _bad_gateway(error: Exception) -> HTTPException:
    return HTTPException(status_code=502, detail=f"upstream unreachable: {error!r}")


# --- ASF201: requests ---------------------------------------------------------------------


@router.get("/requests/unbounded")
def requests_without_timeout(resources: ResourcesDep) -> UpstreamReply:
    """`requests` never times out by default: no `timeout=` means wait forever."""
    started = time.perf_counter()
    try:
        with requests.Session() as session:
            session.headers["User-Agent"] = "fixtures-app"
            reply = session.get(f"{resources.upstream_url}inventory", timeout=None)  # expect: ASF201
        fallback = requests.request("GET", f"{resources.upstream_url}inventory")  # expect: ASF201
    except (requests.RequestException, ValueError) as error:
        raise _bad_gateway(error) from error
    return _reply(reply.status_code, {"session": reply.json(), "plain": fallback.json()}, started)


@router.get("/requests")
def requests_with_timeout(resources: ResourcesDep) -> UpstreamReply:
    started = time.perf_counter()
    try:
        with requests.Session() as session:
            reply = session.get(f"{resources.upstream_url}inventory", timeout=CONNECT_AND_READ)
        fallback = requests.request("GET", f"{resources.upstream_url}inventory", timeout=5)
    except (requests.RequestException, ValueError) as error:
        raise _bad_gateway(error) from error
    return _reply(reply.status_code, {"session": reply.json(), "plain": fallback.json()}, started)


# --- ASF202: httpx ------------------------------------------------------------------------


@router.get("/httpx/unbounded")
async def httpx_timeout_disabled(resources: ResourcesDep) -> UpstreamReply:
    """httpx has a 5 s default; `timeout=None` removes it."""
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=None) as client:  # expect: ASF202
            reply = await client.get(f"{resources.upstream_url}inventory")
    except httpx.HTTPError as error:
        raise _bad_gateway(error) from error
    return _reply(reply.status_code, reply.json(), started)


@router.get("/httpx")
async def httpx_with_timeout(resources: ResourcesDep) -> UpstreamReply:
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
            reply = await client.get(f"{resources.upstream_url}inventory")
    except httpx.HTTPError as error:
        raise _bad_gateway(error) from error
    return _reply(reply.status_code, reply.json(), started)


@router.get("/httpx/sync/unbounded")
def httpx_sync_timeout_disabled(resources: ResourcesDep) -> UpstreamReply:
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=None) as client:  # expect: ASF202
            reply = client.get(f"{resources.upstream_url}inventory")
        ping = httpx.get(f"{resources.upstream_url}ping", timeout=None)  # expect: ASF202
    except httpx.HTTPError as error:
        raise _bad_gateway(error) from error
    return _reply(reply.status_code, {"inventory": reply.json(), "ping": ping.status_code}, started)


@router.get("/httpx/sync")
def httpx_sync_with_timeout(resources: ResourcesDep) -> UpstreamReply:
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=5.0) as client:
            reply = client.get(f"{resources.upstream_url}inventory")
        ping = httpx.get(f"{resources.upstream_url}ping", timeout=2.0)
    except httpx.HTTPError as error:
        raise _bad_gateway(error) from error
    return _reply(reply.status_code, {"inventory": reply.json(), "ping": ping.status_code}, started)


# --- ASF203: aiohttp ----------------------------------------------------------------------


@router.get("/aiohttp/unbounded")
async def aiohttp_without_timeout(resources: ResourcesDep) -> UpstreamReply:
    """A session with no `timeout=` (or with `total=None`): nothing bounds the request."""
    started = time.perf_counter()
    url = f"{resources.upstream_url}inventory"
    try:
        async with aiohttp.ClientSession() as session:  # expect: ASF203
            async with session.get(url) as reply:
                body = await reply.json(content_type=None)
        no_limit = aiohttp.ClientTimeout(total=None)  # expect: ASF203
        async with aiohttp.ClientSession(timeout=no_limit) as session, session.get(url) as again:
            code = again.status
    except (aiohttp.ClientError, ValueError) as error:
        raise _bad_gateway(error) from error
    return _reply(code, body, started)


@router.get("/aiohttp")
async def aiohttp_with_timeout(resources: ResourcesDep) -> UpstreamReply:
    started = time.perf_counter()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5, sock_connect=2)) as session:
            async with session.get(f"{resources.upstream_url}inventory") as reply:
                body = await reply.json(content_type=None)
                code = reply.status
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        raise _bad_gateway(error) from error
    return _reply(code, body, started)


# --- ASF204: urllib -----------------------------------------------------------------------


@router.get("/urlopen/unbounded")
def urlopen_without_timeout(resources: ResourcesDep) -> UpstreamReply:
    """`urlopen` without `timeout=` uses the global socket default: none."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{resources.upstream_url}inventory") as response:  # expect: ASF204
            return _reply(response.status, json.loads(response.read()), started)
    except (OSError, ValueError) as error:
        raise _bad_gateway(error) from error


@router.get("/urlopen")
def urlopen_with_timeout(resources: ResourcesDep) -> UpstreamReply:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"{resources.upstream_url}inventory", timeout=5) as response:
            return _reply(response.status, json.loads(response.read()), started)
    except (OSError, ValueError) as error:
        raise _bad_gateway(error) from error


# --- ASF205: sockets ----------------------------------------------------------------------


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


@router.get("/socket/unbounded")
def socket_without_timeout(resources: ResourcesDep) -> UpstreamReply:
    """`create_connection` without `timeout=`: connect and every read may wait forever."""
    started = time.perf_counter()
    try:
        with socket.create_connection(_address(resources.upstream_url)) as conn:  # expect: ASF205
            conn.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
            status_line = conn.recv(64).split(b"\r\n", 1)[0].decode("latin-1")
    except OSError as error:
        raise _bad_gateway(error) from error
    return _reply(200, {"status_line": status_line}, started)


@router.get("/socket")
def socket_with_timeout(resources: ResourcesDep) -> UpstreamReply:
    started = time.perf_counter()
    try:
        with socket.create_connection(_address(resources.upstream_url), timeout=3.0) as conn:
            conn.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
            status_line = conn.recv(64).split(b"\r\n", 1)[0].decode("latin-1")
    except OSError as error:
        raise _bad_gateway(error) from error
    return _reply(200, {"status_line": status_line}, started)


# --- ASF206: subprocesses -----------------------------------------------------------------


@router.get("/subprocess/unbounded")
def subprocess_without_timeout() -> UpstreamReply:
    """A child that hangs holds this worker thread forever."""
    started = time.perf_counter()
    completed = subprocess.run(CHILD, capture_output=True, text=True, check=True)  # expect: ASF206
    return _reply(completed.returncode, {"output": completed.stdout.strip()}, started)


@router.get("/subprocess")
def subprocess_with_timeout() -> UpstreamReply:
    started = time.perf_counter()
    try:
        completed = subprocess.run(CHILD, capture_output=True, text=True, check=True, timeout=10)
    except subprocess.TimeoutExpired as error:
        raise HTTPException(status_code=504, detail="export timed out") from error
    return _reply(completed.returncode, {"output": completed.stdout.strip()}, started)


# --- ASF207: asyncio deadlines switched off -----------------------------------------------


@router.get("/wait-for/unbounded")
async def asyncio_timeout_disabled(resources: ResourcesDep) -> UpstreamReply:
    """`wait_for(..., None)` and `asyncio.timeout(None)` look like deadlines and are not."""
    started = time.perf_counter()
    url = f"{resources.upstream_url}inventory"
    try:
        reply = await asyncio.wait_for(resources.http.get(url), None)  # expect: ASF207
        async with asyncio.timeout(None):  # expect: ASF207
            again = await asyncio.wait_for(resources.http.get(url), timeout=None)  # expect: ASF207
    except httpx.HTTPError as error:
        raise _bad_gateway(error) from error
    return _reply(reply.status_code, {"first": reply.json(), "second": again.status_code}, started)


@router.get("/wait-for")
async def asyncio_with_timeout(resources: ResourcesDep) -> UpstreamReply:
    started = time.perf_counter()
    url = f"{resources.upstream_url}inventory"
    try:
        reply = await asyncio.wait_for(resources.http.get(url), 5.0)
        async with asyncio.timeout(5.0):
            again = await asyncio.wait_for(resources.http.get(url), timeout=4.0)
    except (httpx.HTTPError, TimeoutError) as error:
        raise _bad_gateway(error) from error
    return _reply(reply.status_code, {"first": reply.json(), "second": again.status_code}, started)


# --- ASF210: asyncio streams --------------------------------------------------------------


async def _ping(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
    writer.write(b"GET /ping HTTP/1.0\r\n\r\n")
    await writer.drain()
    status_line = (await reader.readline()).split(b"\r\n", 1)[0].decode("latin-1")
    writer.close()
    await writer.wait_closed()
    return status_line


@router.get("/stream/unbounded")
async def stream_without_deadline(resources: ResourcesDep) -> UpstreamReply:
    """`open_connection` takes no timeout, and its streams have none: a silent peer holds the request forever."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(*_address(resources.upstream_url))  # expect: ASF210
        status_line = await _ping(reader, writer)
    except OSError as error:
        raise _bad_gateway(error) from error
    return _reply(200, {"status_line": status_line}, started)


@router.get("/stream")
async def stream_with_deadline(resources: ResourcesDep) -> UpstreamReply:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(3.0):
            reader, writer = await asyncio.open_connection(*_address(resources.upstream_url))
            status_line = await _ping(reader, writer)
    except (OSError, TimeoutError) as error:
        raise _bad_gateway(error) from error
    return _reply(200, {"status_line": status_line}, started)


# --- ASF211: asyncio child processes ------------------------------------------------------


@router.get("/subprocess/async/unbounded")
async def async_subprocess_without_deadline() -> UpstreamReply:
    """asyncio's `communicate()` takes no timeout: a child that hangs holds the request forever."""
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(*CHILD, stdout=asyncio.subprocess.PIPE)
    output, _ = await child.communicate()  # expect: ASF211
    return _reply(child.returncode or 0, {"output": output.decode().strip()}, started)


@router.get("/subprocess/async")
async def async_subprocess_with_deadline() -> UpstreamReply:
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(*CHILD, stdout=asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(10):
            output, _ = await child.communicate()
    except TimeoutError as error:
        child.kill()
        raise HTTPException(status_code=504, detail="export timed out") from error
    return _reply(child.returncode or 0, {"output": output.decode().strip()}, started)
