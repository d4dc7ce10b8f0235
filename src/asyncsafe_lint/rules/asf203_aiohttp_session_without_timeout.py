from __future__ import annotations

import ast

from asyncsafe_lint.changes import add_argument, add_import, fix, replace_expression, seconds_of, timeout_fix
from asyncsafe_lint.diagnostics import Applicability, Change, Fix
from asyncsafe_lint.imports import ModuleImports, Scopes
from asyncsafe_lint.rule import Call, FixAvailability, Invalid, Rule, RuleContext, is_none

#: Calls that fall back to aiohttp's default timeout when given no `timeout=` (or `None`).
_SESSIONS = frozenset(
    {"aiohttp.ClientSession", "aiohttp.client.ClientSession", "aiohttp.request", "aiohttp.client.request"}
)
_TIMEOUT_CLASSES = frozenset({"aiohttp.ClientTimeout", "aiohttp.client.ClientTimeout"})
#: The limits of a `ClientTimeout`, in the order its constructor takes them positionally.
_LIMITS = ("total", "connect", "sock_read", "sock_connect")


def _disables(value: ast.expr | None) -> bool:
    """True when a `ClientTimeout` field is absent, `None` or `0` - all of which switch that check off."""
    if value is None or is_none(value):
        return True
    return isinstance(value, ast.Constant) and type(value.value) in (int, float) and value.value == 0


