from __future__ import annotations

import ast

from asyncsafe_lint.changes import timeout_fix
from asyncsafe_lint.diagnostics import Fix
from asyncsafe_lint.rule import Call, FixAvailability, Invalid, Rule, RuleContext

#: `requests` functions -> position of `timeout` when it can be passed positionally.
#: The module functions take it only as a keyword; `Session.request` lists it ninth.
_FUNCTIONS: dict[str, int | None] = {
    f"{module}.{function}": None
    for module in ("requests", "requests.api")
    for function in ("request", "get", "options", "head", "post", "put", "patch", "delete")
}
_SESSION_METHODS: dict[str, int | None] = {
    "requests.Session.request": 8,
    "requests.Session.get": None,
    "requests.Session.options": None,
    "requests.Session.head": None,
    "requests.Session.post": None,
    "requests.Session.put": None,
    "requests.Session.patch": None,
    "requests.Session.delete": None,
    "requests.Session.send": None,
}
#: Adapters that add nothing about timeouts; mounting any other adapter may set a default.
_PLAIN_ADAPTERS = frozenset({"requests.adapters.HTTPAdapter", "requests.HTTPAdapter"})


class RequestsWithoutTimeout(Rule):
    code = "ASF201"
    name = "requests-without-timeout"
    fix_availability = FixAvailability.ALWAYS
    summary = "`requests` call without a finite `timeout=` can wait forever"
    message = "`{call}()` {problem}: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)"
    triggers = ("requests",)
    docs = """
## What it does
Flags calls that send an HTTP request with `requests` - the module functions
(`requests.get()`, `requests.post()`, `requests.request()`, ...) and the methods of
a `requests.Session` (`get`, `post`, `request`, `send`, ...) - that pass no
`timeout=` or pass `timeout=None`. Sessions are recognised through assignments
(`s = requests.Session()`), `with requests.Session() as s:`, attributes set in
`__init__` and annotations, however `requests` or its names were imported.

A call that passes `**kwargs` is left alone, since the mapping may hold the
timeout; so is a `Session.request()` whose ninth positional argument is the timeout.
When the file mounts a custom transport adapter on a session
(`s.mount("https://", TimeoutAdapter(...))`, the usual way to give a session a
default timeout), calls on sessions are not flagged; module functions still are.

Compared with ruff: `S113` (request-without-timeout) checks only the `requests`
module functions, not `Session` methods, and it flags calls whose `**kwargs` may
well carry a timeout. flake8-async's `ASYNC210` (ruff `ASYNC210`) flags a
`requests` call only inside an `async def`, whatever its timeout. This rule applies
everywhere: a hung call in a sync route or a thread pool worker holds that thread
for good.

This family is not the one flake8-async's `ASYNC109` is about: `ASYNC109` tells
you not to give *your own* `async def` a `timeout` parameter and to let callers use
a timeout context manager instead. The ASF2xx rules ask for a timeout on *calls
into libraries* that would otherwise wait forever; in async code, a scope such as
`async with asyncio.timeout(5):` around the awaited call is the recommended form.

## Why is this bad?
`requests` has no default timeout: if the server accepts the connection but never
answers, or the network silently drops packets, the call waits indefinitely. In a
web service each such call pins a worker thread (FastAPI runs sync endpoints and
dependencies in a small shared thread pool), and a slow upstream soon exhausts the
pool and takes the whole service down with it.

## Example
```python
import requests

session = requests.Session()

def fetch_profile(user_id: int) -> dict:
    return session.get(f"https://api.example.com/users/{user_id}").json()
```

## Use instead
```python
import requests

session = requests.Session()

def fetch_profile(user_id: int) -> dict:
    # 3.05 s to connect, 10 s between bytes of the answer.
    return session.get(f"https://api.example.com/users/{user_id}", timeout=(3.05, 10)).json()
```

## Fix safety
The fix adds `timeout=` with the number of seconds that `default-timeout` in
`[tool.asyncsafe]` sets (10 when it is not set), or puts that number in place of
`timeout=None`:

```python
requests.get("https://api.example.com/users")
requests.get("https://api.example.com/users", timeout=None)
# become
requests.get("https://api.example.com/users", timeout=10)
requests.get("https://api.example.com/users", timeout=10)
```

The fix is unsafe: a request that used to take longer than that - a large download,
a slow report endpoint - now fails with `requests.exceptions.Timeout`. requests
applies the number to connecting and to each wait between bytes of the answer, not
to the whole request. Pick the value your upstreams need; the fix only makes sure
there is one.
"""
    valid = (
        "import requests\nrequests.get('https://example.com', timeout=5)\n",
        "import requests\nrequests.post('https://example.com', json={}, timeout=(3, 10))\n",
        "import requests\ndef f(**kwargs):\n    return requests.get('https://example.com', **kwargs)\n",
        "import requests\ns = requests.Session()\ns.get('https://example.com', timeout=5)\n",
        "import requests\ns = requests.Session()\ns.request('GET', 'https://example.com', None, None, None, None, None, None, 5)\n",
        "import requests\nrequests.get('https://example.com')  # noqa: ASF201\n",
        "import requests\nrequests.get('https://example.com')  # asyncsafe: ignore[ASF201]\n",
        "import requests\nasync def f():\n    await run(requests.get('https://example.com', timeout=2))\n",
        "import httpx\nhttpx.get('https://example.com')\n",
        "def get(url):\n    pass\nget('https://example.com')\n",
        "import requests\nclient = object()\nclient.get('https://example.com')\n",
        # A custom adapter may give the session its default timeout.
        "import requests\nfrom myproject.http import TimeoutAdapter\n"
        "s = requests.Session()\ns.mount('https://', TimeoutAdapter(timeout=5))\ns.get('https://example.com')\n",
        "import requests\nrequests.get(url='https://example.com', timeout=TIMEOUT)\n",
    )
    invalid = (
        Invalid(
            "import requests\nrequests.get('https://example.com')  # expect: ASF201\n",
            "`requests.get()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\nrequests.get('https://example.com', timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "import requests\nrequests.get('https://example.com', timeout=None)  # expect: ASF201\n",
            "`requests.get()` sets `timeout=None`: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\nrequests.get('https://example.com', timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "import requests as r\nr.post('https://example.com', data=b'x')  # expect: ASF201\n",
            "`requests.post()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests as r\nr.post('https://example.com', data=b'x', timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "from requests import get as fetch\nfetch('https://example.com')  # expect: ASF201\n",
            "`requests.get()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="from requests import get as fetch\nfetch('https://example.com', timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "import requests\nrequests.request('GET', 'https://example.com')  # expect: ASF201\n",
            "`requests.request()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\nrequests.request('GET', 'https://example.com', timeout=10)  # expect: ASF201\n",
        ),
        # `requests.request(method, url, ...)` has no positional timeout: the third argument is params.
        Invalid(
            "import requests\nrequests.request('GET', 'https://example.com', {'q': 1})  # expect: ASF201\n",
            "`requests.request()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\n"
            "requests.request('GET', 'https://example.com', {'q': 1}, timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "import requests\ns = requests.Session()\ns.get('https://example.com')  # expect: ASF201\n",
            "`requests.Session.get()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\ns = requests.Session()\n"
            "s.get('https://example.com', timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "import requests\ns = requests.session()\ns.put('https://example.com', data=b'x')  # expect: ASF201\n",
            "`requests.Session.put()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\ns = requests.session()\n"
            "s.put('https://example.com', data=b'x', timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "import requests\nwith requests.Session() as s:\n    s.delete('https://example.com')  # expect: ASF201\n",
            "`requests.Session.delete()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\nwith requests.Session() as s:\n"
            "    s.delete('https://example.com', timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "from requests.sessions import Session\ns = Session()\ns.request('GET', 'https://example.com', timeout=None)  # expect: ASF201\n",
            "`requests.Session.request()` sets `timeout=None`: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="from requests.sessions import Session\ns = Session()\n"
            "s.request('GET', 'https://example.com', timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "import requests\ns = requests.Session()\nprepared = requests.Request('GET', 'https://example.com').prepare()\n"
            "s.send(prepared)  # expect: ASF201\n",
            "`requests.Session.send()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\ns = requests.Session()\n"
            "prepared = requests.Request('GET', 'https://example.com').prepare()\n"
            "s.send(prepared, timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "import requests\nclass Client:\n    def __init__(self):\n        self.http = requests.Session()\n"
            "    def me(self):\n        return self.http.get('https://example.com/me')  # expect: ASF201\n",
            "`requests.Session.get()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\nclass Client:\n    def __init__(self):\n        self.http = requests.Session()\n"
            "    def me(self):\n"
            "        return self.http.get('https://example.com/me', timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "import requests\ndef f(s: requests.Session):\n    s.head('https://example.com')  # expect: ASF201\n",
            "`requests.Session.head()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\ndef f(s: requests.Session):\n"
            "    s.head('https://example.com', timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "import requests\nasync def f():\n    requests.get('https://example.com')  # expect: ASF201\n",
            "`requests.get()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\nasync def f():\n"
            "    requests.get('https://example.com', timeout=10)  # expect: ASF201\n",
        ),
        Invalid(
            "import requests\nrequests.get('https://example.com')  # noqa: ASF202  # expect: ASF201\n",
            "`requests.get()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\nrequests.get('https://example.com', timeout=10)  # noqa: ASF202  # expect: ASF201\n",
        ),
        # A call inside an expression.
        Invalid(
            "import requests\nsize = len(requests.get('https://example.com').content)  # expect: ASF201\n",
            "`requests.get()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\nsize = len(requests.get('https://example.com', timeout=10).content)  # expect: ASF201\n",
        ),
        # A comment where `timeout=` goes stays after it.
        Invalid(
            "import requests\nrequests.get(  # expect: ASF201\n    'https://example.com'  # the API\n)\n",
            "`requests.get()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\nrequests.get(  # expect: ASF201\n    'https://example.com', timeout=10  # the API\n)\n",
        ),
        # A plain HTTPAdapter (retries, pool size) sets no timeout.
        Invalid(
            "import requests\nfrom requests.adapters import HTTPAdapter\ns = requests.Session()\n"
            "s.mount('https://', HTTPAdapter(max_retries=3))\ns.get('https://example.com')  # expect: ASF201\n",
            "`requests.Session.get()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\nfrom requests.adapters import HTTPAdapter\ns = requests.Session()\n"
            "s.mount('https://', HTTPAdapter(max_retries=3))\n"
            "s.get('https://example.com', timeout=10)  # expect: ASF201\n",
        ),
        # `*args` cannot carry a keyword-only timeout.
        Invalid(
            "import requests\ndef f(*args):\n    return requests.get(*args)  # expect: ASF201\n",
            "`requests.get()` has no timeout: requests never times out on its own; pass `timeout=` (seconds, or a `(connect, read)` tuple)",
            fixed="import requests\ndef f(*args):\n    return requests.get(*args, timeout=10)  # expect: ASF201\n",
        ),
    )

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._session_calls: list[tuple[Call, str]] = []
        self._custom_adapter = False
        #: Nodes passed to `Session.mount()`, and what each adapter call resolved to.
        self._mounted: list[ast.expr] = []
        self._adapter_names: dict[int, str | None] = {}

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, ast.Call):
            return
        self._adapter_names[id(call.node)] = call.name
        if call.name == "requests.Session.mount":
            adapter = call.argument("adapter", 1)
            if adapter is not None:
                self._mounted.append(adapter)
            elif call.has_splat():
                self._custom_adapter = True
            return
        if call.name in _FUNCTIONS:
            problem = call.timeout_problem(_FUNCTIONS[call.name])
            if problem is not None:
                self.report(call.node, fix=self._fix(call, _FUNCTIONS[call.name]), call=call.name, problem=problem)
        elif call.name in _SESSION_METHODS:
            problem = call.timeout_problem(_SESSION_METHODS[call.name])
            if problem is not None:
                self._session_calls.append((call, problem))

    def _fix(self, call: Call, position: int | None) -> Fix:
        return timeout_fix(self.source, call.node, call.argument("timeout", position), self.settings.default_timeout)

    def leave_module(self) -> None:
        if self._custom_adapter or any(self._is_custom_adapter(node) for node in self._mounted):
            return
        for call, problem in self._session_calls:
            assert call.name is not None
            fix = self._fix(call, _SESSION_METHODS[call.name])
            self.report(call.node, fix=fix, call=call.name, problem=problem)

    def _is_custom_adapter(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Call):
            return self._adapter_names.get(id(node)) not in _PLAIN_ADAPTERS
        return True
