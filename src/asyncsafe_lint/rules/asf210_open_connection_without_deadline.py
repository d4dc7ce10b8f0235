from __future__ import annotations

from asyncsafe_lint.deadlines import DeadlineRule
from asyncsafe_lint.rule import Invalid

_FLAGGED = "`asyncio.open_connection()` awaited outside any deadline: neither connecting nor reading its streams has a timeout, so a peer that stops answering holds this task forever; await it inside `async with asyncio.timeout(<seconds>):`"


class OpenConnectionWithoutDeadline(DeadlineRule):
    code = "ASF210"
    name = "open-connection-without-deadline"
    summary = "`asyncio.open_connection()` awaited outside any deadline can wait forever"
    message = "`{call}()` awaited outside any deadline: neither connecting nor reading its streams has a timeout, so a peer that stops answering holds this task forever; await it inside `async with asyncio.timeout(<seconds>):`"
    triggers = ("open_connection", "open_unix_connection")
    waits = frozenset(
        {
            "asyncio.open_connection",
            "asyncio.streams.open_connection",
            "asyncio.open_unix_connection",
            "asyncio.streams.open_unix_connection",
        }
    )
    docs = """
## What it does
Flags `await asyncio.open_connection(...)` (and `asyncio.open_unix_connection(...)`)
in an `async def` when no deadline encloses the `await` in that function. These count
as deadlines: `async with asyncio.timeout(...)` / `asyncio.timeout_at(...)` (and
`asyncio.Timeout`, and the `async_timeout` backport), `with anyio.fail_after(...)` /
`anyio.move_on_after(...)`, and `with anyio.CancelScope(deadline=...)` - each with a
limit that is not `None` (a limit held in a variable counts). A call that is not
awaited on the spot is left alone: `await asyncio.wait_for(asyncio.open_connection(...), 5)`
is bounded, and a coroutine handed to a task, to `gather()` or returned to the caller
is bounded (or not) where it is awaited, which this rule does not follow.

A deadline the *caller* sets is not seen: in a helper that only connects, either
return the coroutine (`return asyncio.open_connection(...)`, awaited by the caller
inside its deadline) or suppress the finding with a comment that names the caller's
deadline.

Neither ruff nor flake8-async has this check. flake8-async's `ASYNC100` (also in ruff)
flags a timeout scope with no `await` inside - the opposite mistake - and `ASYNC109`
says an `async def` should not take a `timeout` parameter but leave timeouts to its
callers' scopes, which is the style this rule asks for. ASF205 is the sync
counterpart: `socket.create_connection()` without `timeout=`.

## Why is this bad?
`asyncio.open_connection()` takes no timeout (only `ssl_handshake_timeout`, for the TLS
handshake): connecting to a host that drops packets lasts as long as the operating
system keeps retrying - about two minutes on Linux - and the `StreamReader` it returns
has no read timeout at all, so `await reader.readline()` on a peer that stops talking
never returns. The request being served waits with it, and its socket stays open. A
deadline around the whole exchange - connect, write, read - bounds all of it at once.

## Example
```python
import asyncio

async def ping(host: str, port: int) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"PING\\r\\n")
    await writer.drain()
    reply = await reader.readline()
    writer.close()
    return reply
```

## Use instead
```python
import asyncio

async def ping(host: str, port: int) -> bytes:
    async with asyncio.timeout(3):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"PING\\r\\n")
        await writer.drain()
        reply = await reader.readline()
    writer.close()
    return reply
```

## Fix safety
There is no automatic fix yet.
"""
    valid = (
        "import asyncio\nasync def f(host):\n    async with asyncio.timeout(3):\n"
        "        reader, writer = await asyncio.open_connection(host, 80)\n",
        "import asyncio\nasync def f(host, limit):\n    async with asyncio.timeout(limit):\n"
        "        return await asyncio.open_connection(host, 80)\n",
        "import asyncio\nasync def f(host, loop):\n    async with asyncio.timeout_at(loop.time() + 5):\n"
        "        return await asyncio.open_connection(host, 80)\n",
        "import asyncio\nasync def f(host):\n    return await asyncio.wait_for(asyncio.open_connection(host, 80), timeout=5)\n",
        "import asyncio\nasync def f(host):\n    return asyncio.open_connection(host, 80)\n",
        "import anyio, asyncio\nasync def f(host):\n    with anyio.fail_after(5):\n"
        "        return await asyncio.open_connection(host, 80)\n",
        "import anyio, asyncio\nasync def f(host):\n    with anyio.move_on_after(5):\n"
        "        await asyncio.open_connection(host, 80)\n",
        "import anyio, asyncio\nasync def f(host):\n    with anyio.CancelScope(deadline=anyio.current_time() + 5):\n"
        "        await asyncio.open_connection(host, 80)\n",
        "import async_timeout, asyncio\nasync def f(path):\n    async with async_timeout.timeout(5):\n"
        "        await asyncio.open_unix_connection(path)\n",
        "import asyncio\nasync def f(host):\n    async with asyncio.timeout(5):\n        try:\n"
        "            await asyncio.open_connection(host, 80)\n        except OSError:\n            pass\n",
        "import asyncio\nasync def f(host):\n    return await asyncio.open_connection(host, 80)  # noqa: ASF210\n",
        "import asyncio\nasync def f(host):\n    return await asyncio.open_connection(host, 80)  # asyncsafe: ignore[ASF210]\n",
        "import asyncio\nasync def f(loop, host):\n    return await loop.create_connection(asyncio.Protocol, host, 80)\n",
        "async def open_connection(host):\n    pass\nasync def f():\n    await open_connection('x')\n",
    )
    invalid = (
        Invalid(
            "import asyncio\nasync def f(host):\n"
            "    reader, writer = await asyncio.open_connection(host, 80)  # expect: ASF210\n",
            _FLAGGED,
        ),
        Invalid(
            "from asyncio import open_unix_connection\nasync def f(path):\n"
            "    return await open_unix_connection(path)  # expect: ASF210\n",
            "`asyncio.open_unix_connection()` awaited outside any deadline",
        ),
        # A scope whose limit is `None` is no deadline (ASF207 flags it too).
        Invalid(
            "import asyncio\nasync def f(host):\n    async with asyncio.timeout(None):\n"
            "        await asyncio.open_connection(host, 80)  # expect: ASF210\n",
            "`asyncio.open_connection()` awaited outside any deadline",
        ),
        # A deadline around the definition of a function is not one around its body.
        Invalid(
            "import asyncio\nasync def f(host):\n    async with asyncio.timeout(5):\n"
            "        async def connect():\n            return await asyncio.open_connection(host, 80)  # expect: ASF210\n"
            "    return await connect()\n",
            "`asyncio.open_connection()` awaited outside any deadline",
        ),
        # A scope that has ended bounds nothing after it.
        Invalid(
            "import asyncio\nasync def f(host):\n    async with asyncio.timeout(5):\n        await asyncio.sleep(0)\n"
            "    await asyncio.open_connection(host, 80)  # expect: ASF210\n",
            "`asyncio.open_connection()` awaited outside any deadline",
        ),
        Invalid(
            "import asyncio\nclass Client:\n    async def connect(self):\n"
            "        self.reader, self.writer = await asyncio.streams.open_connection('cache', 11211)  # expect: ASF210\n",
            "`asyncio.streams.open_connection()` awaited outside any deadline",
        ),
        Invalid(
            "import asyncio\nasync def f(host):\n"
            "    return await asyncio.open_connection(host, 80)  # noqa: ASF205  # expect: ASF210\n",
            _FLAGGED,
        ),
    )
