"""The fix for a blocking call in an async function: run it in a worker thread.

`requests.get(url)` becomes `await anyio.to_thread.run_sync(requests.get, url)`; with
keyword arguments, which `run_sync` does not pass on, `functools.partial` binds them
first; in a module that imports FastAPI's (Starlette's) `run_in_threadpool`, which
passes them on, `await run_in_threadpool(requests.get, url, timeout=5)`.  Where the
whole function is a route or a FastAPI dependency that never suspends, it becomes a
plain `def` instead: the framework then runs all of it in its thread pool.

Either way the call runs on another thread than the loop's, so both fixes are unsafe.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from asyncsafe_lint.changes import add_import, fix, hand_off, make_sync
from asyncsafe_lint.diagnostics import Applicability, Change, Fix
from asyncsafe_lint.imports import ModuleImports, Scopes
from asyncsafe_lint.rule import BlockingCallRule, Call, FixAvailability, RuleContext
from asyncsafe_lint.syntax import Function

#: The runners that pass keyword arguments on, used where the module imports one.
_THREADPOOL = ("fastapi.concurrency.run_in_threadpool", "starlette.concurrency.run_in_threadpool")
#: Every name from these modules needs the event loop (`asyncio.create_task()`): a
#: function that uses one stays a coroutine.
_LOOP_MODULES = ("asyncio", "anyio")
#: The methods of an app or router whose decorator registers a route (`@app.get("/")`):
#: the only decorators a function made a plain `def` may have, any other may want a coroutine.
_ROUTE_DECORATORS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "trace", "api_route"})
#: Code in these runs elsewhere than the function's body, or later: an `await` there is
#: not the function's own, or would make a generator expression an async one.  A sync
#: `with` block goes with them: it is moved into a thread whole or not at all (a file
#: opened on the loop would be read in a thread; a `threading.Lock` held across an
#: `await` would block the loop of the next task that takes it).
_APART = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.GeneratorExp, ast.With)


#: The "Fix safety" section of the rules whose findings `HandOff` fixes.
FIX_SAFETY = """The fix runs the call in a worker thread: `data = requests.get(url, timeout=5)` becomes
`data = await anyio.to_thread.run_sync(functools.partial(requests.get, url, timeout=5))`.
`functools.partial` binds the keyword arguments, which `run_sync` does not pass on; a
call with positional arguments only is handed over as it is
(`await anyio.to_thread.run_sync(requests.get, url)`).  `import anyio` and
`import functools` are added when the module does not import them already (under any
name: `from functools import partial` gives `partial(...)`).  In a module that imports
`run_in_threadpool` from `fastapi.concurrency` or `starlette.concurrency`, which passes
keyword arguments on, the call becomes `await run_in_threadpool(requests.get, url, timeout=5)`.
A call within an expression is awaited in parentheses:

```python
x = f(requests.get(u).json())
# becomes
x = f((await anyio.to_thread.run_sync(requests.get, u)).json())
```

A route or a FastAPI dependency that has nothing to await becomes a plain `def`
instead, which FastAPI runs in its thread pool (as its documentation recommends for
blocking code), and that one change is the fix of every blocking call in it.  That is
a function with no `await`, `async for`, `async with` or `yield` (an async generator
dependency stays a coroutine), that uses nothing from asyncio or anyio, is defined at
module level (not a method, not nested) and has no decorator but the one that
registers its route.  A plain coroutine is never made a `def`: its callers await it.

```python
@app.get("/items")
async def items():
    return requests.get(URL, timeout=5).json()
# becomes
@app.get("/items")
def items():
    return requests.get(URL, timeout=5).json()
```

No fix is offered where `await` cannot be written, or would change what the code does:
in a function, lambda or class nested in the `async def`, in a generator expression
(it would become an async one) or an annotation; nor where a name the fix would use
(`anyio`, `functools`, `run_in_threadpool`) is bound to something else in the module or
the function.  Nor in a `with` statement, its items or its block (`with open(p) as f:`):
the block goes to a thread whole or not at all, so move it into a function and hand
that to a thread, or use the async API the message names.

