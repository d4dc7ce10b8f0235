from __future__ import annotations

import ast

from asyncsafe_lint.changes import timeout_fix
from asyncsafe_lint.rule import Call, FixAvailability, Invalid, Rule, is_none

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

#: The parameters that take a point in time rather than a delay.
_DEADLINES = frozenset({"when", "deadline"})


class AsyncioTimeoutDisabled(Rule):
    code = "ASF207"
    name = "asyncio-timeout-disabled"
    fix_availability = FixAvailability.SOMETIMES
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
The fix puts the number of seconds that `default-timeout` in `[tool.asyncsafe]` sets
(10 when it is not set) in place of the `None` given as a delay (`wait_for`,
`asyncio.timeout`, `async_timeout.timeout`, `anyio.fail_after`, `anyio.move_on_after`).
A deadline (`asyncio.timeout_at`, `async_timeout.timeout_at`) is a time on the loop's
clock, not a number of seconds, so it gets no fix.

The fix is unsafe: what used to be waited on for as long as it took is now cancelled
after that many seconds (`TimeoutError`, or silently for `move_on_after`). If waiting
forever was intended, remove the wrapper instead.
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
            fixed="import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, 10)  # expect: ASF207\n",
        ),
        Invalid(
            "import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, timeout=None)  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
            fixed="import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, timeout=10)  # expect: ASF207\n",
        ),
        Invalid(
            "import asyncio as aio\nasync def f(aw):\n    return await aio.wait_for(fut=aw, timeout=None)  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
            fixed="import asyncio as aio\nasync def f(aw):\n    return await aio.wait_for(fut=aw, timeout=10)  # expect: ASF207\n",
        ),
        Invalid(
            "from asyncio import wait_for as within\nasync def f(aw):\n    return await within(aw, None)  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
            fixed="from asyncio import wait_for as within\nasync def f(aw):\n    return await within(aw, 10)  # expect: ASF207\n",
        ),
        Invalid(
            "import asyncio\nasync def f(aw):\n    async with asyncio.timeout(None):  # expect: ASF207\n        await aw\n",
            "`asyncio.timeout()` with a `None` `delay` never times out: pass a number of seconds",
            fixed="import asyncio\nasync def f(aw):\n    async with asyncio.timeout(10):  # expect: ASF207\n        await aw\n",
        ),
        Invalid(
            "from asyncio import timeout_at\nasync def f(aw):\n    async with timeout_at(None):  # expect: ASF207\n        await aw\n",
            "`asyncio.timeout_at()` with a `None` `when` never times out: pass a number of seconds",
        ),
        Invalid(
            "import async_timeout\nasync def f(aw):\n    async with async_timeout.timeout(None):  # expect: ASF207\n        await aw\n",
            "`async_timeout.timeout()` with a `None` `delay` never times out: pass a number of seconds",
            fixed="import async_timeout\nasync def f(aw):\n    async with async_timeout.timeout(10):  # expect: ASF207\n        await aw\n",
        ),
        Invalid(
            "import anyio\nasync def f(aw):\n    with anyio.fail_after(None):  # expect: ASF207\n        await aw\n"
            "    with anyio.move_on_after(delay=None):  # expect: ASF207\n        await aw\n",
            "`anyio.fail_after()` with a `None` `delay` never times out: pass a number of seconds",
            "`anyio.move_on_after()` with a `None` `delay` never times out: pass a number of seconds",
            fixed="import anyio\nasync def f(aw):\n    with anyio.fail_after(10):  # expect: ASF207\n        await aw\n    with anyio.move_on_after(delay=10):  # expect: ASF207\n        await aw\n",
        ),
        Invalid(
            "import asyncio\nclass Worker:\n    async def run(self, aw):\n        await asyncio.wait_for(aw, None)  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
            fixed="import asyncio\nclass Worker:\n    async def run(self, aw):\n        await asyncio.wait_for(aw, 10)  # expect: ASF207\n",
        ),
        Invalid(
            "import asyncio\ndef sync_helper(loop, aw):\n    return loop.run_until_complete(asyncio.wait_for(aw, None))  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
            fixed="import asyncio\ndef sync_helper(loop, aw):\n    return loop.run_until_complete(asyncio.wait_for(aw, 10))  # expect: ASF207\n",
        ),
        Invalid(
            "import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, None)  # noqa: ASF206  # expect: ASF207\n",
            "`asyncio.wait_for()` with a `None` `timeout` never times out: pass a number of seconds, or drop the wrapper if waiting forever is really intended",
            fixed="import asyncio\nasync def f(aw):\n    return await asyncio.wait_for(aw, 10)  # noqa: ASF206  # expect: ASF207\n",
        ),
    )

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, ast.Call) or call.name not in _HELPERS:
            return
        parameter, position = _HELPERS[call.name]
        if is_none(call.argument(parameter, position)):
            hint = ", or drop the wrapper if waiting forever is really intended" if parameter == "timeout" else ""
            # A deadline (`timeout_at`) is a time on the loop's clock, not a number of seconds.
            relative = parameter not in _DEADLINES
            given = call.argument(parameter, position)
            fix = (
                timeout_fix(self.source, call.node, given, self.settings.default_timeout, parameter)
                if relative
                else None
            )
            self.report(call.node, fix=fix, call=call.name, parameter=f"`{parameter}`", hint=hint)
