from __future__ import annotations

from asyncsafe_lint.rule import BlockingCallRule, Call, Invalid, RuleContext, RuleSettings


class ConfiguredBlockingCall(BlockingCallRule):
    code = "ASF109"
    name = "configured-blocking-call"
    summary = "A call that `[tool.asyncsafe] blocking-calls` names as blocking, made in async code"
    docs = """
## What it does
Flags, directly in the body of an `async def`, calls to the callables listed in
`blocking-calls` under `[tool.asyncsafe]`: a table from a qualified name to what to
use instead, which becomes the end of the message.

```toml
[tool.asyncsafe]
blocking-calls = { "mylib.fetch" = "use `mylib.afetch()`", "mylib.Client.sync" = "use `await client.async_sync()`" }
```
Names are matched after resolving imports, aliases and variable types, as for the
built-in rules: `from mylib import fetch as get` then `get()` matches `mylib.fetch`,
and a method is named after its class (`mylib.Client.sync` matches `client.sync()`
when `client = mylib.Client()` or `client: mylib.Client`).  Names are exact; there are
no wildcards.

This is the counterpart of flake8-async's ASYNC200 (`--async200-blocking-calls`),
which ruff does not implement.  ASYNC200 matches wildcard patterns against the called
name as written (recent versions resolve imports first) and does not track variable
types, so a method is only caught by a pattern such as `*.sync`, which also catches
every other object's `sync()`.

## Why is this bad?
Every code base has its own slow synchronous calls: an SDK without an async client, an
internal helper that reads a file, a legacy service wrapper.  Called from a coroutine,
each one holds up the event loop and every request on the worker, like the standard
library's blocking calls do, but only you know which they are.

## Example
```python
from mylib import fetch

@app.get("/item")
async def item():
    return fetch("item")
```

## Use instead
```python
from mylib import afetch

@app.get("/item")
async def item():
    return await afetch("item")
```

## Fix safety
There is no automatic fix.
"""
    valid = (
        "import mylib\ndef f():\n    return mylib.fetch('x')\n",
        "import mylib\nasync def f():\n    return await mylib.afetch('x')\n",
        "import asyncio, mylib\nasync def f():\n    return await asyncio.to_thread(mylib.fetch, 'x')\n",
        "import otherlib\nasync def f():\n    return otherlib.fetch('x')\n",
        "import mylib\nasync def f():\n    return mylib.fetch('x')  # noqa: ASF109\n",
    )
    invalid = (
        Invalid(
            "import mylib\nasync def f():\n    return mylib.fetch('x')  # expect: ASF109\n",
            "Blocking call `mylib.fetch()` in async function `f`: use `mylib.afetch()`",
        ),
        Invalid(
            "from mylib import fetch as get\nasync def f():\n    return get('x')  # expect: ASF109\n",
            "Blocking call `mylib.fetch()` in async function `f`: use `mylib.afetch()`",
        ),
        Invalid(
            "import mylib as m\nclass Service:\n    async def run(self):\n        m.fetch('x')  # expect: ASF109\n",
            "Blocking call `mylib.fetch()` in async function `Service.run`: use `mylib.afetch()`",
        ),
        Invalid(
            "import mylib\nasync def f():\n    return mylib.fetch('x')  # noqa: ASF108  # expect: ASF109\n",
            "Blocking call `mylib.fetch()` in async function `f`: use `mylib.afetch()`",
        ),
    )

    @classmethod
    def flagged_names(cls, settings: RuleSettings) -> frozenset[str]:
        return frozenset(name for name, _ in settings.blocking_calls)

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._configured = dict(context.settings.blocking_calls)

    def instead(self, call: Call) -> str | None:
        assert call.name is not None
        return self._configured.get(call.name)
