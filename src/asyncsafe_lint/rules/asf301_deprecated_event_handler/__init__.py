from __future__ import annotations

import ast

from asyncsafe_lint.diagnostics import Fix
from asyncsafe_lint.frameworks import LIST_METHODS, REGISTRIES, ROUTERS, is_one_of
from asyncsafe_lint.rule import Call, FixAvailability, Invalid, Rule, RuleContext, is_none
from asyncsafe_lint.rules.asf301_deprecated_event_handler.fix import (
    HANDLER_KEYWORDS,
    LifespanPlan,
    Registration,
    event_of,
    receiver_name,
)

REGISTRATION_METHODS = frozenset({"on_event", "add_event_handler"})


def is_app_type(owner: str) -> bool:
    """An app or router class, or the router of an app."""
    return is_one_of(owner, REGISTRIES)


def event_literal(call: Call) -> str | None:
    """The event of `on_event("startup")` / `add_event_handler("shutdown", fn)`, when written literally."""
    return event_of(call.argument("event_type", 0))


def registration(call: Call) -> str | None:
    """The method name when `call` registers a startup/shutdown handler on an app or router."""
    func = call.node.func if isinstance(call.node, ast.Call) else None
    if not isinstance(func, ast.Attribute) or func.attr not in REGISTRATION_METHODS:
        return None
    owner = call.name.rpartition(".")[0] if call.name is not None else None
    if owner is not None and is_app_type(owner):
        return func.attr
    # An app imported from another module, returned by a factory or passed in as a
    # parameter has no known type: the method name and a literal event identify it.
    return func.attr if event_literal(call) is not None else None


