from asyncsafe_lint.handoff import FIX_SAFETY, HandOffRule
from asyncsafe_lint.rule import Invalid

_PROMPT = "read it in `await anyio.to_thread.run_sync()` (or `loop.run_in_executor()`)"
_STDIN = "read stdin through `loop.connect_read_pipe()`, or in `await anyio.to_thread.run_sync()`"


class BlockingInput(HandOffRule):
    code = "ASF108"
    name = "blocking-input"
    summary = "`input()`, `getpass()` or a read from `sys.stdin` in async code waits for a human"
    calls = {
        "builtins.input": _PROMPT,
        "getpass.getpass": _PROMPT,
        **{f"sys.stdin.{method}": _STDIN for method in ("read", "readline", "readlines")},
    }
    docs = (
        """
## What it does
Flags `input()`, `getpass.getpass()` and `sys.stdin.read()`, `readline()` and
`readlines()` called directly in the body of an `async def`.

ruff and flake8-async flag `input()` as ASYNC250; neither flags `getpass()` or reads
from `sys.stdin`, which wait on the terminal or pipe just the same.

## Why is this bad?
These calls return when a person presses Enter or the other end of a pipe writes,
which may be never.  Until then the event loop is parked: in a server, no request is
served; in a CLI built on asyncio, spinners, timeouts and background tasks all stop.

## Example
```python
async def main():
    name = input("Name: ")
    await greet(name)
```

## Use instead
```python
import anyio

async def main():
    name = await anyio.to_thread.run_sync(input, "Name: ")
    await greet(name)
```

## Fix safety
"""
        + FIX_SAFETY
    )
    valid = (
        "def ask():\n    return input('? ')\n",
        "import anyio\nasync def f():\n    return await anyio.to_thread.run_sync(input, '? ')\n",
        "import asyncio\nasync def f():\n    loop = asyncio.get_running_loop()\n"
        "    return await loop.run_in_executor(None, input, '? ')\n",
        "import sys\nasync def f():\n    sys.stdout.write('x')\n",
        "async def f(input):\n    return input('? ')\n",
        "async def f():\n    return input('? ')  # noqa\n",
    )
    invalid = (
        Invalid(
            "async def f():\n    return input('? ')  # expect: ASF108\n",
            "Blocking call `builtins.input()` in async function `f`: read it in `await anyio.to_thread.run_sync()` (or `loop.run_in_executor()`)",
            fixed="import anyio\nasync def f():\n"
            "    return await anyio.to_thread.run_sync(input, '? ')  # expect: ASF108\n",
        ),
        Invalid(
            "import builtins\nasync def f():\n    return builtins.input()  # expect: ASF108\n",
            "Blocking call `builtins.input()` in async function `f`: read it in `await anyio.to_thread.run_sync()` (or `loop.run_in_executor()`)",
            fixed="import builtins\nimport anyio\nasync def f():\n"
            "    return await anyio.to_thread.run_sync(builtins.input)  # expect: ASF108\n",
        ),
        Invalid(
            "import sys\nasync def f():\n    return sys.stdin.readline()  # expect: ASF108\n",
            "Blocking call `sys.stdin.readline()` in async function `f`: read stdin through `loop.connect_read_pipe()`, or in `await anyio.to_thread.run_sync()`",
            fixed="import sys\nimport anyio\nasync def f():\n"
            "    return await anyio.to_thread.run_sync(sys.stdin.readline)  # expect: ASF108\n",
        ),
        Invalid(
            "from sys import stdin\nasync def f():\n    return stdin.read()  # expect: ASF108\n",
            "Blocking call `sys.stdin.read()` in async function `f`: read stdin through `loop.connect_read_pipe()`, or in `await anyio.to_thread.run_sync()`",
            fixed="from sys import stdin\nimport anyio\nasync def f():\n"
            "    return await anyio.to_thread.run_sync(stdin.read)  # expect: ASF108\n",
        ),
        Invalid(
            "from getpass import getpass\nasync def f():\n    return getpass()  # expect: ASF108\n",
            "Blocking call `getpass.getpass()` in async function `f`: read it in `await anyio.to_thread.run_sync()` (or `loop.run_in_executor()`)",
            fixed="from getpass import getpass\nimport anyio\nasync def f():\n"
            "    return await anyio.to_thread.run_sync(getpass)  # expect: ASF108\n",
        ),
        Invalid(
            "async def f():\n    return input('? ')  # noqa: ASF107  # expect: ASF108\n",
            "Blocking call `builtins.input()` in async function `f`: read it in `await anyio.to_thread.run_sync()` (or `loop.run_in_executor()`)",
            fixed="import anyio\nasync def f():\n"
            "    return await anyio.to_thread.run_sync(input, '? ')  # noqa: ASF107  # expect: ASF108\n",
        ),
        # Flagged, with no fix: `await` would make the generator expression an async one.
        Invalid(
            "async def f(prompts):\n    return tuple(input(p) for p in prompts)  # expect: ASF108\n",
            "Blocking call `builtins.input()` in async function `f`: read it in `await anyio.to_thread.run_sync()` (or `loop.run_in_executor()`)",
        ),
    )
