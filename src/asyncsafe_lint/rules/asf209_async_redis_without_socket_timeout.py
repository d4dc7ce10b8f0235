from __future__ import annotations

import ast
from enum import Enum

from asyncsafe_lint.rule import Call, Invalid, Rule, is_none


class _Takes(Enum):
    """How a call is told which server to talk to, and so where its settings may hide."""

    #: Keywords only (`Redis(host=...)`): a `connection_pool=` brings its own settings.
    CLIENT = "client"
    #: A URL first, whose query string may set `socket_timeout`.
    URL = "url"
    #: A pool: keywords that every connection it opens gets.
    POOL = "pool"


def _spellings(*names: str) -> dict[str, str]:
    """Each place a name of `redis.asyncio` is defined or re-exported -> the name shown."""
    found: dict[str, str] = {}
    for name in names:
        owner = name.partition(".")[0]
        module = "utils" if owner == "from_url" else "connection" if owner.endswith("Pool") else "client"
        shown = f"redis.asyncio.{name}"
        found[shown] = found[f"redis.asyncio.{module}.{name}"] = shown
    return found


_CALLS: dict[str, tuple[str, _Takes]] = {
    **{name: (shown, _Takes.CLIENT) for name, shown in _spellings("Redis", "StrictRedis").items()},
    **{name: (shown, _Takes.POOL) for name, shown in _spellings("ConnectionPool", "BlockingConnectionPool").items()},
    **{
        name: (shown, _Takes.URL)
        for name, shown in _spellings(
            "from_url",
            "Redis.from_url",
            "StrictRedis.from_url",
            "ConnectionPool.from_url",
            "BlockingConnectionPool.from_url",
        ).items()
    },
}

_FOREVER = "a Redis server that stops answering holds every command sent to it, and the task awaiting it, forever"


def _literal_query(value: ast.expr | None) -> str | None:
    """The query string of a URL written as a plain string literal; None otherwise."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value.partition("?")[2]
    return None


class AsyncRedisWithoutSocketTimeout(Rule):
    code = "ASF209"
    name = "async-redis-without-socket-timeout"
    summary = "`redis.asyncio` client or pool without `socket_timeout`, so a stalled server is waited on forever"
    message = "`{call}()` {problem}: {consequence}; pass `socket_timeout=` seconds"
    triggers = ("redis",)
    docs = """
## What it does
Flags the ways of making a `redis.asyncio` client that leave its commands without a
time limit: `redis.asyncio.Redis(...)` (and `StrictRedis`), `redis.asyncio.from_url(...)`,
`Redis.from_url(...)`, and `ConnectionPool(...)` / `BlockingConnectionPool(...)` and
their `from_url(...)`, when they pass no `socket_timeout=` or pass
`socket_timeout=None`.

What is not flagged: a call that passes `**kwargs`; a `Redis(connection_pool=...)`,
whose pool brings the settings (the pool is checked where it is made); a URL written in
the call whose query string sets `socket_timeout` (`redis://cache:6379/0?socket_timeout=2`).
`socket_connect_timeout` alone is not enough: it bounds only connecting, while
`socket_timeout` bounds every command - and connecting too, when
`socket_connect_timeout` is not given. The sync `redis.Redis` in async code is ASF106's
business.

A URL held in a variable is still flagged when no `socket_timeout=` is passed: its
query string *could* set the timeout, but that is rare, and passing the keyword costs
nothing (the query string wins when both are given).

Neither ruff nor flake8-async checks Redis timeouts: their `ASYNC` rules are about
*blocking* calls in async code, and `redis.asyncio` is already async.

## Why is this bad?
Up to redis-py 7.x, `socket_timeout` and `socket_connect_timeout` default to `None`:
no timeout at all. A Redis server that hangs, fails over, or sits behind a network
path that silently drops packets then holds every command - and the request awaiting
it - until the process restarts, and the client's connections are used up one by one.
Caches are meant to make requests faster; without a timeout a stalled cache makes
them hang instead. redis-py 8.0 changed both defaults to 5 seconds, so there a call
without `socket_timeout=` is bounded; this rule still asks for it because the linter
cannot tell which redis-py a project runs, and an explicit value behaves the same on
every version (and says how long a command may take). `socket_timeout=None` disables
the limit on every version. Projects that require redis-py 8.0 or later and are
happy with 5 seconds can turn the rule off.

## Example
```python
import redis.asyncio as redis

cache = redis.from_url("redis://cache:6379/0")
```

## Use instead
```python
import redis.asyncio as redis

cache = redis.from_url("redis://cache:6379/0", socket_timeout=2.0, socket_connect_timeout=1.0)
```

