from __future__ import annotations

import libcst as cst

from asyncsafe_lint.rule import Call, Rule, is_none

#: Every spelling of the application and router classes that take startup/shutdown handlers.
APP_TYPES = frozenset(
    {
        "fastapi.FastAPI",
        "fastapi.applications.FastAPI",
        "fastapi.APIRouter",
        "fastapi.routing.APIRouter",
        "starlette.applications.Starlette",
        "starlette.routing.Router",
    }
)
REGISTRATION_METHODS = frozenset({"on_event", "add_event_handler"})
HANDLER_KEYWORDS = ("on_startup", "on_shutdown")
EVENTS = frozenset({"startup", "shutdown"})
_LIST_METHODS = frozenset({"append", "extend", "insert"})


def is_app_type(owner: str) -> bool:
    """`fastapi.FastAPI`, or the router of one (`app.router` resolves to `fastapi.FastAPI.router`)."""
    return owner in APP_TYPES or owner.removesuffix(".router") in APP_TYPES


def event_literal(call: Call) -> str | None:
    """The event of `on_event("startup")` / `add_event_handler("shutdown", fn)`, when written literally."""
    arg = call.argument("event_type", 0)
    if arg is not None and isinstance(arg.value, cst.SimpleString):
        value = arg.value.evaluated_value
        if isinstance(value, str) and value in EVENTS:
            return value
    return None


def registration(call: Call) -> str | None:
    """The method name when `call` registers a startup/shutdown handler on an app or router."""
    func = call.node.func if isinstance(call.node, cst.Call) else None
    if not isinstance(func, cst.Attribute) or func.attr.value not in REGISTRATION_METHODS:
        return None
    owner = call.name.rpartition(".")[0] if call.name is not None else None
    if owner is not None and is_app_type(owner):
        return func.attr.value
    # An app imported from another module, returned by a factory or passed in as a
    # parameter has no known type: the method name and a literal event identify it.
    return func.attr.value if event_literal(call) is not None else None


class DeprecatedEventHandler(Rule):
    code = "ASF301"
    name = "deprecated-event-handler"
    summary = "`on_event()` / `add_event_handler()` / `on_startup=` instead of a `lifespan` context manager"
    message = "{what} is deprecated (Starlette 1.0 removed it): move the startup/shutdown code into a `lifespan` context manager"
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
There is no automatic fix yet.
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
        "from fastapi import FastAPI\napp = FastAPI()\n@app.on_event('startup')  # expect: ASF301\nasync def start():\n    pass\n",
        "import fastapi\napp = fastapi.FastAPI()\n@app.on_event('shutdown')  # expect: ASF301\ndef stop():\n    pass\n",
        "from fastapi.applications import FastAPI as App\napp = App()\napp.add_event_handler('startup', print)  # expect: ASF301\n",
        "from fastapi import FastAPI\napp = FastAPI()\n@app.router.on_event('startup')  # expect: ASF301\nasync def start():\n    pass\n",
        "from fastapi import FastAPI\napp = FastAPI()\napp.router.add_event_handler(event, print)  # expect: ASF301\n",
        "from fastapi import FastAPI\napp = FastAPI()\napp.router.on_startup.append(print)  # expect: ASF301\n",
        "from fastapi import FastAPI\napp = FastAPI(title='x', on_startup=[print])  # expect: ASF301\n",
        "from fastapi import APIRouter\nrouter = APIRouter(\n    prefix='/x',\n    on_shutdown=[print],  # expect: ASF301\n)\n",
        "from fastapi.routing import APIRouter\nrouter = APIRouter()\n@router.on_event('startup')  # expect: ASF301\nasync def start():\n    pass\n",
        "from starlette.applications import Starlette\napp = Starlette(on_startup=[print], on_shutdown=[print])  # expect: ASF301\n",
        "from starlette.routing import Router\nrouter = Router(on_startup=[print])  # expect: ASF301\n",
        # Types the linter cannot see: the literal event gives the call away.
        "from myproject.main import app\n@app.on_event('startup')  # expect: ASF301\nasync def start():\n    pass\n",
        "def register(app):\n    app.add_event_handler('shutdown', print)  # expect: ASF301\n",
        "from myproject import create_app\napp = create_app()\n@app.on_event(\"shutdown\")  # expect: ASF301\ndef stop():\n    pass\n",
        "from fastapi import FastAPI\ndef f(app: FastAPI):\n    app.add_event_handler(kind, print)  # expect: ASF301\n",
        "from fastapi import FastAPI\napp = FastAPI()\n@app.on_event('startup')  # noqa: ASF302  # expect: ASF301\nasync def start():\n    pass\n",
    )

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, cst.Call):
            return
        if call.name in APP_TYPES:
            for keyword in HANDLER_KEYWORDS:
                arg = call.argument(keyword)
                if arg is not None and not is_none(arg):
                    self.report(arg, what=f"`{keyword}=`")
            return
        method = registration(call)
        if method is not None:
            self.report(call.node, what=f"`{method}()`")
        elif call.name is not None:
            owner, _, method = call.name.rpartition(".")
            holder, _, handlers = owner.rpartition(".")
            if method in _LIST_METHODS and handlers in HANDLER_KEYWORDS and is_app_type(holder):
                self.report(call.node, what=f"adding to `{handlers}`")
