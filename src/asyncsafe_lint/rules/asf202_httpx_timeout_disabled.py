from __future__ import annotations

import ast

from asyncsafe_lint.changes import timeout_fix
from asyncsafe_lint.diagnostics import Fix
from asyncsafe_lint.rule import Call, FixAvailability, Invalid, Rule, is_none

_METHODS = ("request", "stream", "get", "options", "head", "post", "put", "patch", "delete")

#: httpx, and httpx2 (Pydantic's continuation of it), whose `DEFAULT_TIMEOUT_CONFIG` is the
#: same 5-second `Timeout` (httpx2 2.16, `_config.py`).
_MODULES = ("httpx", "httpx2")

#: Calls whose `timeout=` keyword, when `None`, turns off httpx's default timeout.
_TAKES_TIMEOUT = frozenset(
    {
        *(f"{module}.{function}" for module in _MODULES for function in _METHODS),
        *(f"{module}.{client}" for module in _MODULES for client in ("Client", "AsyncClient")),
        *(
            f"{module}.{client}.{method}"
            for module in _MODULES
            for client in ("Client", "AsyncClient")
            for method in (*_METHODS, "build_request")
        ),
    }
)
_TIMEOUT_CLASSES = frozenset({f"{module}.{name}" for module in _MODULES for name in ("Timeout", "_config.Timeout")})
_FIELDS = ("connect", "read", "write", "pool")