## Fix safety
There is no automatic fix yet.
"""
    valid = (
        "import redis.asyncio as redis\ncache = redis.Redis(host='cache', socket_timeout=2.0)\n",
        "import redis.asyncio as redis\ncache = redis.from_url('redis://cache:6379/0', socket_timeout=2)\n",
        "from redis.asyncio import Redis\ncache = Redis.from_url('redis://cache:6379/0?socket_timeout=2')\n",
        "from redis import asyncio as aioredis\npool = aioredis.ConnectionPool(host='cache', socket_timeout=1)\n"
        "cache = aioredis.Redis(connection_pool=pool)\n",
        "import redis.asyncio\ndef make(**options):\n    return redis.asyncio.Redis(**options)\n",
        "import redis.asyncio as redis\ndef make(url, timeout):\n    return redis.from_url(url, socket_timeout=timeout)\n",
        "import redis.asyncio as redis\ncache = redis.Redis(host='cache')  # noqa: ASF209\n",
        "import redis.asyncio as redis\ncache = redis.Redis(host='cache')  # asyncsafe: ignore[ASF209]\n",
        "import redis\ncache = redis.Redis(host='cache')\n",
        "import redis\ncache = redis.from_url('redis://cache:6379/0')\n",
        "from redis.asyncio import Redis\nasync def f(pool):\n    cache = Redis.from_pool(pool)\n",
    )
    invalid = (
        Invalid(
            "import redis.asyncio as redis\ncache = redis.Redis(host='cache', port=6379)  # expect: ASF209\n",
            "`redis.asyncio.Redis()` has no `socket_timeout`: before redis-py 8.0 the default is no limit, so a Redis server that stops answering holds every command sent to it, and the task awaiting it, forever; pass `socket_timeout=` seconds",
        ),
        Invalid(
            "import redis.asyncio as redis\ncache = redis.from_url('redis://cache:6379/0')  # expect: ASF209\n",
            "`redis.asyncio.from_url()` has no `socket_timeout`: before redis-py 8.0 the default is no limit",
        ),
        Invalid(
            "from redis.asyncio import Redis\nimport os\n"
            "cache = Redis.from_url(os.environ['REDIS_URL'], decode_responses=True)  # expect: ASF209\n",
            "`redis.asyncio.Redis.from_url()` has no `socket_timeout`",
        ),
        Invalid(
            "from redis.asyncio import Redis\n"
            "cache = Redis(host='cache', socket_connect_timeout=1, socket_timeout=None)  # expect: ASF209\n",
            "`redis.asyncio.Redis()` sets `socket_timeout=None`: a Redis server that stops answering holds every command sent to it, and the task awaiting it, forever; pass `socket_timeout=` seconds",
        ),
        Invalid(
            "from redis import asyncio as aioredis\npool = aioredis.ConnectionPool(host='cache', max_connections=20)  # expect: ASF209\n",
            "`redis.asyncio.ConnectionPool()` has no `socket_timeout`",
        ),
        Invalid(
            "from redis.asyncio.connection import BlockingConnectionPool\n"
            "pool = BlockingConnectionPool.from_url('redis://cache:6379/0', max_connections=20)  # expect: ASF209\n",
            "`redis.asyncio.BlockingConnectionPool.from_url()` has no `socket_timeout`",
        ),
        Invalid(
            "import redis.asyncio\nclass Cache:\n    def __init__(self):\n"
            "        self.client = redis.asyncio.StrictRedis(host='cache')  # expect: ASF209\n",
            "`redis.asyncio.StrictRedis()` has no `socket_timeout`",
        ),
        Invalid(
            "import redis.asyncio as redis\ncache = redis.Redis(host='cache')  # noqa: ASF106  # expect: ASF209\n",
            "`redis.asyncio.Redis()` has no `socket_timeout`",
        ),
    )

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, ast.Call) or call.name not in _CALLS:
            return
        shown, takes = _CALLS[call.name]
        limit = call.argument("socket_timeout")
        if limit is not None:
            if is_none(limit):
                problem = "sets `socket_timeout=None`"
                self.report(call.keyword("socket_timeout") or limit, call=shown, problem=problem, consequence=_FOREVER)
            return
        if call.has_keyword_splat():
            return
        if takes is _Takes.CLIENT and call.argument("connection_pool") is not None:
            return
        if takes is _Takes.URL and "socket_timeout=" in (_literal_query(call.argument("url", 0)) or ""):
            return
        consequence = f"before redis-py 8.0 the default is no limit, so {_FOREVER}"
        self.report(call.node, call=shown, problem="has no `socket_timeout`", consequence=consequence)
