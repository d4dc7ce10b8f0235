from __future__ import annotations

import ast

from asyncsafe_lint.frameworks import FASTAPI_APPS, LIST_METHODS, is_one_of
from asyncsafe_lint.rule import Call, Invalid, Rule, RuleContext, is_none
from asyncsafe_lint.rules.asf301_deprecated_event_handler import registration
from asyncsafe_lint.rules.asf301_deprecated_event_handler.fix import HANDLER_KEYWORDS

#: A scope is a function body (its node's id) or the module (None).
_Scope = int | None


def _receiver(call: Call) -> ast.expr | None:
    func = call.node.func if isinstance(call.node, ast.Call) else None
    return func.value if isinstance(func, ast.Attribute) else None


def _root_name(node: ast.expr | None) -> str | None:
    """`app` for `app`, `app.router` and `app.router.on_startup`."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class LifespanIgnoresEventHandlers(Rule):
    code = "ASF302"
    name = "lifespan-ignores-event-handlers"
    summary = "Startup/shutdown handlers on a FastAPI app that has a `lifespan=`: they never run"
    message = "{what} on a FastAPI app created with `lifespan=` never runs: FastAPI ignores event handlers once a lifespan is given; move this code into the lifespan"
    triggers = ("lifespan",)
    docs = """
## What it does
Flags startup and shutdown handlers registered on a FastAPI application that was
also given a `lifespan=`:

- `FastAPI(lifespan=..., on_startup=[...])` / `on_shutdown=[...]`;
- `@app.on_event("startup")`, `app.add_event_handler(...)`,
  `app.router.on_event(...)` and `app.router.on_startup.append(...)` where `app` was
  created by `FastAPI(..., lifespan=...)` in the same module (or in the same factory
  function).

When a module (or function) builds several FastAPI apps and only some of them get a
lifespan, the linter cannot tell which app a handler belongs to and stays silent.
These calls are also reported by `ASF301`, since the hooks are deprecated anyway;
this rule points out the more urgent problem that they are dead code today.

No ruff or flake8-async rule covers this (ruff's `FAST` rules are about routes and
dependencies), and a type checker sees nothing wrong: every call is valid on its own.

## Why is this bad?
FastAPI runs `on_startup` / `on_shutdown` handlers through a default lifespan that
it installs only when no `lifespan=` is given; as soon as the app has its own
lifespan, those handlers are never called, without any warning. The typical result
is a database pool or HTTP client that is never opened (requests then fail on first
use), or a shutdown hook that never flushes or closes anything. It usually happens
when a lifespan is added to an app that already had `@app.on_event` handlers.

## Example
```python
from contextlib import asynccontextmanager

from fastapi import FastAPI

@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.cache = {}
    yield

app = FastAPI(lifespan=lifespan)

@app.on_event("startup")
async def connect_db() -> None:
    app.state.db = await create_pool()
```

## Use instead
```python
from contextlib import asynccontextmanager

from fastapi import FastAPI

@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.cache = {}
    app.state.db = await create_pool()
    try:
        yield
    finally:
        await app.state.db.close()

app = FastAPI(lifespan=lifespan)
```