class DeprecatedEventHandler(Rule):
    code = "ASF301"
    name = "deprecated-event-handler"
    fix_availability = FixAvailability.SOMETIMES
    summary = "`on_event()` / `add_event_handler()` / `on_startup=` instead of a `lifespan` context manager"
    message = "{what} is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager{note}"
    triggers = ("on_event", "add_event_handler", "on_startup", "on_shutdown")
    docs = """
## What it does
Flags the old ways of running code when a FastAPI or Starlette application starts
or stops:

- `@app.on_event("startup")` / `@app.on_event("shutdown")`, on an app, a router or
  `app.router`;
- `app.add_event_handler("startup", fn)` (and `app.router.add_event_handler(...)`);
- `on_startup=` / `on_shutdown=` passed to `FastAPI(...)`, `APIRouter(...)`,
  `Starlette(...)` or `starlette.routing.Router(...)`, and `app.router.on_startup.append(fn)`.

The classes are recognised under every import path (`fastapi.FastAPI`,
`fastapi.applications.FastAPI`, `fastapi.routing.APIRouter`,
`starlette.applications.Starlette`, ...). An app whose type the linter cannot see -
imported from another module, built by a factory, or received as a parameter - is
still recognised when the call names the `"startup"` or `"shutdown"` event literally.

No ruff or flake8-async rule covers this: ruff's FastAPI rules (`FAST001`-`FAST003`)
are about response models, `Annotated` dependencies and path parameters, and the
`ASYNC` rules do not look at application setup. A type checker that reports
deprecations flags `on_event()` - FastAPI marks it `@deprecated` - but only when it
knows the app's type, and it says nothing about `add_event_handler()` or the
`on_startup=` / `on_shutdown=` parameters, which FastAPI keeps for backward
compatibility without marking them deprecated in code.

## Why is this bad?
Starlette deprecated these hooks in favour of the ASGI lifespan context manager
and removed them in Starlette 1.0, where `Starlette(on_startup=...)` and
`app.on_event()` fail outright; FastAPI keeps a compatibility copy but documents
them as deprecated. Beyond the upgrade risk, separate startup and shutdown functions
have to share state through globals, cannot use `try`/`finally` or `async with` to
guarantee cleanup, and are silently ignored as soon as someone adds a `lifespan=`
to the app (see `ASF302`). A `lifespan` keeps the setup and the teardown of each
resource together and can hand the resources to requests through its state.

## Example
```python
from fastapi import FastAPI
import httpx

app = FastAPI()

@app.on_event("startup")
async def open_client() -> None:
    app.state.http = httpx.AsyncClient(timeout=10)

@app.on_event("shutdown")
async def close_client() -> None:
    await app.state.http.aclose()
```

## Use instead
```python
from contextlib import asynccontextmanager

from fastapi import FastAPI
import httpx

@asynccontextmanager
async def lifespan(app: FastAPI):
    async with httpx.AsyncClient(timeout=10) as http:
        app.state.http = http
        yield

app = FastAPI(lifespan=lifespan)
```

## Fix safety
For an app built at module level in the same file (`app = FastAPI(...)` or
`Starlette(...)`), the fix writes one `@asynccontextmanager` function, `lifespan`,
above the app and passes it as `lifespan=`. It calls the startup handlers in the
order they were registered - `on_startup=` first, then the `on_event` /
`add_event_handler` registrations as the module runs them - awaiting the async ones,
then yields, then calls the shutdown handlers in order in a `finally:` block (FastAPI's
own default lifespan also runs them when serving ends in an error). The handler
functions stay where they are, with their comments and bodies; only the
registrations go (a comment at the end of a removed line is kept on a line of its
own). `from contextlib import asynccontextmanager` is added when missing.

```python
from contextlib import asynccontextmanager

@asynccontextmanager
async def lifespan(_app):
    await open_client()
    try:
        yield
    finally:
        await close_client()

app = FastAPI(lifespan=lifespan)

async def open_client() -> None:
    app.state.http = httpx.AsyncClient(timeout=10)

async def close_client() -> None:
    await app.state.http.aclose()
```

Once an app has a lifespan, FastAPI ignores its event handlers, so the fix moves all
of an app's handlers or none, and the finding says why when there is none:

- the app is not built at module level in this file (imported from another module,
  made by a factory, or a parameter): the handlers registered elsewhere cannot be
  seen, and a lifespan would silently switch them off;
- the app already has a `lifespan=` (the handlers never run, see `ASF302`): merging
  them into it is a decision about ordering and error handling for a human;
- a handler is registered in a way whose place in the order is not known: inside a
  function, by changing `app.router.on_startup` directly, with an event that is not
  a string literal, or a handler that is not a plain function of the module (a
  lambda, an imported or decorated function, a handler with other decorators, a
  name bound again elsewhere in the module);
- the app's name is assigned more than once (in an `if` or `try` block too);
- the app includes a router of the same module that has handlers of its own;
- handlers on a router rather than an app, and constructors that take `**kwargs`.

The fix is unsafe. Handlers registered on the same app from other modules, or by
routers included from other modules, may stop running (depending on the FastAPI
version), and the handlers now run from a generator: an exception in one surfaces
through the context manager rather than from FastAPI's loop over the handlers.
"""
    valid = (
        "from contextlib import asynccontextmanager\nfrom fastapi import FastAPI\n"
        "@asynccontextmanager\nasync def lifespan(app):\n    yield\napp = FastAPI(lifespan=lifespan)\n",
        "from fastapi import FastAPI\napp = FastAPI(on_startup=None)\n",
        "from fastapi import FastAPI\napp = FastAPI()\n@app.on_event('startup')  # noqa: ASF301\nasync def start():\n    pass\n",
        "from fastapi import FastAPI\napp = FastAPI()\napp.add_event_handler('startup', print)  # asyncsafe: ignore[ASF301]\n",
        # Other frameworks' hooks of the same names are not deprecated.
        "from aiohttp import web\napp = web.Application()\napp.on_startup.append(print)\n",
        "from litestar import Litestar\napp = Litestar(on_startup=[print])\n",
        "def setup(bus):\n    bus.on_event('message')(print)\n",
        "def setup(emitter):\n    emitter.add_event_handler('click', print)\n",
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/startup')\nasync def startup():\n    return {}\n",
    )
    invalid = (
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI()\n@app.on_event('startup')  # expect: ASF301\nasync def start():\n    pass\n",
            "`on_event()` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager",
            fixed="from fastapi import FastAPI\nfrom contextlib import asynccontextmanager\n\n\n@asynccontextmanager\n"
            "async def lifespan(_app):\n    await start()\n    yield\n\n\napp = FastAPI(lifespan=lifespan)\n"
            "# expect: ASF301\nasync def start():\n    pass\n",
        ),
        Invalid(
            "import fastapi\napp = fastapi.FastAPI()\n@app.on_event('shutdown')  # expect: ASF301\ndef stop():\n    pass\n",
            "`on_event()` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager",
            fixed="import fastapi\nfrom contextlib import asynccontextmanager\n\n\n@asynccontextmanager\n"
            "async def lifespan(_app):\n    try:\n        yield\n    finally:\n        stop()\n\n\n"
            "app = fastapi.FastAPI(lifespan=lifespan)\n# expect: ASF301\ndef stop():\n    pass\n",
        ),
        Invalid(
            "from fastapi.applications import FastAPI as App\napp = App()\napp.add_event_handler('startup', print)  # expect: ASF301\n",
            "`add_event_handler()` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: `print` is not a plain function of this module)",
        ),
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI()\n@app.router.on_event('startup')  # expect: ASF301\nasync def start():\n    pass\n",
            "`on_event()` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager",
            fixed="from fastapi import FastAPI\nfrom contextlib import asynccontextmanager\n\n\n@asynccontextmanager\n"
            "async def lifespan(_app):\n    await start()\n    yield\n\n\napp = FastAPI(lifespan=lifespan)\n"
            "# expect: ASF301\nasync def start():\n    pass\n",
        ),
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI()\napp.router.add_event_handler(event, print)  # expect: ASF301\n",
            "`add_event_handler()` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: the event is not written as a string)",
        ),
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI()\napp.router.on_startup.append(print)  # expect: ASF301\n",
            "adding to `on_startup` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: a handler is added to the handler list directly)",
        ),
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI(title='x', on_startup=[print])  # expect: ASF301\n",
            "`on_startup=` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: `print` is not a plain function of this module)",
        ),
        Invalid(
            "from fastapi import APIRouter\nrouter = APIRouter(\n    prefix='/x',\n    on_shutdown=[print],  # expect: ASF301\n)\n",
            "`on_shutdown=` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: the fix moves the handlers of an app, not of a router)",
        ),
        Invalid(
            "from fastapi.routing import APIRouter\nrouter = APIRouter()\n@router.on_event('startup')  # expect: ASF301\nasync def start():\n    pass\n",
            "`on_event()` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: the fix moves the handlers of an app, not of a router)",
        ),
        Invalid(
            "from starlette.applications import Starlette\napp = Starlette(on_startup=[print], on_shutdown=[print])  # expect: ASF301\n",
            "`on_startup=` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: `print` is not a plain function of this module)",
            "`on_shutdown=` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: `print` is not a plain function of this module)",
        ),
        Invalid(
            "from starlette.routing import Router\nrouter = Router(on_startup=[print])  # expect: ASF301\n",
            "`on_startup=` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: the fix moves the handlers of an app, not of a router)",
        ),
        # Types the linter cannot see: the literal event gives the call away.
        Invalid(
            "from myproject.main import app\n@app.on_event('startup')  # expect: ASF301\nasync def start():\n    pass\n",
            "`on_event()` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: the app is not built at module level in this module)",
        ),
        Invalid(
            "def register(app):\n    app.add_event_handler('shutdown', print)  # expect: ASF301\n",
            "`add_event_handler()` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: the app is not built at module level in this module)",
        ),
        Invalid(
            'from myproject import create_app\napp = create_app()\n@app.on_event("shutdown")  # expect: ASF301\ndef stop():\n    pass\n',
            "`on_event()` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: the app is not built at module level in this module)",
        ),
        Invalid(
            "from fastapi import FastAPI\ndef f(app: FastAPI):\n    app.add_event_handler(kind, print)  # expect: ASF301\n",
            "`add_event_handler()` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager (no automatic fix: the app is not built at module level in this module)",
        ),
        Invalid(
            "from fastapi import FastAPI\napp = FastAPI()\n@app.on_event('startup')  # noqa: ASF302  # expect: ASF301\nasync def start():\n    pass\n",
            "`on_event()` is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager",
            fixed="from fastapi import FastAPI\nfrom contextlib import asynccontextmanager\n\n\n@asynccontextmanager\n"
            "async def lifespan(_app):\n    await start()\n    yield\n\n\napp = FastAPI(lifespan=lifespan)\n"
            "# noqa: ASF302  # expect: ASF301\nasync def start():\n    pass\n",
        ),
    )

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._apps: list[ast.Call] = []
        self._routers: list[ast.Call] = []
        #: `on_startup=` / `on_shutdown=` arguments, with what to call them and their constructor.
        self._arguments: list[tuple[ast.keyword, str, ast.Call]] = []
        self._registrations: list[tuple[Registration, str]] = []
        #: (app, router) for each `app.include_router(router)`.
        self._includes: list[tuple[str, str]] = []

    def visit_call(self, call: Call) -> None:
        node = call.node
        if not isinstance(node, ast.Call):
            return
        if call.name in REGISTRIES:
            (self._routers if call.name in ROUTERS else self._apps).append(node)
            for keyword in HANDLER_KEYWORDS:
                arg = call.keyword(keyword)
                if arg is not None and not is_none(arg.value):
                    self._arguments.append((arg, f"`{keyword}=`", node))
            return
        method = registration(call)
        in_function = call.function is not None
        if method is not None:
            receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
            self._registrations.append(
                (Registration(node, receiver_name(receiver), in_function, False), f"`{method}()`")
            )
        elif call.name is not None and isinstance(node.func, ast.Attribute):
            owner, _, method = call.name.rpartition(".")
            holder, _, handlers = owner.rpartition(".")
            receiver = node.func.value
            if method in LIST_METHODS and handlers in HANDLER_KEYWORDS and is_app_type(holder):
                listed = receiver.value if isinstance(receiver, ast.Attribute) else None
                found = Registration(node, receiver_name(listed), in_function, True)
                self._registrations.append((found, f"adding to `{handlers}`"))
            elif method == "include_router" and is_app_type(owner) and node.args:
                app, router = receiver_name(receiver), receiver_name(node.args[0])
                if app is not None and router is not None:
                    self._includes.append((app, router))

    def leave_module(self) -> None:
        registrations = [found for found, _ in self._registrations]
        plan = LifespanPlan(self.tree, self.source, self._apps, self._routers, registrations, self._includes)
        for arg, what, constructor in self._arguments:
            self._report(arg, what, *plan.outcome(plan.name_of(constructor)))
        for found, what in self._registrations:
            self._report(found.node, what, *plan.outcome(found.root))

    def _report(self, node: ast.Call | ast.keyword, what: str, fix: Fix | None, reason: str | None) -> None:
        note = "" if reason is None else f" (no automatic fix: {reason})"
        self.report(node, fix=fix, what=what, note=note)
