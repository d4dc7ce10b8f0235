from __future__ import annotations

import ast

from asyncsafe_lint.rule import Call, Invalid, Rule, is_none

#: asyncpg's ways of opening connections; both take `command_timeout=` and `timeout=`.
_ASYNCPG = {
    "asyncpg.connect": "asyncpg.connect",
    "asyncpg.connection.connect": "asyncpg.connect",
    "asyncpg.create_pool": "asyncpg.create_pool",
    "asyncpg.pool.create_pool": "asyncpg.create_pool",
}
_ENGINES = frozenset(
    {"sqlalchemy.ext.asyncio.create_async_engine", "sqlalchemy.ext.asyncio.engine.create_async_engine"}
)
_ASYNCPG_DIALECT = "postgresql+asyncpg"
_NO_QUERY_LIMIT = "asyncpg's default is no limit, so a query that stalls holds its connection and this task forever"


class _Unseen:
    """Marks a value the linter cannot read (a variable, a splat)."""


_UNSEEN = _Unseen()


def _url_text(value: ast.expr | None) -> str | None:
    """The URL a literal spells: a string, or an f-string with `{}` where it interpolates."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    if isinstance(value, ast.JoinedStr):
        parts = [part.value if isinstance(part, ast.Constant) else "{}" for part in value.values]
        return "".join(str(part) for part in parts)
    return None


def _asyncpg_url(value: ast.expr | None) -> str | None:
    """The query string of a literal URL that names SQLAlchemy's asyncpg dialect;
    None for any other URL, or one the linter cannot read."""
    text = _url_text(value)
    if text is None or "://" not in text:
        return None
    scheme, _, rest = text.partition("://")
    if scheme.strip().lower() != _ASYNCPG_DIALECT:
        return None
    return rest.partition("?")[2]


def _connect_args_limit(value: ast.expr | None) -> ast.expr | _Unseen | None:
    """The `command_timeout` a `connect_args=` dict gives: its value, None when it gives
    none, or `_UNSEEN` when the dict may hold keys the linter cannot see."""
    if value is None:
        return None
    if isinstance(value, ast.Dict):
        for key, item in zip(value.keys, value.values, strict=True):
            if isinstance(key, ast.Constant) and key.value == "command_timeout":
                return item
        return _UNSEEN if any(key is None for key in value.keys) else None
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict" and not value.args:
        for keyword in value.keywords:
            if keyword.arg == "command_timeout":
                return keyword.value
        return _UNSEEN if any(keyword.arg is None for keyword in value.keywords) else None
    return _UNSEEN


class AsyncpgWithoutCommandTimeout(Rule):
    code = "ASF208"
    name = "asyncpg-without-command-timeout"
    summary = "asyncpg connection or pool without `command_timeout`, so every query can wait forever"
    message = "{what} {problem}: {consequence}; {remedy}"
    triggers = ("asyncpg",)
    docs = """
## What it does
Flags asyncpg connections whose queries have no time limit:

- `asyncpg.connect(...)` and `asyncpg.create_pool(...)` without `command_timeout=`,
  or with `command_timeout=None`;