## Fix safety
There is no automatic fix yet.
"""
    valid = (
        "from fastapi import FastAPI\napp = FastAPI()\n@app.on_event('startup')\nasync def start():\n    pass\n",
        "from fastapi import FastAPI\napp = FastAPI(lifespan=None, on_startup=[print])\n",
        "from fastapi import FastAPI\nasync def lifespan(app):\n    yield\napp = FastAPI(lifespan=lifespan)\n",
        # Two apps, only one with a lifespan: which one gets the handler is not known.
        "from fastapi import FastAPI\napp = FastAPI(lifespan=lifespan)\nadmin = FastAPI()\n"
        "@admin.on_event('startup')\nasync def start():\n    pass\n",
        "from fastapi import FastAPI\ndef create():\n    app = FastAPI()\n    app.add_event_handler('startup', print)\n"
        "    return app\nmain = FastAPI(lifespan=lifespan)\n",
        "from fastapi import FastAPI\napp = FastAPI(lifespan=lifespan)\n"
        "def install(app: FastAPI):\n    app.add_event_handler('startup', print)\n",
        "from fastapi import FastAPI\napp = FastAPI(lifespan=lifespan)\n"
        "@app.on_event('startup')  # noqa: ASF302\nasync def start():\n    pass\n",
        "from fastapi import FastAPI\napp = FastAPI(lifespan=lifespan)\n"
        "@app.on_event('startup')  # asyncsafe: ignore[ASF302]\nasync def start():\n    pass\n",
        "from fastapi import FastAPI\ndef make(**options):\n    app = FastAPI(**options)\n"
        "    app.add_event_handler('startup', print)\n    return app\nlifespan = None\n",
    )
    invalid = (
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI(lifespan=lifespan)\n"
            "@app.on_event('startup')  # expect: ASF302\nasync def start():\n    pass\n",
            "`on_event()` on a FastAPI app created with `lifespan=` never runs: FastAPI ignores event handlers once a lifespan is given; move this code into the lifespan",
        ),
        Invalid(
            "import fastapi\napp = fastapi.FastAPI(title='api', lifespan=lifespan)\n"
            "@app.on_event('shutdown')  # expect: ASF302\ndef stop():\n    pass\n",
            "`on_event()` on a FastAPI app created with `lifespan=` never runs: FastAPI ignores event handlers once a lifespan is given; move this code into the lifespan",
        ),
        Invalid(
            "from fastapi.applications import FastAPI\napp = FastAPI(lifespan=lifespan)\n"
            "app.add_event_handler('startup', print)  # expect: ASF302\n",
            "`add_event_handler()` on a FastAPI app created with `lifespan=` never runs: FastAPI ignores event handlers once a lifespan is given; move this code into the lifespan",
        ),
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI(lifespan=lifespan)\n"
            "app.router.add_event_handler('shutdown', print)  # expect: ASF302\n",
            "`add_event_handler()` on a FastAPI app created with `lifespan=` never runs: FastAPI ignores event handlers once a lifespan is given; move this code into the lifespan",
        ),
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI(lifespan=lifespan)\napp.router.on_startup.append(print)  # expect: ASF302\n",
            "adding to `on_startup` on a FastAPI app created with `lifespan=` never runs: FastAPI ignores event handlers once a lifespan is given; move this code into the lifespan",
        ),
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI(\n    lifespan=lifespan,\n    on_startup=[print],  # expect: ASF302\n)\n",
            "`on_startup=` on a FastAPI app created with `lifespan=` never runs: FastAPI ignores event handlers once a lifespan is given; move this code into the lifespan",
        ),
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI(lifespan=lifespan, on_shutdown=[print])  # expect: ASF302\n",
            "`on_shutdown=` on a FastAPI app created with `lifespan=` never runs: FastAPI ignores event handlers once a lifespan is given; move this code into the lifespan",
        ),
        # The app factory pattern: the app and its handler live in one function.
        Invalid(
            "from fastapi import FastAPI\ndef create_app():\n    app = FastAPI(lifespan=lifespan)\n"
            "    @app.on_event('startup')  # expect: ASF302\n    async def start():\n        pass\n    return app\n",
            "`on_event()` on a FastAPI app created with `lifespan=` never runs: FastAPI ignores event handlers once a lifespan is given; move this code into the lifespan",
        ),
        # A function of the module registering on the module's app.
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI(lifespan=lifespan)\ndef install():\n"
            "    app.add_event_handler('startup', print)  # expect: ASF302\n",
            "`add_event_handler()` on a FastAPI app created with `lifespan=` never runs: FastAPI ignores event handlers once a lifespan is given; move this code into the lifespan",
        ),
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI(lifespan=lifespan)\n"
            "@app.on_event('startup')  # noqa: ASF301  # expect: ASF302\nasync def start():\n    pass\n",
            "`on_event()` on a FastAPI app created with `lifespan=` never runs: FastAPI ignores event handlers once a lifespan is given; move this code into the lifespan",
        ),
    )

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        #: Per scope, whether each FastAPI app built there was given a lifespan (None: unknown).
        self._apps: dict[_Scope, list[bool | None]] = {}
        self._handlers: list[tuple[_Scope, Call, str]] = []

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, ast.Call) or call.name is None:
            return
        scope = id(call.function.node) if call.function is not None else None
        if call.name in FASTAPI_APPS:
            self._constructed(scope, call)
            return
        owner, _, method = call.name.rpartition(".")
        if registration(call) is not None and is_one_of(owner, FASTAPI_APPS):
            self._handlers.append((scope, call, f"`{method}()`"))
            return
        holder, _, handlers = owner.rpartition(".")
        if method in LIST_METHODS and handlers in HANDLER_KEYWORDS and is_one_of(holder, FASTAPI_APPS):
            self._handlers.append((scope, call, f"adding to `{handlers}`"))

    def _constructed(self, scope: _Scope, call: Call) -> None:
        lifespan = call.argument("lifespan")
        if lifespan is None:
            has_lifespan = None if call.has_splat() else False
        else:
            has_lifespan = not is_none(lifespan)
        self._apps.setdefault(scope, []).append(has_lifespan)
        if has_lifespan:
            for keyword in HANDLER_KEYWORDS:
                arg = call.keyword(keyword)
                if arg is not None and not is_none(arg.value):
                    self.report(arg, what=f"`{keyword}=`")

    def leave_module(self) -> None:
        for scope, call, what in self._handlers:
            if scope not in self._apps and not self._is_parameter(call):
                scope = None  # A function registering on an app of the module.
            apps = self._apps.get(scope)
            if apps and all(apps):
                self.report(call.node, what=what)

    @staticmethod
    def _is_parameter(call: Call) -> bool:
        """True when the receiver is a parameter of the enclosing function (an app of the caller's)."""
        if call.function is None:
            return False
        name = _root_name(_receiver(call))
        params = call.function.node.args
        return any(param.arg == name for param in (*params.posonlyargs, *params.args, *params.kwonlyargs))
