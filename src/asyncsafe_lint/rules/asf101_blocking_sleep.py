from __future__ import annotations

import ast

from asyncsafe_lint.changes import add_import, await_instead, fix
from asyncsafe_lint.diagnostics import Applicability, Change, Fix
from asyncsafe_lint.imports import ModuleImports, Scopes
from asyncsafe_lint.rule import BlockingCallRule, Call, FixAvailability, Invalid, RuleContext


class BlockingSleep(BlockingCallRule):
    code = "ASF101"
    name = "blocking-sleep"
    fix_availability = FixAvailability.SOMETIMES
    summary = "`time.sleep()` in async code stops the whole event loop"
    calls = {"time.sleep": "use `await asyncio.sleep()` (or `await anyio.sleep()`)"}
    docs = """
## What it does
Flags `time.sleep()` called directly in the body of an `async def` (a route, a
dependency, middleware, a lifespan, or any coroutine), however `time` or `sleep`
was imported or renamed.

## Why is this bad?
`time.sleep()` blocks the thread it runs on. In async code that thread is the event
loop's: while it sleeps, no other request on that worker makes progress, health
checks time out and latency climbs for everyone.

## Example
```python
import time

@app.get("/retry")
async def retry():
    time.sleep(0.5)
    return {"ok": True}
```

## Use instead
```python
import asyncio

@app.get("/retry")
async def retry():
    await asyncio.sleep(0.5)
    return {"ok": True}
```

## Fix safety
The fix turns the call into `await asyncio.sleep(...)`, adding `import asyncio` when
the module does not import it yet; in a module that imports from `anyio` it uses
`await anyio.sleep(...)` instead. Aliases are followed (`nap(1)` after
`from time import sleep as nap` becomes `await asyncio.sleep(1)`).

```python
from time import sleep as nap

async def poll():
    nap(1)
# becomes
from time import sleep as nap
import asyncio

async def poll():
    await asyncio.sleep(1)
```

It is offered only where `await` is sure to be valid and to mean the same: the call
is a statement of its own in the body of the `async def` itself (not in a nested
function, class or lambda), it passes exactly one positional argument, that argument
is not a negative number written out (`time.sleep(-1)` raises `ValueError`,
`asyncio.sleep(-1)` returns at once), the function called is not written in
parentheses (`(time.sleep)(1)`), and the name the fix would use is not bound to
anything else in the module, the function or the functions it is nested in.

The fix is safe: the coroutine still pauses for as long and then carries on as before.
What changes is what the rule asks for: during the pause the event loop runs other
tasks instead of standing still, and, as at every `await`, the task can be cancelled
there (by a timeout, or a client that went away). One difference remains for a delay
computed at run time: if it turns out negative or NaN, `time.sleep()` raised
`ValueError` where `asyncio.sleep()` returns at once (recent anyio releases raise, as
`time.sleep()` does).
"""
    valid = (
        "import asyncio\nasync def f():\n    await asyncio.sleep(1)\n",
        "import time\ndef f():\n    time.sleep(1)\n",
        "import time\nasync def f():\n    def later():\n        time.sleep(1)\n    return later\n",
        "import time\nasync def f(loop):\n    await loop.run_in_executor(None, lambda: time.sleep(1))\n",
        "import time, asyncio\nasync def f():\n    await asyncio.to_thread(time.sleep, 1)\n",
        "from starlette.concurrency import run_in_threadpool\nimport time\n"
        "async def f():\n    await run_in_threadpool(time.sleep, 1)\n",
        "import time\nasync def f():\n    time.sleep(1)  # noqa: ASF101\n",
        "import time\nasync def f():\n    time.sleep(1)  # asyncsafe: ignore[ASF101]\n",
        "async def f(time):\n    time.sleep(1)\n",
        "import trio as time\nasync def f():\n    time.sleep(1)\n",
        "import time\ndef sleep(s):\n    pass\nasync def f():\n    sleep(1)\n",
    )
    invalid = (
        Invalid(
            "import time\nasync def f():\n    time.sleep(1)  # expect: ASF101\n",
            "Blocking call `time.sleep()` in async function `f`: use `await asyncio.sleep()` (or `await anyio.sleep()`)",
            fixed="import time\nimport asyncio\nasync def f():\n    await asyncio.sleep(1)  # expect: ASF101\n",
        ),
        Invalid(
            "import time as t\nasync def f():\n    t.sleep(1)  # expect: ASF101\n",
            "Blocking call `time.sleep()` in async function `f`: use `await asyncio.sleep()` (or `await anyio.sleep()`)",
            fixed="import time as t\nimport asyncio\nasync def f():\n    await asyncio.sleep(1)  # expect: ASF101\n",
        ),
        Invalid(
            "from time import sleep as nap\nasync def f():\n    nap(1)  # expect: ASF101\n",
            "Blocking call `time.sleep()` in async function `f`: use `await asyncio.sleep()` (or `await anyio.sleep()`)",
            fixed="from time import sleep as nap\nimport asyncio\nasync def f():\n"
            "    await asyncio.sleep(1)  # expect: ASF101\n",
        ),
        Invalid(
            "async def f():\n    time.sleep(1)  # expect: ASF101\n",
            "Blocking call `time.sleep()` in async function `f`: use `await asyncio.sleep()` (or `await anyio.sleep()`)",
            fixed="import asyncio\nasync def f():\n    await asyncio.sleep(1)  # expect: ASF101\n",
        ),
        Invalid(
            "import time\nclass Service:\n    async def run(self):\n        time.sleep(1)  # expect: ASF101\n",
            "Blocking call `time.sleep()` in async function `Service.run`: use `await asyncio.sleep()` (or `await anyio.sleep()`)",
            fixed="import time\nimport asyncio\nclass Service:\n    async def run(self):\n"
            "        await asyncio.sleep(1)  # expect: ASF101\n",
        ),
        Invalid(
            "import time\nasync def f():\n    async def inner():\n        time.sleep(1)  # expect: ASF101\n    await inner()\n",
            "Blocking call `time.sleep()` in async function `inner`: use `await asyncio.sleep()` (or `await anyio.sleep()`)",
            fixed="import time\nimport asyncio\nasync def f():\n    async def inner():\n"
            "        await asyncio.sleep(1)  # expect: ASF101\n    await inner()\n",
        ),
        Invalid(
            "import time\nasync def f():\n    x = '# noqa'; time.sleep(1)  # expect: ASF101\n",
            "Blocking call `time.sleep()` in async function `f`: use `await asyncio.sleep()` (or `await anyio.sleep()`)",
            fixed="import time\nimport asyncio\nasync def f():\n"
            "    x = '# noqa'; await asyncio.sleep(1)  # expect: ASF101\n",
        ),
        Invalid(
            "import time\nasync def f():\n    time.sleep(1)  # noqa: ASF102  # expect: ASF101\n",
            "Blocking call `time.sleep()` in async function `f`: use `await asyncio.sleep()` (or `await anyio.sleep()`)",
            fixed="import time\nimport asyncio\nasync def f():\n"
            "    await asyncio.sleep(1)  # noqa: ASF102  # expect: ASF101\n",
        ),
        Invalid(
            "import time\npause = time.sleep\nasync def f():\n    pause(1)  # expect: ASF101\n",
            "Blocking call `time.sleep()` in async function `f`: use `await asyncio.sleep()` (or `await anyio.sleep()`)",
            fixed="import time\nimport asyncio\npause = time.sleep\nasync def f():\n"
            "    await asyncio.sleep(1)  # expect: ASF101\n",
        ),
        # Flagged, with no fix: `(await asyncio.sleep)(1)` would await the function.
        Invalid(
            "import time\nasync def f():\n    (time.sleep)(1)  # expect: ASF101\n",
            "Blocking call `time.sleep()` in async function `f`: use `await asyncio.sleep()` (or `await anyio.sleep()`)",
        ),
    )

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.scopes = context.shared(Scopes, Scopes)
        #: Per `async def` (by id), its calls that are statements of their own.
        self._statements: dict[int, set[int]] = {}

    def fix(self, call: Call) -> Fix | None:
        node, function = call.node, call.function
        if not isinstance(node, ast.Call) or function is None or not isinstance(function.node, ast.AsyncFunctionDef):
            return None
        if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
            return None
        if _negative_number(node.args[0]) or self.source.start(node.func) != self.source.start(node):
            return None  # `time.sleep(-1)` raises; `(time.sleep)(1)` would await the function
        if id(node) not in self._statements_of(function.node):
            return None
        imports = ModuleImports(self.tree)
        module = "anyio" if imports.uses("anyio") else "asyncio"
        spelled = imports.reference(f"{module}.sleep")
        changes: list[Change] = []
        if spelled is None:
            if imports.is_bound(module):
                return None
            changes.append(add_import(f"import {module}"))
            spelled = f"{module}.sleep"
        if self.scopes.binds(function, spelled.split(".", 1)[0]):
            return None
        changes.append(await_instead(self.source, node, spelled))
        return fix(f"Use `await {spelled}()`", changes, Applicability.SAFE)

    def _statements_of(self, function: ast.AsyncFunctionDef) -> set[int]:
        if id(function) not in self._statements:
            self._statements[id(function)] = _call_statements(function.body)
        return self._statements[id(function)]


def _negative_number(node: ast.expr) -> bool:
    """True for a literal such as `-1` or `-0.5`, which `time.sleep()` rejects and
    `asyncio.sleep()` does not."""
    if not (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)):
        return False
    value = node.operand.value
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _call_statements(body: list[ast.stmt]) -> set[int]:
    """The calls that are whole expression statements in a function body, outside the
    functions and classes nested in it."""
    found: set[int] = set()
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Expr):
            # Its expression holds no statements (nor does a lambda's).
            if isinstance(node.value, ast.Call):
                found.add(id(node.value))
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.expr)):
            pending.extend(ast.iter_child_nodes(node))
    return found