- SQLAlchemy's `create_async_engine(...)` for the asyncpg dialect - a URL written in
  the call as a string (or f-string) starting with `postgresql+asyncpg://` - whose
  `connect_args` give no `command_timeout` (nor does the URL's query string);
- `asyncpg.connect(timeout=None)` / `asyncpg.create_pool(timeout=None)`, which takes
  away the one limit asyncpg does have by default, the one on connecting.

What is not flagged: a call that passes `**kwargs`, a `create_pool()` given its own
`connect=` coroutine, an engine given `async_creator=` or `creator=`, and `connect_args`
that is a variable or a dict with a `**splat` - any of these may carry the timeout. An
engine whose URL is a variable or a `URL` object is not flagged either: its driver is
not known. A per-call `timeout=` on `fetch()`/`execute()` bounds only that call and is
not looked for.

Neither ruff nor flake8-async has a rule about database driver timeouts; the `ASYNC`
rules are about *blocking* calls in async code, and asyncpg is already async.

## Why is this bad?
In asyncpg, `command_timeout` is the limit every operation on a connection gets
unless the call passes its own `timeout=`, and it defaults to `None`: no limit (only
the connection attempt is bounded, by `timeout`, 60 seconds by default). So a query that stalls - a lock
held by another transaction, a server that fails over, a network path that silently
drops packets - is awaited for as long as the process lives. The request that made it
never answers, and its pooled connection never comes back: a few such stalls empty a
pool of ten, and then every request that needs the database queues behind them. A
server-side `statement_timeout` in `server_settings` helps with slow statements but
not with a server or network that stops answering. SQLAlchemy passes `connect_args`
(and the URL's query options) through to `asyncpg.connect()` and sets no timeout of
its own; its `pool_timeout` only bounds the wait for a free connection.

## Example
```python
import asyncpg

async def open_pool(dsn: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=2, max_size=10)
```

## Use instead
```python
import asyncpg

async def open_pool(dsn: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=2, max_size=10, command_timeout=10)
```

With SQLAlchemy:

```python
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(
    "postgresql+asyncpg://app@db/app", connect_args={"command_timeout": 10}
)
```

## Fix safety
There is no automatic fix yet.
"""
    valid = (
        "import asyncpg\nasync def f(dsn):\n    return await asyncpg.connect(dsn, command_timeout=10)\n",
        "import asyncpg\nasync def f(dsn, limit):\n    return await asyncpg.create_pool(dsn, command_timeout=limit)\n",
        "import asyncpg\nasync def f(**options):\n    return await asyncpg.create_pool(**options)\n",
        "import asyncpg\nasync def f(dsn, make):\n    return await asyncpg.create_pool(dsn, connect=make)\n",
        "import asyncpg\nasync def f(dsn):\n    return await asyncpg.connect(dsn, timeout=5, command_timeout=30)\n",
        "import asyncpg\nasync def f(dsn):\n    return await asyncpg.connect(dsn)  # noqa: ASF208\n",
        "import asyncpg\nasync def f(dsn):\n    return await asyncpg.connect(dsn)  # asyncsafe: ignore[ASF208]\n",
        "from sqlalchemy.ext.asyncio import create_async_engine\n"
        "engine = create_async_engine('postgresql+asyncpg://app@db/app', connect_args={'command_timeout': 10})\n",
        "from sqlalchemy.ext.asyncio import create_async_engine\n"
        "engine = create_async_engine('postgresql+asyncpg://app@db/app?command_timeout=10')\n",
        "from sqlalchemy.ext.asyncio import create_async_engine\n"
        "engine = create_async_engine('postgresql+asyncpg://app@db/app', connect_args=dict(command_timeout=10))\n",
        "from sqlalchemy.ext.asyncio import create_async_engine\nimport os\n"
        "engine = create_async_engine(os.environ['DATABASE_URL'])\n",
        "from sqlalchemy.ext.asyncio import create_async_engine\n"
        "engine = create_async_engine('postgresql+psycopg://app@db/app')\n",
        "from sqlalchemy.ext.asyncio import create_async_engine\nimport asyncpg\n"
        "engine = create_async_engine('postgresql+asyncpg://', async_creator=lambda: asyncpg.connect(command_timeout=5))\n",
        "from sqlalchemy.ext.asyncio import create_async_engine\nARGS = {'command_timeout': 10}\n"
        "engine = create_async_engine('postgresql+asyncpg://app@db/app', connect_args=ARGS)\n",
        "from sqlalchemy.ext.asyncio import create_async_engine\nBASE = {}\n"
        "engine = create_async_engine('postgresql+asyncpg://app@db/app', connect_args={**BASE, 'ssl': True})\n",
        "from sqlalchemy.ext.asyncio import create_async_engine\n"
        "engine = create_async_engine(f'postgresql+asyncpg://app@db/app?{OPTIONS}')\n",
        "import asyncpg\nasync def f(pool: asyncpg.Pool):\n    return await pool.fetch('SELECT 1')\n",
    )
    invalid = (
        Invalid(
            "import asyncpg\nasync def f(dsn):\n    return await asyncpg.connect(dsn)  # expect: ASF208\n",
            "`asyncpg.connect()` has no `command_timeout`: asyncpg's default is no limit, so a query that stalls holds its connection and this task forever; pass `command_timeout=` seconds",
        ),
        Invalid(
            "import asyncpg\nasync def f(dsn):\n"
            "    return await asyncpg.create_pool(dsn, min_size=2, max_size=10)  # expect: ASF208\n",
            "`asyncpg.create_pool()` has no `command_timeout`: asyncpg's default is no limit, so a query that stalls holds its connection and this task forever; pass `command_timeout=` seconds",
        ),
        Invalid(
            "from asyncpg import create_pool as pool\nasync def f(dsn):\n"
            "    async with pool(dsn, command_timeout=None) as p:  # expect: ASF208\n        await p.fetch('SELECT 1')\n",
            "`asyncpg.create_pool()` sets `command_timeout=None`: asyncpg's default is no limit, so a query that stalls holds its connection and this task forever; pass `command_timeout=` seconds",
        ),
        Invalid(
            "import asyncpg\nasync def f(dsn):\n"
            "    return await asyncpg.connect(dsn, timeout=None, command_timeout=10)  # expect: ASF208\n",
            "`asyncpg.connect()` sets `timeout=None`: that removes asyncpg's 60-second limit on connecting, so a server that never answers is waited on forever; pass `timeout=` seconds, or leave the default",
        ),
        Invalid(
            "import asyncpg\nclass Db:\n    async def start(self, dsn):\n"
            "        self.pool = await asyncpg.pool.create_pool(dsn)  # expect: ASF208\n",
            "`asyncpg.create_pool()` has no `command_timeout`",
        ),
        Invalid(
            "from sqlalchemy.ext.asyncio import create_async_engine\n"
            "engine = create_async_engine('postgresql+asyncpg://app@db/app', pool_size=10)  # expect: ASF208\n",
            '`sqlalchemy.ext.asyncio.create_async_engine()` for asyncpg has no `command_timeout` in `connect_args`: asyncpg\'s default is no limit, so a query that stalls holds its connection and this task forever; pass `connect_args={"command_timeout": <seconds>}`',
        ),
        Invalid(
            "import sqlalchemy.ext.asyncio as sa\n"
            "engine = sa.create_async_engine(f'postgresql+asyncpg://{USER}@{HOST}/app', connect_args={'timeout': 5})  # expect: ASF208\n",
            "`sqlalchemy.ext.asyncio.create_async_engine()` for asyncpg has no `command_timeout` in `connect_args`",
        ),
        Invalid(
            "from sqlalchemy.ext.asyncio import create_async_engine\n"
            "engine = create_async_engine(url='postgresql+asyncpg://app@db/app', connect_args={'command_timeout': None})  # expect: ASF208\n",
            "`sqlalchemy.ext.asyncio.create_async_engine()` for asyncpg sets `command_timeout` to `None` in `connect_args`",
        ),
        Invalid(
            "import asyncpg\nasync def f(dsn):\n    return await asyncpg.connect(dsn)  # noqa: ASF207  # expect: ASF208\n",
            "`asyncpg.connect()` has no `command_timeout`",
        ),
    )

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, ast.Call) or call.name is None:
            return
        if call.name in _ASYNCPG:
            self._asyncpg(call, _ASYNCPG[call.name])
        elif call.name in _ENGINES:
            self._engine(call)

    def _asyncpg(self, call: Call, shown: str) -> None:
        assert isinstance(call.node, ast.Call)
        what = f"`{shown}()`"
        remedy = "pass `command_timeout=` seconds"
        limit = call.argument("command_timeout")
        custom_connect = call.argument("connect")
        if limit is None:
            if not call.has_keyword_splat() and (custom_connect is None or is_none(custom_connect)):
                self.report(
                    call.node, what=what, problem="has no `command_timeout`", consequence=_NO_QUERY_LIMIT, remedy=remedy
                )
        elif is_none(limit):
            node = call.keyword("command_timeout") or limit
            self.report(
                node, what=what, problem="sets `command_timeout=None`", consequence=_NO_QUERY_LIMIT, remedy=remedy
            )
        connect_limit = call.argument("timeout")
        if is_none(connect_limit):
            self.report(
                call.keyword("timeout") or call.node,
                what=what,
                problem="sets `timeout=None`",
                consequence="that removes asyncpg's 60-second limit on connecting, so a server that never answers is waited on forever",
                remedy="pass `timeout=` seconds, or leave the default",
            )

    def _engine(self, call: Call) -> None:
        assert isinstance(call.node, ast.Call)
        query = _asyncpg_url(call.argument("url", 0))
        if query is None or "command_timeout=" in query or "{}" in query or call.has_keyword_splat():
            return
        if any(call.argument(custom) is not None for custom in ("async_creator", "creator")):
            return
        limit = _connect_args_limit(call.argument("connect_args"))
        if isinstance(limit, _Unseen):
            return
        what = f"`{call.name}()` for asyncpg"
        remedy = 'pass `connect_args={"command_timeout": <seconds>}`'
        if limit is None:
            problem = "has no `command_timeout` in `connect_args`"
        elif is_none(limit):
            problem = "sets `command_timeout` to `None` in `connect_args`"
        else:
            return
        self.report(call.node, what=what, problem=problem, consequence=_NO_QUERY_LIMIT, remedy=remedy)
