from __future__ import annotations

import ast

from asyncsafe_lint.rule import Call, Invalid, Rule, is_none

#: Timeout helpers -> (name of the limit parameter, its position).
_HELPERS: dict[str, tuple[str, int]] = {
    "asyncio.wait_for": ("timeout", 1),
    "asyncio.tasks.wait_for": ("timeout", 1),
    "asyncio.timeout": ("delay", 0),
    "asyncio.timeouts.timeout": ("delay", 0),
    "asyncio.timeout_at": ("when", 0),
    "asyncio.timeouts.timeout_at": ("when", 0),
    "async_timeout.timeout": ("delay", 0),
    "async_timeout.timeout_at": ("deadline", 0),
    "anyio.fail_after": ("delay", 0),
    "anyio.move_on_after": ("delay", 0),
}


class AsyncioTimeoutDisabled(Rule):
    code = "ASF207"
    name = "asyncio-timeout-disabled"
    summary = "`asyncio.wait_for()` / `asyncio.timeout()` given `None`, so nothing ever times out"
    message = "`{call}()` with a `None` {parameter} never times out: pass a number of seconds{hint}"
    triggers = ("wait_for", "timeout", "fail_after", "move_on_after")
    docs = """
## What it does
Flags the asyncio timeout helpers called with `None` as their limit:
`asyncio.wait_for(aw, None)` / `asyncio.wait_for(aw, timeout=None)`,
`asyncio.timeout(None)` and `asyncio.timeout_at(None)`, the same helpers of the
`async-timeout` backport (`async_timeout.timeout(None)`), and AnyIO's scopes
`anyio.fail_after(None)` and `anyio.move_on_after(None)` - however they were
imported. The limit counts whether it is passed by keyword or by position.

Neither ruff nor flake8-async checks this. flake8-async's `ASYNC100` (also in
ruff) looks at the *body* of a timeout scope - a `with trio.fail_after(...)` block
that contains no `await` - not at a scope whose deadline is `None`; `ASYNC109`
flags `async def` functions that take a `timeout` parameter.

This family is not the one `ASYNC109` is about: that rule tells you not to give
*your own* `async def` a `timeout` parameter and to let callers use a timeout
context manager instead. The ASF2xx rules ask for a timeout on *calls* that would
otherwise wait forever - and this one makes sure the timeout context manager that
`ASYNC109` recommends, `asyncio.timeout()`, actually has a deadline.

## Why is this bad?
`None` is accepted by these helpers and means "no deadline": `wait_for(aw, None)`
simply awaits `aw`, and `async with asyncio.timeout(None):` never expires (unless
`reschedule()` is called later). Code written this way looks protected but is not:
if the awaited operation stalls, the task - and the request it serves - waits
forever, holding its connections and memory. It often comes from a setting that
defaults to `None` and was passed straight through.

## Example
```python
import asyncio

async def handle(queue: asyncio.Queue) -> bytes:
    return await asyncio.wait_for(queue.get(), timeout=None)
```

## Use instead
```python
import asyncio

async def handle(queue: asyncio.Queue) -> bytes:
    async with asyncio.timeout(5):
        return await queue.get()
```

## Fix safety
There is no automatic fix yet.
"""
    valid = (
        "import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, 5)\n",
        "import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, timeout=2.5)\n",
        "import asyncio\nasync def f(aw):\n    async with asyncio.timeout(5):\n        await aw\n",
        "import asyncio\nasync def f(aw, deadline):\n    async with asyncio.timeout_at(deadline):\n        await aw\n",
        "import asyncio\nasync def f(aw, **kw):\n    return await asyncio.wait_for(aw, **kw)\n",
        "import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, None)  # noqa: ASF207\n",
        "import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, None)  # asyncsafe: ignore[ASF207]\n",
        "import asyncio\nasync def f(aws):\n    await asyncio.wait(aws, timeout=None)\n",
        "import anyio\nasync def f(aw):\n    with anyio.fail_after(5):\n        await aw\n",
        "def timeout(x):\n    pass\ntimeout(None)\n",
    )
    invalid = (
        Invalid(
            "import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, None)  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
        ),
        Invalid(
            "import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, timeout=None)  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
        ),
        Invalid(
            "import asyncio as aio\nasync def f(aw):\n    return await aio.wait_for(fut=aw, timeout=None)  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
        ),
        Invalid(
            "from asyncio import wait_for as within\nasync def f(aw):\n    return await within(aw, None)  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
        ),
        Invalid(
            "import asyncio\nasync def f(aw):\n    async with asyncio.timeout(None):  # expect: ASF207\n        await aw\n",
            "`asyncio.timeout()` with a `None` `delay` never times out: pass a number of seconds",
        ),
        Invalid(
            "from asyncio import timeout_at\nasync def f(aw):\n    async with timeout_at(None):  # expect: ASF207\n        await aw\n",
            "`asyncio.timeout_at()` with a `None` `when` never times out: pass a number of seconds",
        ),
        Invalid(
            "import async_timeout\nasync def f(aw):\n    async with async_timeout.timeout(None):  # expect: ASF207\n        await aw\n",
            "`async_timeout.timeout()` with a `None` `delay` never times out: pass a number of seconds",
        ),
        Invalid(
            "import anyio\nasync def f(aw):\n    with anyio.fail_after(None):  # expect: ASF207\n        await aw\n"
            "    with anyio.move_on_after(delay=None):  # expect: ASF207\n        await aw\n",
            "`anyio.fail_after()` with a `None` `delay` never times out: pass a number of seconds",
            "`anyio.move_on_after()` with a `None` `delay` never times out: pass a number of seconds",
        ),
        Invalid(
            "import asyncio\nclass Worker:\n    async def run(self, aw):\n        await asyncio.wait_for(aw, None)  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
        ),
        Invalid(
            "import asyncio\ndef sync_helper(loop, aw):\n    return loop.run_until_complete(asyncio.wait_for(aw, None))  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
        ),
        Invalid(
            "import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, None)  # noqa: ASF206  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
        ),
    )

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, ast.Call) or call.name not in _HELPERS:
            return
        parameter, position = _HELPERS[call.name]
        if is_none(call.argument(parameter, position)):
            hint = ", or drop the wrapper if waiting forever is really intended" if parameter == "timeout" else ""
            self.report(call.node, call=call.name, parameter=f"`{parameter}`", hint=hint)
