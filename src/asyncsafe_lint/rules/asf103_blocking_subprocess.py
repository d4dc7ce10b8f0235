from __future__ import annotations

import ast

from asyncsafe_lint.handoff import FIX_SAFETY, HandOffRule
from asyncsafe_lint.rule import Call, Invalid

_RUN = "use `await asyncio.create_subprocess_exec()` (or `await anyio.run_process()`)"
_START = "use `await asyncio.create_subprocess_exec()` (or `await anyio.open_process()`)"
_WAIT = "use `await process.wait()` on a process from `asyncio.create_subprocess_exec()`"

#: Where the `options` of each `os.wait*()` go (they are positional-only): with
#: `os.WNOHANG` among them the call returns at once instead of waiting.
_OPTIONS_POSITION = {"os.wait3": 0, "os.wait4": 1, "os.waitpid": 1, "os.waitid": 2}


class BlockingSubprocess(HandOffRule):
    code = "ASF103"
    name = "blocking-subprocess"
    summary = "`subprocess`, `os.system()` or `os.wait*()` in async code waits for a child process"
    calls = {
        **{
            f"subprocess.{function}": _RUN
            for function in ("run", "call", "check_call", "check_output", "getoutput", "getstatusoutput")
        },
        "subprocess.Popen": _START,
        "subprocess.Popen.wait": _WAIT,
        "subprocess.Popen.communicate": "use `await process.communicate()` on an `asyncio` subprocess",
        "os.system": _RUN,
        "os.popen": _START,
        **{
            f"os.{function}": _START
            for function in (
                "spawnl",
                "spawnle",
                "spawnlp",
                "spawnlpe",
                "spawnv",
                "spawnve",
                "spawnvp",
                "spawnvpe",
                "posix_spawn",
                "posix_spawnp",
            )
        },  # fmt: skip
        **{f"os.{function}": _WAIT for function in ("wait", "wait3", "wait4", "waitid", "waitpid")},
    }
    docs = (
        """
## What it does
Flags, directly in the body of an `async def`, calls that start a child process or
wait for one: `subprocess.run()` and its relatives, `subprocess.Popen(...)` and its
`wait()` and `communicate()` methods, `os.system()`, `os.popen()`, every `os.spawn*()`,
`os.posix_spawn[p]()` and the `os.wait*()` family.  A `Popen` object is recognised
wherever it is kept: a local, a parameter annotated `subprocess.Popen`, or `self.proc`.
`os.waitpid(pid, os.WNOHANG)` (and the other `os.wait*()` with `WNOHANG`) returns at
once, so it is not flagged.

ruff and flake8-async flag the module-level functions as ASYNC220 (starting a process),
ASYNC221 (running one to completion) and ASYNC222 (`os.wait*()`).  Neither looks at
the methods of a `Popen` object, which is where the waiting actually happens, and both
flag `os.waitpid(..., os.WNOHANG)`.

## Why is this bad?
Running a command synchronously parks the event loop until the child exits: a
two-second `git` or `ffmpeg` call is a two-second outage for every other request on
the worker.  Starting a process with `Popen` forks the whole interpreter while the loop
waits, and the `wait()` or `communicate()` that usually follows blocks until the child
is done.

## Example
```python
import subprocess

@app.post("/thumbnail")
async def thumbnail(path: str):
    subprocess.run(["convert", path, "-resize", "128x128", "thumb.png"], check=True)
```

## Use instead
```python
import asyncio

@app.post("/thumbnail")
async def thumbnail(path: str):
    process = await asyncio.create_subprocess_exec("convert", path, "-resize", "128x128", "thumb.png")
    await process.wait()
```
With anyio: `await anyio.run_process(["convert", ...])`.

## Fix safety
"""
        + FIX_SAFETY
    )
    valid = (
        "import asyncio\nasync def f():\n"
        "    process = await asyncio.create_subprocess_exec('ls')\n    await process.wait()\n",
        "import anyio\nasync def f():\n    await anyio.run_process(['ls'])\n",
        "import subprocess\ndef f():\n    subprocess.run(['ls'], check=True)\n",
        "import subprocess\nasync def f():\n    return lambda: subprocess.run(['ls'])\n",
        "import anyio, subprocess\nasync def f():\n"
        "    await anyio.to_thread.run_sync(subprocess.check_output, ['ls'])\n",
        "import os\nasync def f(pid):\n    os.waitpid(pid, os.WNOHANG)\n",
        "from os import wait3, WNOHANG, WUNTRACED\nasync def f():\n    wait3(WNOHANG | WUNTRACED)\n",
        "import subprocess\nasync def f(process: subprocess.Popen):\n    process.poll()\n",
        "import os\nasync def f():\n    os.system('ls')  # asyncsafe: ignore[ASF103]\n",
    )
    invalid = (
        Invalid(
            "import subprocess\nasync def f():\n    subprocess.run(['ls'], check=True)  # expect: ASF103\n",
            "Blocking call `subprocess.run()` in async function `f`: use `await asyncio.create_subprocess_exec()` (or `await anyio.run_process()`)",
            fixed="import subprocess\nimport anyio\nimport functools\nasync def f():\n"
            "    await anyio.to_thread.run_sync(functools.partial(subprocess.run, ['ls'], check=True))  # expect: ASF103\n",
        ),
        Invalid(
            "from subprocess import check_output as out\nasync def f():\n    out(['ls'])  # expect: ASF103\n",
            "Blocking call `subprocess.check_output()` in async function `f`: use `await asyncio.create_subprocess_exec()` (or `await anyio.run_process()`)",
            fixed="from subprocess import check_output as out\nimport anyio\nasync def f():\n"
            "    await anyio.to_thread.run_sync(out, ['ls'])  # expect: ASF103\n",
        ),
        Invalid(
            "async def f():\n    os.system('ls')  # expect: ASF103\n",
            "Blocking call `os.system()` in async function `f`: use `await asyncio.create_subprocess_exec()` (or `await anyio.run_process()`)",
            fixed="import anyio\nasync def f():\n"
            "    await anyio.to_thread.run_sync(os.system, 'ls')  # expect: ASF103\n",
        ),
        Invalid(
            "import subprocess\nasync def f():\n    p = subprocess.Popen(['ls'])  # expect: ASF103\n"
            "    p.communicate(timeout=5)  # expect: ASF103\n",
            "Blocking call `subprocess.Popen()` in async function `f`: use `await asyncio.create_subprocess_exec()` (or `await anyio.open_process()`)",
            "Blocking call `subprocess.Popen.communicate()` in async function `f`: use `await process.communicate()` on an `asyncio` subprocess",
            fixed="import subprocess\nimport anyio\nimport functools\nasync def f():\n"
            "    p = await anyio.to_thread.run_sync(subprocess.Popen, ['ls'])  # expect: ASF103\n"
            "    await anyio.to_thread.run_sync(functools.partial(p.communicate, timeout=5))  # expect: ASF103\n",
        ),
        Invalid(
            "import subprocess\nclass Job:\n    def __init__(self):\n        self.proc = subprocess.Popen(['ls'])\n"
            "    async def stop(self):\n        self.proc.wait()  # expect: ASF103\n",
            "Blocking call `subprocess.Popen.wait()` in async function `Job.stop`: use `await process.wait()` on a process from `asyncio.create_subprocess_exec()`",
            fixed="import subprocess\nimport anyio\nclass Job:\n    def __init__(self):\n"
            "        self.proc = subprocess.Popen(['ls'])\n    async def stop(self):\n"
            "        await anyio.to_thread.run_sync(self.proc.wait)  # expect: ASF103\n",
        ),
        Invalid(
            "import os\nasync def f(pid):\n    os.waitpid(pid, 0)  # expect: ASF103\n",
            "Blocking call `os.waitpid()` in async function `f`: use `await process.wait()` on a process from `asyncio.create_subprocess_exec()`",
            fixed="import os\nimport anyio\nasync def f(pid):\n"
            "    await anyio.to_thread.run_sync(os.waitpid, pid, 0)  # expect: ASF103\n",
        ),
        Invalid(
            "import os\nasync def f():\n    os.spawnlp(os.P_NOWAIT, 'ls', 'ls')  # expect: ASF103\n",
            "Blocking call `os.spawnlp()` in async function `f`: use `await asyncio.create_subprocess_exec()` (or `await anyio.open_process()`)",
            fixed="import os\nimport anyio\nasync def f():\n"
            "    await anyio.to_thread.run_sync(os.spawnlp, os.P_NOWAIT, 'ls', 'ls')  # expect: ASF103\n",
        ),
        Invalid(
            "import os\nasync def f():\n    os.popen('ls').read()  # expect: ASF103\n",
            "Blocking call `os.popen()` in async function `f`: use `await asyncio.create_subprocess_exec()` (or `await anyio.open_process()`)",
            fixed="import os\nimport anyio\nasync def f():\n"
            "    (await anyio.to_thread.run_sync(os.popen, 'ls')).read()  # expect: ASF103\n",
        ),
        Invalid(
            "import os\nasync def f():\n    os.system('ls')  # noqa: ASF102  # expect: ASF103\n",
            "Blocking call `os.system()` in async function `f`: use `await asyncio.create_subprocess_exec()` (or `await anyio.run_process()`)",
            fixed="import os\nimport anyio\nasync def f():\n"
            "    await anyio.to_thread.run_sync(os.system, 'ls')  # noqa: ASF102  # expect: ASF103\n",
        ),
        # Flagged, with no fix: a `with` block goes to a thread whole or not at all.
        Invalid(
            "import subprocess\nasync def f():\n"
            "    with subprocess.Popen(['ls'], stdout=subprocess.PIPE) as p:  # expect: ASF103\n"
            "        return p.stdout.read()\n",
            "Blocking call `subprocess.Popen()` in async function `f`: use `await asyncio.create_subprocess_exec()` (or `await anyio.open_process()`)",
        ),
    )

    def instead(self, call: Call) -> str | None:
        assert call.name is not None
        position = _OPTIONS_POSITION.get(call.name)
        if position is not None:
            options = call.argument("options", position)
            if options is not None and _mentions(options, "WNOHANG"):
                return None
        return super().instead(call)


def _mentions(node: ast.expr, name: str) -> bool:
    """True when the name appears anywhere in `node` (`os.WNOHANG | os.WUNTRACED`)."""
    return any(
        (isinstance(child, ast.Name) and child.id == name) or (isinstance(child, ast.Attribute) and child.attr == name)
        for child in ast.walk(node)
    )
