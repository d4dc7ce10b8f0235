from asyncsafe_lint.rule import BlockingCallRule, Invalid

_CONNECT = "use `await asyncio.open_connection()` (or `await anyio.connect_tcp()`)"
_RESOLVE = "use `await loop.getaddrinfo()` (or `await anyio.getaddrinfo()`)"
_STREAM = "use an asyncio stream (`asyncio.open_connection()`) or an anyio stream"

_LOOKUPS = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo", "getfqdn")
_TRANSFERS = (
    "recv", "recv_into", "recvfrom", "recvfrom_into", "recvmsg", "recvmsg_into",
    "send", "sendall", "sendto", "sendmsg", "sendfile",
)  # fmt: skip


class BlockingSocket(BlockingCallRule):
    code = "ASF105"
    name = "blocking-socket"
    summary = "A blocking socket operation or DNS lookup in async code"
    calls = {
        "socket.create_connection": _CONNECT,
        **{f"socket.{function}": _RESOLVE for function in _LOOKUPS},
        "socket.socket.connect": _CONNECT,
        "socket.socket.connect_ex": _CONNECT,
        "socket.socket.accept": "use `await asyncio.start_server()` (or `anyio.create_tcp_listener()`)",
        **{f"socket.socket.{method}": _STREAM for method in _TRANSFERS},
    }
    docs = """
## What it does
Flags, directly in the body of an `async def`, the `socket` module's blocking calls:
`create_connection()`, the name lookups (`getaddrinfo()`, `gethostbyname()`,
`gethostbyname_ex()`, `gethostbyaddr()`, `getnameinfo()`, `getfqdn()`), and the
methods of a `socket.socket` that connect, accept, send or receive.  A socket is
recognised when made by `socket.socket()` or `socket.create_connection()`, annotated
`socket.socket`, or kept on `self`; the connection `accept()` returns is not, as it
comes out of a tuple.  `makefile()` is not flagged: making the file object does no
I/O.

No ruff or flake8-async rule covers sockets or DNS: their blocking-call rules
(ASYNC210 to ASYNC251) are about HTTP clients, processes, files, `input()` and
`time.sleep()`.

## Why is this bad?
A blocking socket waits for the network on the thread that owns the event loop: a
`connect()` to a host that drops packets, a `recv()` on a quiet peer or a DNS lookup
against a slow resolver each freeze every other task on the worker for as long as
they take, seconds by default.  DNS is the easy one to miss, because
`gethostbyname()` looks like a pure function.

## Example
```python
import socket

@app.get("/ping")
async def ping(host: str):
    with socket.create_connection((host, 6379), timeout=2) as sock:
        sock.sendall(b"PING\\r\\n")
        return sock.recv(64)
```

## Use instead
```python
import asyncio

@app.get("/ping")
async def ping(host: str):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, 6379), 2)
    writer.write(b"PING\\r\\n")
    await writer.drain()
    reply = await reader.read(64)
    writer.close()
    await writer.wait_closed()
    return reply
```
A socket put into non-blocking mode (`sock.setblocking(False)`) and driven with the
loop's `sock_recv()`/`sock_sendall()` is fine; calling its own `recv()` from a
coroutine is still flagged, as that only works in a hand-written readiness loop.

## Fix safety
There is no automatic fix.
"""
    valid = (
        "import asyncio\nasync def f():\n    reader, writer = await asyncio.open_connection('h', 80)\n",
        "import asyncio\nasync def f(sock):\n    loop = asyncio.get_running_loop()\n"
        "    await loop.sock_sendall(sock, b'x')\n    await loop.getaddrinfo('h', 80)\n",
        "import socket\ndef f():\n    return socket.gethostbyname('h')\n",
        "import asyncio, socket\nasync def f():\n    await asyncio.to_thread(socket.getfqdn)\n",
        "import socket\nasync def f(sock: socket.socket):\n    sock.setblocking(False)\n    return sock.fileno()\n",
        "import socket\nasync def f(sock: socket.socket):\n    return sock.makefile('rb')\n",
        "import socket\nasync def f():\n    socket.gethostbyname('h')  # noqa: ASF105\n",
    )
    invalid = (
        Invalid(
            "import socket\nasync def f():\n    return socket.gethostbyname('h')  # expect: ASF105\n",
            "Blocking call `socket.gethostbyname()` in async function `f`: use `await loop.getaddrinfo()` (or `await anyio.getaddrinfo()`)",
        ),
        Invalid(
            "from socket import getaddrinfo as resolve\nasync def f():\n    resolve('h', 80)  # expect: ASF105\n",
            "Blocking call `socket.getaddrinfo()` in async function `f`: use `await loop.getaddrinfo()` (or `await anyio.getaddrinfo()`)",
        ),
        Invalid(
            "import socket\nasync def f():\n"
            "    with socket.create_connection(('h', 80), timeout=5) as s:  # expect: ASF105\n"
            "        s.sendall(b'x')  # expect: ASF105\n        s.recv(1)  # expect: ASF105\n",
            "Blocking call `socket.create_connection()` in async function `f`: use `await asyncio.open_connection()` (or `await anyio.connect_tcp()`)",
            "Blocking call `socket.socket.sendall()` in async function `f`: use an asyncio stream (`asyncio.open_connection()`) or an anyio stream",
            "Blocking call `socket.socket.recv()` in async function `f`: use an asyncio stream (`asyncio.open_connection()`) or an anyio stream",
        ),
        Invalid(
            "import socket\nasync def f():\n    s = socket.socket()\n    s.connect(('h', 80))  # expect: ASF105\n",
            "Blocking call `socket.socket.connect()` in async function `f`: use `await asyncio.open_connection()` (or `await anyio.connect_tcp()`)",
        ),
        Invalid(
            "import socket\nclass Conn:\n    sock: socket.socket\n"
            "    async def read(self):\n        return self.sock.recv(1024)  # expect: ASF105\n",
            "Blocking call `socket.socket.recv()` in async function `Conn.read`: use an asyncio stream (`asyncio.open_connection()`) or an anyio stream",
        ),
        Invalid(
            "import socket\nasync def f(listener: socket.socket):\n    listener.accept()  # expect: ASF105\n",
            "Blocking call `socket.socket.accept()` in async function `f`: use `await asyncio.start_server()` (or `anyio.create_tcp_listener()`)",
        ),
        Invalid(
            "import socket\nasync def f():\n    socket.getfqdn()  # noqa: ASF104  # expect: ASF105\n",
            "Blocking call `socket.getfqdn()` in async function `f`: use `await loop.getaddrinfo()` (or `await anyio.getaddrinfo()`)",
        ),
    )
