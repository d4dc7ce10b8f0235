"""An httpx transport for the load generator: one HTTP/1.1 keep-alive connection, no pool.

httpx's own transport goes through httpcore's connection pool, whose bookkeeping costs
more CPU than the request itself and queues requests behind each other: a generator
built on it measures itself (below 0.05 of wrk's throughput, measured).  This one writes
the request and parses the response straight off an `asyncio.Protocol`, so a worker that
owns a transport owns a connection, and nothing waits in between.

Plain http:// to one origin, one request at a time, response bodies read whole: what a
load generator on loopback needs.  Failures are httpx's exceptions (`ConnectError`,
`ReadTimeout`, `RemoteProtocolError`...), so callers tell them apart as they would with
httpx's own transport.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, cast

import httpx

DEFAULT_TIMEOUT = 5.0  # httpx's
MAX_HEAD = 64 * 1024
NO_BODY_STATUSES = frozenset({204, 304})
#: Methods that may be sent again when a kept-alive connection turns out to be closed.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

#: (status, reason, headers, body)
Reply = tuple[int, bytes, list[tuple[bytes, bytes]], bytes]


class _ClosedBeforeReply(Exception):
    """The connection closed before the first byte of the response."""

    def __init__(self, cause: OSError | None) -> None:
        super().__init__(cause)
        self.cause = cause


class _Connection(asyncio.Protocol):
    """One TCP connection; `exchange()` writes a request and waits for its response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Reply] | None = None
        self._head_only = False
        self._received = False
        # The response being parsed: its head, how its body ends, what is left of it.
        self._head: tuple[int, bytes, list[tuple[bytes, bytes]], bool] | None = None
        self._framing = ""
        self._remaining = 0
        self._chunks: list[bytes] = []

    # --- asyncio's callbacks ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        # Loops set it on TCP connections already; a missing one costs ~40 ms a response
        # (Nagle and delayed ACKs), so it is not left to chance.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:
            # Bytes nobody asked for: the connection can no longer be trusted.
            self.close()
            return
        self._received = True
        self._buffer += data
        try:
            self._parse()
        except ValueError as error:
            self._fail(httpx.RemoteProtocolError(f"malformed response: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None:
            return
        if self._head is not None and self._framing == "until-close" and exc is None:
            self._finish(bytes(self._buffer))
        elif not self._received:
            self._fail(_ClosedBeforeReply(exc if isinstance(exc, OSError) else None))
        elif exc is not None:
            self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
        else:
            self._fail(httpx.RemoteProtocolError("peer closed connection without sending complete message body"))

    # --- one request ----------------------------------------------------------------------
    async def exchange(self, message: bytes, head_only: bool, timeout: float | None) -> Reply:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Reply] = loop.create_future()
        self._waiter = waiter
        self._head_only = head_only
        self._received = False
        self._head = None
        self.transport.write(message)
        # One timer for the whole response (not per chunk, as httpx's read timeout is):
        # the body is read whole anyway, and a slowly dribbling server must not escape it.
        timer = loop.call_later(timeout, self._time_out) if timeout is not None else None
        try:
            return await waiter
        except BaseException:
            # Cancelled or failed mid-response: what the connection holds next is unknown.
            self.close()
            raise
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _time_out(self) -> None:
        self._fail(httpx.ReadTimeout("no complete response in time"))
        self.close()

    def _fail(self, error: Exception) -> None:
        # Unarmed at once: whatever arrives after this is unsolicited, and closes.
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _finish(self, body: bytes) -> None:
        assert self._head is not None
        status, reason, headers, close = self._head
        # Bytes past the response: the server sent something unasked, or framed it wrong.
        if close or self._buffer:
            self.close()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, reason, headers, body))

    # --- parsing --------------------------------------------------------------------------
    def _parse(self) -> None:
        buffer = self._buffer
        while self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise ValueError(f"head over {MAX_HEAD} bytes")
                return
            lines = bytes(buffer[:end]).split(b"\r\n")
            del buffer[: end + 4]
            self._read_head(lines)
        if self._framing == "length":
            if len(buffer) >= self._remaining:
                body = bytes(buffer[: self._remaining])
                del buffer[: self._remaining]
                self._finish(body)
        elif self._framing == "none":
            self._finish(b"")
        elif self._framing == "chunked":
            self._parse_chunks()
        # "until-close": the body ends with the connection (connection_lost).

    def _read_head(self, lines: list[bytes]) -> None:
        version, _, rest = lines[0].partition(b" ")
        code, _, reason = rest.partition(b" ")
        if not version.startswith(b"HTTP/1.") or not code.isdigit():
            raise ValueError(f"bad status line {lines[0]!r}")
        status = int(code)
        if status == 101:
            raise ValueError("101 Switching Protocols: upgrades are not supported")
        if status < 200:
            return  # an interim response (100 Continue, 103 Early Hints): the real one follows
        headers = []
        length: int | None = None
        chunked = False
        close = version == b"HTTP/1.0"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            value = value.strip()
            headers.append((name, value))
            lowered = name.lower()
            if lowered == b"content-length":
                if not value.isdigit():
                    raise ValueError(f"bad Content-Length {value!r}")
                length = int(value)
            elif lowered == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif lowered == b"connection":
                tokens = value.lower()
                close = b"close" in tokens or (close and b"keep-alive" not in tokens)
        self._head = (status, reason, headers, close)
        if self._head_only or status in NO_BODY_STATUSES:
            self._framing = "none"
        elif chunked:
            self._framing, self._remaining, self._chunks = "chunked", -1, []
        elif length is not None:
            self._framing, self._remaining = "length", length
        else:
            self._framing = "until-close"

    def _parse_chunks(self) -> None:
        buffer = self._buffer
        while True:
            if self._remaining == -1:  # a size line is next
                end = buffer.find(b"\r\n")
                if end < 0:
                    return
                size = int(bytes(buffer[:end]).split(b";", 1)[0].strip(), 16)
                if size < 0:
                    raise ValueError(f"bad chunk size {size}")
                del buffer[: end + 2]
                self._remaining = size if size else -2
            if self._remaining == -2:  # after the last chunk: trailers up to a blank line
                end = buffer.find(b"\r\n")
                if end < 0:
                    return
                trailer = bytes(buffer[:end])
                del buffer[: end + 2]
                if not trailer:
                    self._finish(b"".join(self._chunks))
                    return
                continue
            if len(buffer) < self._remaining + 2:
                return
            self._chunks.append(bytes(buffer[: self._remaining]))
            del buffer[: self._remaining + 2]
            self._remaining = -1