The fix is unsafe: the call then runs on another thread than the rest of the function,
and two calls handed off one after the other may each run on a different worker thread.
Objects that are not thread-safe, or that belong to the thread that made them, break:
a `sqlite3` connection made on the loop's thread raises `ProgrammingError` ("SQLite
objects created in a thread can only be used in that same thread") when a worker
thread uses it.  The thread pool is bounded (40 threads by default, shared with
FastAPI's sync routes and dependencies), so many slow calls at once wait for one
another.  A route or dependency made a plain `def` can no longer be awaited by code
that calls it directly (a test, another coroutine).
"""


@dataclass(frozen=True, slots=True)
class _Body:
    """What the fixes need to know of one `async def`."""

    #: The calls (by `id`) where `await` can be written and means what it says.
    awaitable: frozenset[int]
    #: True when the function can become a plain `def` (see `HandOff.fix`).
    sync_only: bool


class HandOff:
    """The fixes for the blocking calls of one module."""

    def __init__(self, context: RuleContext) -> None:
        self.tree = context.tree
        self.source = context.source
        #: Read once the walk is over: a route may be registered below its function.
        self.roles = context.roles
        self._scopes = context.shared(Scopes, Scopes)
        self._imports: ModuleImports | None = None
        self._bodies: dict[int, _Body] = {}

    def fix(self, call: Call, movable: bool = True) -> Fix | None:
        """The fix for a blocking `call` made on the loop, or None; `movable`: False for a
        call that must not be handed to another thread on its own.

        In a route or FastAPI dependency that never awaits, iterates or enters anything
        asynchronously nor yields, is neither a method nor nested and uses nothing of
        asyncio or anyio, the function becomes a plain `def`: the same change for every
        blocking call in it.  Elsewhere the call is handed to a worker thread, where
        `await` can be written: directly in the function's body, not in a function,
        lambda or class nested in it, a generator expression, an annotation or a sync
        `with` statement; and where the names the fix adds are not bound to anything else."""
        function = call.function
        if function is None or not isinstance(function.node, ast.AsyncFunctionDef):
            return None
        body = self._body(function, function.node)
        if body.sync_only:
            message = f"Make `{function.name}` a plain `def`, which the framework runs in a worker thread"
            return fix(message, [make_sync(self.source, function.node)], Applicability.UNSAFE)
        if not movable or not isinstance(call.node, ast.Call) or id(call.node) not in body.awaitable:
            return None
        return self._handed_off(call.node, function)

    def _handed_off(self, node: ast.Call, function: Function) -> Fix | None:
        changes: list[Change] = []
        for qualname in _THREADPOOL:
            runner = self.imports.reference(qualname)
            if runner is not None and not self._scopes.binds(function, _root(runner)):
                return self._fix(node, runner, None, changes)
        runner = self._spelled("anyio.to_thread.run_sync", "anyio", function, changes)
        if runner is None:
            return None
        partial = None
        if node.keywords:  # which `run_sync` does not pass on
            partial = self._spelled("functools.partial", "functools", function, changes)
            if partial is None:
                return None
        return self._fix(node, runner, partial, changes)

    def _fix(self, node: ast.Call, runner: str, partial: str | None, changes: list[Change]) -> Fix:
        changes.append(hand_off(self.source, node, runner, partial))
        return fix(f"Run it in a worker thread with `await {runner}()`", changes, Applicability.UNSAFE)

    def _spelled(self, qualname: str, module: str, function: Function, changes: list[Change]) -> str | None:
        """How the fix can name `qualname`, of `module`: through an import the module has,
        or the one it adds to `changes`; None when the name it would use is bound to
        something else."""
        spelled = self.imports.reference(qualname)
        if spelled is None:
            imported = self.imports.reference(module)
            if imported is not None:
                spelled = imported + qualname.removeprefix(module)
            elif self.imports.is_bound(module):
                return None
            else:
                changes.append(add_import(f"import {module}"))
                spelled = qualname
        return None if self._scopes.binds(function, _root(spelled)) else spelled

    @property
    def imports(self) -> ModuleImports:
        if self._imports is None:
            self._imports = ModuleImports(self.tree)
        return self._imports

    def _body(self, function: Function, node: ast.AsyncFunctionDef) -> _Body:
        if id(node) not in self._bodies:
            sync_only = (
                function.class_name is None
                and function.qualname == function.name
                and all(_registers_route(decorator) for decorator in node.decorator_list)
                and self.roles.threaded_when_sync(function)
                and not any(self._needs_loop(inner) for inner in _scope(node.body))
            )
            self._bodies[id(node)] = _Body(_awaitable(node.body), sync_only)
        return self._bodies[id(node)]

    def _needs_loop(self, node: ast.AST) -> bool:
        """True for what only a coroutine can do (`await`, `async for`, `async with`), a
        `yield` (an async generator dependency), and a name asyncio or anyio gave."""
        if isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith, ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, ast.comprehension):
            return bool(node.is_async)
        if isinstance(node, ast.Name):
            meanings = self.imports.names.get(node.id, ())
            return any(meaning.split(".", 1)[0] in _LOOP_MODULES for meaning in meanings)
        return False


class HandOffRule(BlockingCallRule):
    """A blocking-call rule whose findings are fixed by running the call in a worker
    thread, or by making the function around it a plain `def` (see `HandOff`)."""

    fix_availability = FixAvailability.SOMETIMES

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._hand_off = context.shared(HandOff, HandOff)

    def fix(self, call: Call) -> Fix | None:
        return self._hand_off.fix(call, self.may_hand_off(call))

    def may_hand_off(self, call: Call) -> bool:
        """False for a call that must stay on the thread it is made on."""
        return True


def _root(spelled: str) -> str:
    return spelled.split(".", 1)[0]


def _registers_route(decorator: ast.expr) -> bool:
    """`@app.get("/items")`, `@router.api_route(...)`: what registers a route."""
    func = decorator.func if isinstance(decorator, ast.Call) else None
    return isinstance(func, ast.Attribute) and func.attr in _ROUTE_DECORATORS


def _scope(body: Sequence[ast.stmt]) -> Iterator[ast.AST]:
    """Every node that runs in a function body: in the functions, lambdas and classes
    defined in it, only their decorators, defaults and bases."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            arguments = node.args
            pending += [*arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)]
            if not isinstance(node, ast.Lambda):
                pending += node.decorator_list
        elif isinstance(node, ast.ClassDef):
            pending += [*node.decorator_list, *node.bases, *node.keywords]
        else:
            pending.extend(ast.iter_child_nodes(node))


def _awaitable(body: Iterable[ast.stmt]) -> frozenset[int]:
    """The calls of a function body where `await` can be written and means what it says
    (outside what `_APART` names, and annotations), but those awaited already: what
    they return is awaitable, so they are no blocking call to hand off."""
    found: set[int] = set()
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, _APART):
            continue
        if isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
            pending.extend(ast.iter_child_nodes(node.value))
            continue
        if isinstance(node, ast.Call):
            found.add(id(node))
        if isinstance(node, ast.AnnAssign):
            pending += [node.target, *([node.value] if node.value is not None else [])]
        else:
            pending.extend(ast.iter_child_nodes(node))
    return frozenset(found)
