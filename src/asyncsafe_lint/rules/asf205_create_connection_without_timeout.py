from __future__ import annotations

from asyncsafe_lint.rule import FixAvailability, Invalid, SocketTimeoutRule


class CreateConnectionWithoutTimeout(SocketTimeoutRule):
    code = "ASF205"
    name = "create-connection-without-timeout"
    fix_availability = FixAvailability.ALWAYS
    summary = "`socket.create_connection()` without a timeout can wait forever"
    message = "`{call}()` {problem}: the socket then blocks without limit on connect and on every read; pass a timeout in seconds"
    triggers = ("create_connection",)
    timeout_positions = {"socket.create_connection": 1}
    docs = """
## What it does
Flags `socket.create_connection()` called without a timeout or with `None`. The
timeout counts whether it is given as `timeout=` or as the second positional
argument, right after the address. A call that passes `*args` or `**kwargs` is left
alone, since they may carry the timeout; so is every call in a file that sets a
process-wide default with `socket.setdefaulttimeout(<seconds>)`.

Neither ruff nor flake8-async has a rule for this: ruff's `S113` covers only
`requests` and `httpx`, and the `ASYNC2xx` rules do not list raw socket calls at
all. This rule applies to sync and async code alike.

This family is not the one flake8-async's `ASYNC109` is about: `ASYNC109` tells
you not to give *your own* `async def` a `timeout` parameter and to let callers use
a timeout context manager instead. The ASF2xx rules ask for a timeout on *calls
into libraries* that would otherwise wait forever; in async code, a scope such as
`async with asyncio.timeout(5):` around the awaited call is the recommended form.

## Why is this bad?
The timeout given to `create_connection()` becomes the timeout of the socket it
returns. Without one, the socket uses the global default - none, unless the program
set it - so connecting to a host that drops packets waits as long as the operating
system keeps retrying, and every later `recv()` on a peer that stops talking waits
forever. The thread making the call is lost for that time; in a web application
that thread usually belongs to a small pool shared by every sync endpoint.

## Example
```python
import socket

def ping_cache(host: str) -> bytes:
    with socket.create_connection((host, 11211)) as sock:
        sock.sendall(b"version\\r\\n")
        return sock.recv(64)
```

## Use instead
```python
import socket

def ping_cache(host: str) -> bytes:
    with socket.create_connection((host, 11211), timeout=2.0) as sock:
        sock.sendall(b"version\\r\\n")
        return sock.recv(64)
```

## Fix safety
The fix adds `timeout=` with the number of seconds that `default-timeout` in
`[tool.asyncsafe]` sets (10 when it is not set), or puts that number in place of a
`None` passed as the timeout.

The fix is unsafe: the number also becomes the socket's timeout for every later
`recv()` and `send()` on it, so a peer that is slow to answer, not only one that
never does, now raises `TimeoutError`.
"""
    valid = (
        "import socket\nsocket.create_connection(('example.com', 80), timeout=5)\n",
        "import socket\nsocket.create_connection(('example.com', 80), 5)\n",
        "from socket import create_connection\ndef f(*args):\n    return create_connection(*args)\n",
        "from socket import create_connection\ndef f(addr, **kw):\n    return create_connection(addr, **kw)\n",
        "import socket\nsocket.setdefaulttimeout(10.0)\nsocket.create_connection(('example.com', 80))\n",
        "import socket\nsocket.create_connection(('example.com', 80))  # noqa: ASF205\n",
        "import socket\nsocket.create_connection(('example.com', 80))  # asyncsafe: ignore[ASF205]\n",
        "import asyncio\nasync def f(loop):\n    await loop.create_connection(lambda: None, 'example.com', 80)\n",
        "def create_connection(addr):\n    pass\ncreate_connection(('example.com', 80))\n",
    )
    invalid = (
        Invalid(
            "import socket\nsocket.create_connection(('example.com', 80))  # expect: ASF205\n",
            "`socket.create_connection()` has no timeout: the socket then blocks without limit on connect and on every read; pass a timeout in seconds",
            fixed="import socket\nsocket.create_connection(('example.com', 80), timeout=10)  # expect: ASF205\n",
        ),
        Invalid(
            "import socket as s\ns.create_connection(('example.com', 80), timeout=None)  # expect: ASF205\n",
            "`socket.create_connection()` sets `timeout=None`: the socket then blocks without limit on connect and on every read; pass a timeout in seconds",
            fixed="import socket as s\ns.create_connection(('example.com', 80), timeout=10)  # expect: ASF205\n",
        ),
        Invalid(
            "from socket import create_connection as connect\nconnect(('example.com', 80), None)  # expect: ASF205\n",
            "`socket.create_connection()` sets `timeout=None`: the socket then blocks without limit on connect and on every read; pass a timeout in seconds",
            fixed="from socket import create_connection as connect\nconnect(('example.com', 80), 10)  # expect: ASF205\n",
        ),
        Invalid(
            "import socket\nwith socket.create_connection(('example.com', 80)) as sock:  # expect: ASF205\n    sock.recv(1)\n",
            "`socket.create_connection()` has no timeout: the socket then blocks without limit on connect and on every read; pass a timeout in seconds",
            fixed="import socket\nwith socket.create_connection(('example.com', 80), timeout=10) as sock:  # expect: ASF205\n    sock.recv(1)\n",
        ),
        Invalid(
            "import socket\nasync def f():\n    socket.create_connection(('example.com', 80))  # expect: ASF205\n",
            "`socket.create_connection()` has no timeout: the socket then blocks without limit on connect and on every read; pass a timeout in seconds",
            fixed="import socket\nasync def f():\n    socket.create_connection(('example.com', 80), timeout=10)  # expect: ASF205\n",
        ),
        Invalid(
            "import socket\nsocket.create_connection(('example.com', 80), source_address=('', 0))  # expect: ASF205\n",
            "`socket.create_connection()` has no timeout: the socket then blocks without limit on connect and on every read; pass a timeout in seconds",
            fixed="import socket\nsocket.create_connection(('example.com', 80), source_address=('', 0), timeout=10)  # expect: ASF205\n",
        ),
        Invalid(
            "import socket\nsocket.create_connection(('example.com', 80))  # noqa: ASF204  # expect: ASF205\n",
            "`socket.create_connection()` has no timeout: the socket then blocks without limit on connect and on every read; pass a timeout in seconds",
            fixed="import socket\nsocket.create_connection(('example.com', 80), timeout=10)  # noqa: ASF204  # expect: ASF205\n",
        ),
    )