class LeanTransport(httpx.AsyncBaseTransport):
    """One HTTP/1.1 keep-alive connection to `origin` (`http://host:port`), opened on the
    first request and again whenever it was closed; one request at a time.

    Timeouts come from the request's `timeout` extension (an `httpx.AsyncClient` sets it),
    else `timeout`: `connect` bounds opening the connection, `read` the whole response.
    """

    def __init__(self, origin: str | httpx.URL, *, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        url = httpx.URL(origin)
        if url.scheme != "http" or not url.host:
            raise ValueError(f"LeanTransport: expected an http://host:port origin, got {str(url)!r}")
        self.origin = url
        self._host = url.host
        self._port = url.port or 80
        self._timeout = timeout
        self._connection: _Connection | None = None
        self._busy = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http" or url.host != self._host or (url.port or 80) != self._port:
            raise httpx.UnsupportedProtocol(f"LeanTransport for {self.origin} cannot send to {url}", request=request)
        if self._busy:
            raise RuntimeError("LeanTransport sends one request at a time (it is one connection)")
        self._busy = True
        try:
            status, reason, headers, body = await self._exchange(request)
        except httpx.TransportError as error:
            error.request = request
            raise
        finally:
            self._busy = False
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    async def open(self, timeout: float | None) -> None:
        """Connect now, unless connected: a request then needs no connecting of its own."""
        if self._connection is None or self._connection.closed:
            await self._connect(timeout)

    async def _exchange(self, request: httpx.Request) -> Reply:
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        message = _encode(request, await request.aread())
        reused = self._connection is not None and not self._connection.closed
        try:
            reply = await self._send(request, message, timeouts)
        except _ClosedBeforeReply as closed:
            # The server may close a kept-alive connection just as a request leaves:
            # nothing of it was handled, so an idempotent one goes again on a new one.
            if not reused or request.method not in IDEMPOTENT:
                raise _closed_error(closed.cause) from None
            try:
                reply = await self._send(request, message, timeouts)
            except _ClosedBeforeReply as again:
                raise _closed_error(again.cause) from None
        return reply

    async def _send(self, request: httpx.Request, message: bytes, timeouts: dict[str, Any]) -> Reply:
        connection = self._connection
        if connection is None or connection.closed:
            connection = await self._connect(timeouts.get("connect", self._timeout))
        reply = await connection.exchange(message, request.method == "HEAD", timeouts.get("read", self._timeout))
        if request.headers.get("connection", "").lower() == "close":
            connection.close()
        return reply

    async def _connect(self, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(_Connection, self._host, self._port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"could not connect to {self.origin} in time") from None
        except OSError as error:
            raise httpx.ConnectError(f"cannot connect to {self.origin}: {error.strerror or error}") from None
        self._connection = connection
        return connection

    async def aclose(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _encode(request: httpx.Request, body: bytes) -> bytes:
    parts = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    if request.headers.get("transfer-encoding", "").lower() == "chunked":
        # A streamed body, read whole by now: sent as one chunk and the last one.
        if body:
            parts += (b"%x\r\n" % len(body), body, b"\r\n")
        parts.append(b"0\r\n\r\n")
    else:
        parts.append(body)
    return b"".join(parts)


def _closed_error(cause: OSError | None) -> httpx.TransportError:
    if isinstance(cause, BrokenPipeError):
        return httpx.WriteError(str(cause))
    if cause is not None:
        return httpx.ReadError(str(cause))
    return httpx.RemoteProtocolError("Server disconnected without sending a response.")
