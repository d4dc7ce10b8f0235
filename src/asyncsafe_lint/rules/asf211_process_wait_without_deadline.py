from __future__ import annotations

import ast

from asyncsafe_lint.deadlines import DeadlineRule, earlier_statements
from asyncsafe_lint.names import dotted
from asyncsafe_lint.rule import Invalid


def _kills(statement: ast.stmt, process: str) -> bool:
    """True when `statement` is `<process>.kill()`."""
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return False
    func = statement.value.func
    return isinstance(func, ast.Attribute) and func.attr == "kill" and dotted(func.value) == process


class ProcessWaitWithoutDeadline(DeadlineRule):
    code = "ASF211"
    name = "process-wait-without-deadline"
    summary = "`Process.wait()` / `communicate()` of an asyncio child awaited outside any deadline can wait forever"
    message = "`{call}()` awaited outside any deadline: a child process that hangs holds this task forever; await it inside `async with asyncio.timeout(<seconds>):`, or through `asyncio.wait_for(..., timeout=<seconds>)`"
    triggers = ("subprocess",)
    waits = frozenset({"asyncio.subprocess.Process.wait", "asyncio.subprocess.Process.communicate"})
    docs = """
## What it does
Flags `await proc.wait()` and `await proc.communicate(...)` on an asyncio child
process - `proc = await asyncio.create_subprocess_exec(...)` or
`create_subprocess_shell(...)`, a parameter or attribute annotated
`asyncio.subprocess.Process` - when no deadline encloses the `await` in the same
function. These count as deadlines: `async with asyncio.timeout(...)` /
`asyncio.timeout_at(...)` (and `asyncio.Timeout`, and the `async_timeout` backport),
`with anyio.fail_after(...)` / `anyio.move_on_after(...)`, and
`with anyio.CancelScope(deadline=...)` - each with a limit that is not `None` (a
limit held in a variable counts). A call that is not awaited on the spot is left
alone: `await asyncio.wait_for(proc.communicate(), timeout=10)` is bounded, and a
coroutine handed to a task or to `gather()` is bounded (or not) where it is awaited.
Nor is `await proc.wait()` right after `proc.kill()` in the same block: `SIGKILL`
cannot be caught, so that wait - which reaps the child - returns at once. (After
`terminate()` it can hang: the child may ignore `SIGTERM`.)

A deadline the *caller* sets is not seen: suppress the finding with a comment that
names it, or move the deadline next to the wait.

Neither ruff nor flake8-async has this check: `ASYNC220`-`ASYNC222` flag the *sync*
`subprocess` and `os.wait` calls in async code and recommend
`asyncio.create_subprocess_exec()`, but say nothing about waiting for the child it
starts. ASF206 is the sync counterpart: `subprocess.run()` and `Popen.wait()`
without `timeout=`.

## Why is this bad?
Unlike `subprocess.Popen`, asyncio's `Process.wait()` and `Process.communicate()`
take no `timeout` at all: they return when the child exits. A child that hangs -
waiting on a pipe, a network mount, a lock, a prompt - keeps the awaiting task, and
the request it serves, waiting with it forever, while the child holds its memory and
file descriptors. Awaited inside a deadline, the wait is cancelled on time and the
child can be killed.

## Example
```python
import asyncio

async def thumbnail(path: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "convert", path, "-resize", "128x128", "png:-", stdout=asyncio.subprocess.PIPE
    )
    output, _ = await proc.communicate()
    return output
```

## Use instead
```python
import asyncio

async def thumbnail(path: str) -> bytes:
    proc = await asyncio.create_subprocess_exec(
        "convert", path, "-resize", "128x128", "png:-", stdout=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(10):
            output, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return output
```

## Fix safety
There is no automatic fix yet.
"""
    valid = (
        "import asyncio\nasync def f():\n    proc = await asyncio.create_subprocess_exec('ls')\n"
        "    async with asyncio.timeout(10):\n        await proc.wait()\n",
        "import asyncio\nasync def f():\n    proc = await asyncio.create_subprocess_shell('ls', stdout=asyncio.subprocess.PIPE)\n"
        "    out, _ = await asyncio.wait_for(proc.communicate(), timeout=10)\n",
        "import asyncio\nasync def f(proc: asyncio.subprocess.Process, limit: float):\n"
        "    async with asyncio.timeout(limit):\n        return await proc.communicate(b'input')\n",
        "import anyio, asyncio\nasync def f():\n    proc = await asyncio.create_subprocess_exec('ls')\n"
        "    with anyio.fail_after(10):\n        await proc.wait()\n",
        "import asyncio\nasync def f():\n    proc = await asyncio.create_subprocess_exec('ls')\n"
        "    task = asyncio.create_task(proc.wait())\n    return task\n",
        "import asyncio\nasync def f():\n    proc = await asyncio.create_subprocess_exec('ls')\n"
        "    await proc.wait()  # noqa: ASF211\n",
        "import asyncio\nasync def f():\n    proc = await asyncio.create_subprocess_exec('ls')\n"
        "    await proc.wait()  # asyncsafe: ignore[ASF211]\n",
        "import subprocess\nasync def f(proc: subprocess.Popen):\n    proc.wait(timeout=5)\n",
        "import asyncio\nasync def f(proc):\n    await proc.wait()\n",
        "import asyncio\nasync def f():\n    proc = await asyncio.create_subprocess_exec('ls')\n"
        "    try:\n        async with asyncio.timeout(5):\n            await proc.communicate()\n"
        "    except TimeoutError:\n        proc.kill()\n        await proc.wait()\n        raise\n",
        "import asyncio\nclass Job:\n    proc: asyncio.subprocess.Process\n    async def stop(self):\n        self.proc.kill()\n        await self.proc.wait()\n",
        "import asyncio\nasync def f(event: asyncio.Event):\n    await event.wait()\n",
    )
    invalid = (
        # `kill()` in another block, or of another process, does not make this wait short.
        Invalid(
            "import asyncio\nasync def f(other: asyncio.subprocess.Process):\n"
            "    proc = await asyncio.create_subprocess_exec('ls')\n    if other:\n        proc.kill()\n"
            "    await proc.wait()  # expect: ASF211\n    other.kill()\n    await proc.wait()  # expect: ASF211\n",
            "`asyncio.subprocess.Process.wait()` awaited outside any deadline",
            "`asyncio.subprocess.Process.wait()` awaited outside any deadline",
        ),
        Invalid(
            "import asyncio\nasync def f():\n    proc = await asyncio.create_subprocess_exec('ls')\n"
            "    await proc.wait()  # expect: ASF211\n",
            "`asyncio.subprocess.Process.wait()` awaited outside any deadline: a child process that hangs holds this task forever; await it inside `async with asyncio.timeout(<seconds>):`, or through `asyncio.wait_for(..., timeout=<seconds>)`",
        ),
        Invalid(
            "from asyncio import create_subprocess_shell, subprocess\nasync def f():\n"
            "    proc = await create_subprocess_shell('make', stdout=subprocess.PIPE)\n"
            "    out, err = await proc.communicate()  # expect: ASF211\n",
            "`asyncio.subprocess.Process.communicate()` awaited outside any deadline",
        ),
        Invalid(
            "import asyncio\nfrom asyncio.subprocess import Process\nasync def f(proc: Process):\n"
            "    proc.terminate()\n    return await proc.wait()  # expect: ASF211\n",
            "`asyncio.subprocess.Process.wait()` awaited outside any deadline",
        ),
        Invalid(
            "import asyncio\nclass Worker:\n    async def start(self):\n"
            "        self.proc = await asyncio.create_subprocess_exec('worker')\n"
            "    async def stop(self):\n        self.proc.terminate()\n        await self.proc.wait()  # expect: ASF211\n",
            "`asyncio.subprocess.Process.wait()` awaited outside any deadline",
        ),
        Invalid(
            "import asyncio\nasync def f():\n    proc = await asyncio.create_subprocess_exec('ls')\n"
            "    async with asyncio.timeout(None):\n        await proc.wait()  # expect: ASF211\n",
            "`asyncio.subprocess.Process.wait()` awaited outside any deadline",
        ),
        Invalid(
            "import asyncio\nasync def f():\n    proc = await asyncio.create_subprocess_exec('ls')\n"
            "    await proc.wait()  # noqa: ASF206  # expect: ASF211\n",
            "`asyncio.subprocess.Process.wait()` awaited outside any deadline",
        ),
    )

    def returns_promptly(self, node: ast.Call, parents: dict[ast.AST, ast.AST]) -> bool:
        # `await proc.wait()` right after `proc.kill()`: it only reaps the killed child.
        func = node.func
        if not isinstance(func, ast.Attribute) or func.attr != "wait":
            return False
        process = dotted(func.value)
        return process is not None and any(
            _kills(statement, process) for statement in earlier_statements(node, parents)
        )