class AiohttpSessionWithoutTimeout(Rule):
    code = "ASF203"
    name = "aiohttp-session-without-timeout"
    fix_availability = FixAvailability.SOMETIMES
    summary = "`aiohttp.ClientSession()` relying on the 5-minute default, or a `ClientTimeout` with no bound"
    message = "{what}: {why}; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller"
    triggers = ("aiohttp",)
    docs = """
## What it does
Flags:

- `aiohttp.ClientSession(...)` (and the one-shot `aiohttp.request(...)`) created
  without `timeout=`, or with `timeout=None`, which aiohttp treats the same way:
  both fall back to the library default of 5 minutes for a whole request;
- `aiohttp.ClientTimeout(...)` built with no bound at all - `ClientTimeout()`,
  `ClientTimeout(total=None)`, or every limit (`total`, `connect`, `sock_read`,
  `sock_connect`) `None` or `0` - wherever it appears: as a session's timeout, as a
  per-request `session.get(url, timeout=...)`, or stored in a variable first.

A call that passes `**kwargs` is not flagged for a missing `timeout=`.

Neither ruff nor flake8-async checks aiohttp timeouts: ruff's `S113` knows only
`requests` and `httpx`, and the `ASYNC` rules (`ASYNC210`-`ASYNC212`) are about
*sync* HTTP clients inside `async def`; an aiohttp call is already async, so they
have nothing to say about how long it may hang.

This family is not the one flake8-async's `ASYNC109` is about: `ASYNC109` tells
you not to give *your own* `async def` a `timeout` parameter and to let callers use
a timeout context manager instead. The ASF2xx rules ask for a timeout on *calls
into libraries* that would otherwise wait forever (or, here, far longer than any
caller is waiting); in async code, a scope such as `async with asyncio.timeout(5):`
around the awaited call is also fine, and is the recommended form.

## Why is this bad?
aiohttp's documented default is a *total* of 300 seconds per request, with only the
connection attempt bounded more tightly. A route that calls an upstream through a
default session therefore keeps its task, its pooled connection and the client's
request open for up to five minutes when the upstream stalls - long after the
client and any load balancer in front have given up - and under load those tasks
and connections accumulate. A `ClientTimeout` with no bound removes even that
limit: aiohttp documents `None` and `0` as switching a check off, so a silent peer
is waited on forever.

## Example
```python
import aiohttp

async def fetch_rates() -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.get("https://rates.example.com/latest") as response:
            return await response.json()
```

## Use instead
```python
import aiohttp

RATES_TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=3)

async def fetch_rates() -> dict:
    async with aiohttp.ClientSession(timeout=RATES_TIMEOUT) as session:
        async with session.get("https://rates.example.com/latest") as response:
            return await response.json()
```

## Fix safety
The fix passes `timeout=aiohttp.ClientTimeout(total=10)` - the number of seconds that
`default-timeout` in `[tool.asyncsafe]` sets, 10 when it is not set - to a session or
`aiohttp.request()` that has none or passes `None`, through the module's own spelling
of `ClientTimeout` (`import aiohttp` is added when there is none). A
`ClientTimeout()` with no limit becomes `ClientTimeout(total=10)`; one that names
other limits (`sock_read=None`) gets no fix, since which check to turn back on is a
human's choice.

The fix is unsafe: a request that used to run for up to aiohttp's 5 minutes - a
large download, a slow report - now fails with `asyncio.TimeoutError` after the
total you set. Pick the value the caller needs; the fix only makes sure there is one.
"""
    valid = (
        "import aiohttp\nasync def f():\n    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:\n"
        "        await s.get('https://example.com')\n",
        "import aiohttp\nTIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=30)\n"
        "async def f():\n    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:\n        pass\n",
        "from aiohttp import ClientSession, ClientTimeout\nasync def f():\n"
        "    async with ClientSession(timeout=ClientTimeout(5)) as s:\n        pass\n",
        "import aiohttp\ndef make(**kwargs):\n    return aiohttp.ClientSession(**kwargs)\n",
        "import aiohttp\nasync def f(session: aiohttp.ClientSession):\n"
        "    await session.get('https://example.com', timeout=aiohttp.ClientTimeout(total=3))\n",
        "import aiohttp\nasync def f():\n    async with aiohttp.ClientSession() as s:  # noqa: ASF203\n        pass\n",
        "import aiohttp\nt = aiohttp.ClientTimeout()  # asyncsafe: ignore[ASF203]\n",
        "import aiohttp\nt = aiohttp.ClientTimeout(None, 5)\n",
        "import httpx\nclient = httpx.AsyncClient()\n",
        "import aiohttp\nasync def f():\n    async with aiohttp.request('GET', 'https://example.com', timeout=aiohttp.ClientTimeout(total=5)) as r:\n"
        "        pass\n",
    )
    invalid = (
        Invalid(
            "import aiohttp\nasync def f():\n    async with aiohttp.ClientSession() as s:  # expect: ASF203\n"
            "        await s.get('https://example.com')\n",
            "`aiohttp.ClientSession()` has no `timeout=`: it falls back to aiohttp's default of 5 minutes per request; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller",
            fixed="import aiohttp\nasync def f():\n    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:  # expect: ASF203\n        await s.get('https://example.com')\n",
        ),
        Invalid(
            "import aiohttp as ah\nsession = ah.ClientSession(timeout=None)  # expect: ASF203\n",
            "`aiohttp.ClientSession(timeout=None)` does not disable the default: aiohttp treats `None` as its 5-minute default; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller",
            fixed="import aiohttp as ah\nsession = ah.ClientSession(timeout=ah.ClientTimeout(total=10))  # expect: ASF203\n",
        ),
        Invalid(
            "from aiohttp import ClientSession as Session\nasync def f():\n"
            "    async with Session(base_url='https://example.com') as s:  # expect: ASF203\n        pass\n",
            "`aiohttp.ClientSession()` has no `timeout=`: it falls back to aiohttp's default of 5 minutes per request; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller",
            fixed="from aiohttp import ClientSession as Session\nimport aiohttp\nasync def f():\n    async with Session(base_url='https://example.com', timeout=aiohttp.ClientTimeout(total=10)) as s:  # expect: ASF203\n        pass\n",
        ),
        Invalid(
            "import aiohttp\nasync def f():\n"
            "    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout()) as s:  # expect: ASF203\n        pass\n",
            "`aiohttp.ClientTimeout` with no bound: every timeout check is off, so a silent peer is waited on forever; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller",
            fixed="import aiohttp\nasync def f():\n    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:  # expect: ASF203\n        pass\n",
        ),
        Invalid(
            "from aiohttp import ClientTimeout\nNO_TIMEOUT = ClientTimeout(total=None)  # expect: ASF203\n",
            "`aiohttp.ClientTimeout` with no bound: every timeout check is off, so a silent peer is waited on forever; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller",
            fixed="from aiohttp import ClientTimeout\nNO_TIMEOUT = ClientTimeout(total=10)  # expect: ASF203\n",
        ),
        Invalid(
            "import aiohttp\nt = aiohttp.ClientTimeout(total=0, sock_read=None)  # expect: ASF203\n",
            "`aiohttp.ClientTimeout` with no bound: every timeout check is off, so a silent peer is waited on forever; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller",
        ),
        Invalid(
            "import aiohttp\nasync def f(session: aiohttp.ClientSession):\n"
            "    await session.get('https://example.com', timeout=aiohttp.ClientTimeout(total=None))  # expect: ASF203\n",
            "`aiohttp.ClientTimeout` with no bound: every timeout check is off, so a silent peer is waited on forever; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller",
            fixed="import aiohttp\nasync def f(session: aiohttp.ClientSession):\n    await session.get('https://example.com', timeout=aiohttp.ClientTimeout(total=10))  # expect: ASF203\n",
        ),
        Invalid(
            "import aiohttp\nclass Api:\n    def __init__(self):\n        self.session = aiohttp.ClientSession()  # expect: ASF203\n",
            "`aiohttp.ClientSession()` has no `timeout=`: it falls back to aiohttp's default of 5 minutes per request; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller",
            fixed="import aiohttp\nclass Api:\n    def __init__(self):\n        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))  # expect: ASF203\n",
        ),
        Invalid(
            "import aiohttp\nasync def f():\n    async with aiohttp.request('GET', 'https://example.com') as r:  # expect: ASF203\n        pass\n",
            "`aiohttp.request()` has no `timeout=`: it falls back to aiohttp's default of 5 minutes per request; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller",
            fixed="import aiohttp\nasync def f():\n    async with aiohttp.request('GET', 'https://example.com', timeout=aiohttp.ClientTimeout(total=10)) as r:  # expect: ASF203\n        pass\n",
        ),
        Invalid(
            "import aiohttp\ndef sync_factory():\n    return aiohttp.ClientSession()  # expect: ASF203\n",
            "`aiohttp.ClientSession()` has no `timeout=`: it falls back to aiohttp's default of 5 minutes per request; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller",
            fixed="import aiohttp\ndef sync_factory():\n    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))  # expect: ASF203\n",
        ),
        Invalid(
            "import aiohttp\nsession = aiohttp.ClientSession()  # noqa: ASF201  # expect: ASF203\n",
            "`aiohttp.ClientSession()` has no `timeout=`: it falls back to aiohttp's default of 5 minutes per request; pass `timeout=aiohttp.ClientTimeout(total=...)` sized for the caller",
            fixed="import aiohttp\nsession = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))  # noqa: ASF201  # expect: ASF203\n",
        ),
    )

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.scopes = context.shared(Scopes, Scopes)

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, ast.Call) or call.name is None:
            return
        if call.name in _SESSIONS:
            shown = call.name.replace("aiohttp.client.", "aiohttp.")
            timeout = call.argument("timeout")
            if timeout is None:
                if not call.has_keyword_splat():
                    self.report(
                        call.node,
                        fix=self._fix(call, "timeout", None),
                        what=f"`{shown}()` has no `timeout=`",
                        why="it falls back to aiohttp's default of 5 minutes per request",
                    )
            elif is_none(timeout):
                self.report(
                    call.keyword("timeout") or timeout,
                    fix=self._fix(call, "timeout", timeout),
                    what=f"`{shown}(timeout=None)` does not disable the default",
                    why="aiohttp treats `None` as its 5-minute default",
                )
        elif call.name in _TIMEOUT_CLASSES and not call.has_splat():
            if all(_disables(call.argument(limit, position)) for position, limit in enumerate(_LIMITS)):
                self.report(
                    call.node,
                    fix=self._fix(call, "total", call.argument("total", 0)),
                    what="`aiohttp.ClientTimeout` with no bound",
                    why="every timeout check is off, so a silent peer is waited on forever",
                )

    def _fix(self, call: Call, keyword: str, given: ast.expr | None) -> Fix | None:
        """`timeout=aiohttp.ClientTimeout(total=10)` for a session, added or put where the
        `None` is; `total=10` for a `ClientTimeout` that gives none (or `None`), when no other
        limit is written: the others are a human's to weigh."""
        assert isinstance(call.node, ast.Call)
        seconds = seconds_of(self.settings.default_timeout)
        if keyword == "total":
            written = len(call.node.args) + len(call.node.keywords)
            if written > (given is not None):
                return None
            return timeout_fix(self.source, call.node, given, self.settings.default_timeout, "total")
        imports = ModuleImports(self.tree)
        spelled = imports.reference("aiohttp.ClientTimeout")
        changes: list[Change] = []
        if spelled is None:
            if imports.is_bound("aiohttp"):
                return None
            changes.append(add_import("import aiohttp"))
            spelled = "aiohttp.ClientTimeout"
        if call.function is not None and self.scopes.binds(call.function, spelled.split(".", 1)[0]):
            return None  # the name the fix uses means something else there
        value = f"{spelled}(total={seconds})"
        if given is not None:
            changes.append(replace_expression(self.source, given, value))
        else:
            changes.append(add_argument(self.source, call.node, f"timeout={value}"))
        return fix(f"Pass `timeout={value}`", changes, Applicability.UNSAFE)