class HttpxTimeoutDisabled(Rule):
    code = "ASF202"
    name = "httpx-timeout-disabled"
    fix_availability = FixAvailability.SOMETIMES
    summary = "`timeout=None` or `httpx.Timeout(None)` turns off httpx's default timeout"
    message = "{what} turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout"
    triggers = ("httpx",)
    docs = """
## What it does
Flags the places where httpx's timeouts are switched off (and those of `httpx2`,
Pydantic's continuation of httpx: the same API and the same 5-second default):

- `timeout=None` passed to an httpx function (`httpx.get()`, `httpx.stream()`, ...),
  to the `httpx.Client(...)` / `httpx.AsyncClient(...)` constructors, or to a
  request method of a client (`client.get()`, `client.stream()`,
  `client.build_request()`, ...);
- `httpx.Timeout(None)` - or any `httpx.Timeout(...)` that leaves connect, read,
  write and pool all unbounded - wherever it is built, since its only purpose is
  to be passed as a `timeout=`.

Clients are recognised through assignments (`client = httpx.Client()`),
`async with httpx.AsyncClient() as client:`, attributes set in `__init__` and
annotations. A call that passes `**kwargs` is not flagged for a missing keyword
(there is nothing to flag: httpx already has a default).

Compared with ruff: `S113` reports `timeout=None` only on the httpx module
functions and the `Client`/`AsyncClient` constructors; it does not look at request
methods called on a client or at `httpx.Timeout(None)` objects. flake8-async's
`ASYNC210`/`ASYNC212` (also in ruff) flag *sync* httpx calls inside an `async def`,
whatever their timeout, and say nothing about an `AsyncClient` whose timeout is
off. This rule applies to sync and async code alike.

This family is not the one flake8-async's `ASYNC109` is about: `ASYNC109` tells
you not to give *your own* `async def` a `timeout` parameter and to let callers use
a timeout context manager instead. The ASF2xx rules ask for a timeout on *calls
into libraries* that would otherwise wait forever; in async code, a scope such as
`async with asyncio.timeout(5):` around the awaited call is the recommended form.

## Why is this bad?
Unlike `requests`, httpx gives every network operation a 5-second timeout unless
told otherwise. Passing `None` removes that guard: a server that accepts the
connection and never answers keeps the request - and the event loop task or the
worker thread waiting on it - busy for as long as the process lives. Under load
those stuck requests pile up until connections, memory or the thread pool run out.

## Example
```python
import httpx

client = httpx.AsyncClient(timeout=None)

async def report(payload: dict) -> None:
    await client.post("https://reports.example.com", json=payload)
```

## Use instead
```python
import httpx

# Up to 60 s for the (slow) reporting endpoint to answer, 5 s for the rest.
client = httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=60.0))

async def report(payload: dict) -> None:
    await client.post("https://reports.example.com", json=payload)
```

## Fix safety
The fix puts the number of seconds that `default-timeout` in `[tool.asyncsafe]` sets
(10 when it is not set) in place of the `None`: `timeout=None` becomes `timeout=10`,
and `httpx.Timeout(None)` becomes `httpx.Timeout(10)`. A `Timeout` that spells out
its four limits gets no fix: which of them may wait longer is for a human to weigh.

The fix is unsafe: a request that used to be waited on for as long as it took now
fails with `httpx.TimeoutException` once one network operation waits longer than
that. Pick the value your upstream needs; the fix only makes sure there is one.
"""
    valid = (
        "import httpx\nhttpx.get('https://example.com')\n",
        "import httpx\nhttpx.get('https://example.com', timeout=10)\n",
        "import httpx\nclient = httpx.Client(timeout=httpx.Timeout(5.0, read=30.0))\n",
        "import httpx\nclient = httpx.Client()\nclient.get('https://example.com', timeout=2)\n",
        "import httpx\nt = httpx.Timeout(None, connect=5.0)\n",
        "import httpx\nt = httpx.Timeout(10.0, pool=None)\n",
        "import httpx\ndef f(**kwargs):\n    return httpx.get('https://example.com', **kwargs)\n",
        "import httpx\nasync def f():\n    async with httpx.AsyncClient() as client:\n        await client.get('https://example.com')\n",
        "import httpx\nhttpx.get('https://example.com', timeout=None)  # noqa: ASF202\n",
        "import httpx\nhttpx.get('https://example.com', timeout=None)  # asyncsafe: ignore[ASF202]\n",
        "import requests\nrequests.get('https://example.com', timeout=None)\n",
        "import httpx\nclient = httpx.Client()\nclient.close()\n",
        "import httpx\nsettings = object()\nsettings.get('x', timeout=None)\n",
    )
    invalid = (
        Invalid(
            "import httpx2\nasync def f():\n    async with httpx2.AsyncClient(timeout=None) as c:  # expect: ASF202\n"
            "        await c.get('https://example.com')\n"
            "    httpx2.Timeout(None)  # expect: ASF202\n",
            "`timeout=None` in `httpx2.AsyncClient()` turns off httpx's 5-second default timeout",
            "`httpx2.Timeout` with no bound at all turns off httpx's 5-second default timeout",
            fixed="import httpx2\nasync def f():\n    async with httpx2.AsyncClient(timeout=10) as c:  # expect: ASF202\n        await c.get('https://example.com')\n    httpx2.Timeout(10)  # expect: ASF202\n",
        ),
        Invalid(
            "import httpx\nhttpx.get('https://example.com', timeout=None)  # expect: ASF202\n",
            "`timeout=None` in `httpx.get()` turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="import httpx\nhttpx.get('https://example.com', timeout=10)  # expect: ASF202\n",
        ),
        Invalid(
            "import httpx as hx\nhx.post('https://example.com', json={}, timeout=None)  # expect: ASF202\n",
            "`timeout=None` in `httpx.post()` turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="import httpx as hx\nhx.post('https://example.com', json={}, timeout=10)  # expect: ASF202\n",
        ),
        Invalid(
            "from httpx import stream\nwith stream('GET', 'https://example.com', timeout=None) as r:  # expect: ASF202\n    pass\n",
            "`timeout=None` in `httpx.stream()` turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="from httpx import stream\nwith stream('GET', 'https://example.com', timeout=10) as r:  # expect: ASF202\n    pass\n",
        ),
        Invalid(
            "import httpx\nclient = httpx.Client(timeout=None)  # expect: ASF202\n",
            "`timeout=None` in `httpx.Client()` turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="import httpx\nclient = httpx.Client(timeout=10)  # expect: ASF202\n",
        ),
        Invalid(
            "from httpx import AsyncClient as HTTP\nclient = HTTP(base_url='https://example.com', timeout=None)  # expect: ASF202\n",
            "`timeout=None` in `httpx.AsyncClient()` turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="from httpx import AsyncClient as HTTP\nclient = HTTP(base_url='https://example.com', timeout=10)  # expect: ASF202\n",
        ),
        Invalid(
            "import httpx\nclient = httpx.Client()\nclient.get('https://example.com', timeout=None)  # expect: ASF202\n",
            "`timeout=None` in `httpx.Client.get()` turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="import httpx\nclient = httpx.Client()\nclient.get('https://example.com', timeout=10)  # expect: ASF202\n",
        ),
        Invalid(
            "import httpx\nasync def f():\n    async with httpx.AsyncClient() as client:\n"
            "        await client.post('https://example.com', timeout=None)  # expect: ASF202\n",
            "`timeout=None` in `httpx.AsyncClient.post()` turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="import httpx\nasync def f():\n    async with httpx.AsyncClient() as client:\n        await client.post('https://example.com', timeout=10)  # expect: ASF202\n",
        ),
        Invalid(
            "import httpx\nclient = httpx.Client(timeout=httpx.Timeout(None))  # expect: ASF202\n",
            "`httpx.Timeout` with no bound at all turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="import httpx\nclient = httpx.Client(timeout=httpx.Timeout(10))  # expect: ASF202\n",
        ),
        Invalid(
            "import httpx\nNO_LIMIT = httpx.Timeout(timeout=None)  # expect: ASF202\n",
            "`httpx.Timeout` with no bound at all turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="import httpx\nNO_LIMIT = httpx.Timeout(timeout=10)  # expect: ASF202\n",
        ),
        Invalid(
            "from httpx import Timeout\nt = Timeout(connect=None, read=None, write=None, pool=None)  # expect: ASF202\n",
            "`httpx.Timeout` with no bound at all turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
        ),
        Invalid(
            "import httpx\nclass Api:\n    def __init__(self):\n        self.http = httpx.Client()\n"
            "    def me(self):\n        return self.http.get('/me', timeout=None)  # expect: ASF202\n",
            "`timeout=None` in `httpx.Client.get()` turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="import httpx\nclass Api:\n    def __init__(self):\n        self.http = httpx.Client()\n    def me(self):\n        return self.http.get('/me', timeout=10)  # expect: ASF202\n",
        ),
        Invalid(
            "import httpx\ndef f(client: httpx.AsyncClient):\n    return client.build_request('GET', '/', timeout=None)  # expect: ASF202\n",
            "`timeout=None` in `httpx.AsyncClient.build_request()` turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="import httpx\ndef f(client: httpx.AsyncClient):\n    return client.build_request('GET', '/', timeout=10)  # expect: ASF202\n",
        ),
        Invalid(
            "import httpx\nhttpx.get('https://example.com', timeout=None)  # noqa: ASF201  # expect: ASF202\n",
            "`timeout=None` in `httpx.get()` turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="import httpx\nhttpx.get('https://example.com', timeout=10)  # noqa: ASF201  # expect: ASF202\n",
        ),
        Invalid(
            "import httpx\ndef f(**kw):\n    return httpx.get('https://example.com', timeout=None, **kw)  # expect: ASF202\n",
            "`timeout=None` in `httpx.get()` turns off httpx's 5-second default timeout, so a stalled server is waited on forever: give a finite timeout",
            fixed="import httpx\ndef f(**kw):\n    return httpx.get('https://example.com', timeout=10, **kw)  # expect: ASF202\n",
        ),
    )

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, ast.Call) or call.name is None:
            return
        if call.name in _TAKES_TIMEOUT:
            timeout = call.keyword("timeout")
            if timeout is not None and is_none(timeout.value):
                fix = timeout_fix(self.source, call.node, timeout.value, self.settings.default_timeout)
                self.report(timeout, fix=fix, what=f"`timeout=None` in `{call.name}()`")
        elif call.name in _TIMEOUT_CLASSES and self._unbounded(call):
            module = call.name.split(".", 1)[0]
            self.report(call.node, fix=self._bounded(call), what=f"`{module}.Timeout` with no bound at all")

    def _bounded(self, call: Call) -> Fix | None:
        """`Timeout(None)` -> `Timeout(10)`; a spelling that names the four limits is left
        to a human, who knows which of them matter."""
        assert isinstance(call.node, ast.Call)
        given = call.argument("timeout", 0)
        if given is None or len(call.node.args) + len(call.node.keywords) != 1:
            return None
        return timeout_fix(self.source, call.node, given, self.settings.default_timeout)

    @staticmethod
    def _unbounded(call: Call) -> bool:
        """True for `Timeout(None)` and any spelling that leaves all four limits at None."""
        if call.has_splat():
            return False
        default = call.argument("timeout", 0)
        for field in _FIELDS:
            arg = call.argument(field)
            value = arg if arg is not None else default
            if not is_none(value):
                return False
        return True
