from asyncsafe_lint.handoff import FIX_SAFETY
from asyncsafe_lint.rule import FixAvailability, Invalid, Rule


class BlockingCallInHelper(Rule):
    code = "ASF110"
    name = "blocking-call-in-helper"
    fix_availability = FixAvailability.SOMETIMES
    summary = "Async code calls a sync function of the project that blocks, at any depth, in any module"
    message = "Call to sync helper `{helper}()` {where} reaches a blocking call: {chain}"
    # Reported by the project pass (`asyncsafe_lint.callgraph`) from every file's facts,
    # never during the walk of one file.
    triggers = ()
    docs = (
        """
## What it does
Flags a call, made directly in the body of an `async def`, to a plain `def` function of
your project that makes a blocking call (anything ASF101 to ASF109 flag, including
your `blocking-calls`) itself or through the functions it calls, in the same module or
in others. The message shows the whole chain, from the async function to the blocking
call and where it is:

```text
Call to sync helper `services.load()` in async route GET /items reaches a blocking call:
list_items -> services.load -> db.fetch -> requests.get (app/db.py:14)
```

Calls are followed through imports (`from app.db import fetch`, `import app.services as
s; s.load()`, relative imports, names re-exported by a package's `__init__.py`),
methods called on `self`, `cls` or an instance of a project class, and classes whose
`__init__` blocks (`Repository()`). A function is not followed when it is handed to
a thread rather than called (`run_in_threadpool(f)`, `asyncio.to_thread(f)`,
`loop.run_in_executor(None, f)`, `anyio.to_thread.run_sync(f)`, a sync background
task), when it is `async` (calling it only creates a coroutine), or when it is
decorated with `asgiref.sync.sync_to_async` or `asyncer.asyncify`.  Cycles and
recursion are fine; chains longer than `max-depth` functions (default 8, also
`--max-depth`) are not reported.

The project is every module under the project's root (the directory of the nearest
`pyproject.toml`), whichever files are named on the command line: pre-commit, which
names only the changed files, finds the same chains as a run over the whole tree.

ruff and flake8-async only see a blocking call written in the `async def` itself
(ruff's issue #7807 asks for more).

## Why is this bad?
A sync helper called from a coroutine runs on the event loop's thread, and so does
everything it calls. The `requests.get()` three modules down stalls every request on
the worker exactly as if it were written in the route, but it is much harder to see.

## Example
```python
# app/db.py
def fetch(url):
    return requests.get(url, timeout=5).json()

# app/routes.py
@router.get("/items")
async def list_items():
    return db.fetch(ITEMS_URL)
```

## Use instead
```python
from starlette.concurrency import run_in_threadpool

@router.get("/items")
async def list_items():
    return await run_in_threadpool(db.fetch, ITEMS_URL)
```
Or make the route a plain `def` (FastAPI runs it in its threadpool), or give the
helper an async version (`httpx.AsyncClient`).

## Fix safety
"""
        + FIX_SAFETY
        + """
Handed off, the helper runs on a worker thread with everything it calls, which is
what the chain asks for; the project's objects it shares with the loop's thread (a
connection it keeps in a module-level variable, a cache) are then used from two
threads.

The fix is worked out by `--fix`, `--diff` and `--fix-only`, not by a check: a check
would have to plan one for every call a chain might start at, which would cost it more
than the rest of its work. So a check does not mark this rule's findings `[*]`, nor
count them among the hidden fixes, and `--output-format json` shows no edits for them.
"""
    )
    valid = (
        "import time\ndef helper():\n    time.sleep(1)\ndef route():\n    helper()\n",
        "import asyncio, time\ndef helper():\n    time.sleep(1)\nasync def f():\n    await asyncio.to_thread(helper)\n",
        "import time\nfrom starlette.concurrency import run_in_threadpool\ndef helper():\n    time.sleep(1)\n"
        "async def f():\n    await run_in_threadpool(helper)\n",
        "import asyncio, time\ndef helper():\n    time.sleep(1)\nasync def f():\n"
        "    await asyncio.get_running_loop().run_in_executor(None, helper)\n",
        "import asyncio\nasync def fetch():\n    await asyncio.sleep(1)\nasync def f():\n    await fetch()\n",
        "def a(n):\n    return b(n - 1) if n else 0\ndef b(n):\n    return a(n)\nasync def f():\n    a(3)\n",
        "import time\ndef helper():\n    time.sleep(1)\nasync def f():\n    helper()  # noqa: ASF110\n",
        "import time\nfrom asgiref.sync import sync_to_async\n@sync_to_async\ndef helper():\n"
        "    time.sleep(1)\nasync def f():\n    await helper()\n",
    )
    invalid = (
        Invalid(
            "import time\ndef helper():\n    time.sleep(1)\nasync def f():\n    helper()  # expect: ASF110\n",
            "Call to sync helper `example.helper()` in async function `f` reaches a blocking call: f -> example.helper -> time.sleep (example.py:3)",
            fixed="import time\nimport anyio\ndef helper():\n    time.sleep(1)\nasync def f():\n"
            "    await anyio.to_thread.run_sync(helper)  # expect: ASF110\n",
        ),
        Invalid(
            "import requests\ndef fetch(url):\n    return requests.get(url, timeout=5)\ndef load():\n"
            "    return fetch('http://x')\nasync def f():\n    return load()  # expect: ASF110\n",
            "Call to sync helper `example.load()` in async function `f` reaches a blocking call: f -> example.load -> example.fetch -> requests.get (example.py:3)",
            fixed="import requests\nimport anyio\ndef fetch(url):\n    return requests.get(url, timeout=5)\n"
            "def load():\n    return fetch('http://x')\nasync def f():\n"
            "    return await anyio.to_thread.run_sync(load)  # expect: ASF110\n",
        ),
        Invalid(
            "import time\nclass Repo:\n    def _wait(self):\n        time.sleep(1)\n    async def get(self):\n"
            "        self._wait()  # expect: ASF110\n",
            "Call to sync helper `example.Repo._wait()` in async function `Repo.get` reaches a blocking call: Repo.get -> example.Repo._wait -> time.sleep (example.py:4)",
            fixed="import time\nimport anyio\nclass Repo:\n    def _wait(self):\n        time.sleep(1)\n"
            "    async def get(self):\n        await anyio.to_thread.run_sync(self._wait)  # expect: ASF110\n",
        ),
        Invalid(
            "import sqlite3\nclass Store:\n    def __init__(self, path):\n        self.db = sqlite3.connect(path)\n"
            "async def f():\n    store = Store('x.db')  # expect: ASF110\n",
            "Call to sync helper `example.Store()` in async function `f` reaches a blocking call: f -> example.Store.__init__ -> sqlite3.connect (example.py:4)",
            fixed="import sqlite3\nimport anyio\nclass Store:\n    def __init__(self, path):\n"
            "        self.db = sqlite3.connect(path)\nasync def f():\n"
            "    store = await anyio.to_thread.run_sync(Store, 'x.db')  # expect: ASF110\n",
        ),
        Invalid(
            "import time\ndef a(n):\n    return b(n) if n else time.sleep(1)\ndef b(n):\n    return a(n - 1)\n"
            "async def f():\n    a(3)  # expect: ASF110\n",
            "Call to sync helper `example.a()` in async function `f` reaches a blocking call: f -> example.a -> time.sleep (example.py:3)",
            fixed="import time\nimport anyio\ndef a(n):\n    return b(n) if n else time.sleep(1)\ndef b(n):\n"
            "    return a(n - 1)\nasync def f():\n    await anyio.to_thread.run_sync(a, 3)  # expect: ASF110\n",
        ),
        Invalid(
            "import functools, time\n@functools.cache\ndef settings():\n    time.sleep(1)\nasync def f():\n"
            "    settings()  # expect: ASF110\n",
            "Call to sync helper `example.settings()` in async function `f` reaches a blocking call: f -> example.settings -> time.sleep (example.py:4)",
            fixed="import functools, time\nimport anyio\n@functools.cache\ndef settings():\n    time.sleep(1)\n"
            "async def f():\n    await anyio.to_thread.run_sync(settings)  # expect: ASF110\n",
        ),
        # The hand-off fix: keyword arguments are bound by `functools.partial`, which the
        # module imports already.
        Invalid(
            "from functools import partial\nimport time\ndef wait(n, *, step=1):\n    time.sleep(n * step)\n"
            "async def f():\n    return [wait(n, step=2) for n in range(3)]  # expect: ASF110\n",
            "Call to sync helper `example.wait()` in async function `f` reaches a blocking call: f -> example.wait -> time.sleep (example.py:4)",
            fixed="from functools import partial\nimport time\nimport anyio\ndef wait(n, *, step=1):\n"
            "    time.sleep(n * step)\nasync def f():\n"
            "    return [await anyio.to_thread.run_sync(partial(wait, n, step=2)) for n in range(3)]  # expect: ASF110\n",
        ),
        # A route that never suspends becomes a plain `def`, which FastAPI runs in its thread pool.
        Invalid(
            "import time\nfrom fastapi import FastAPI\napp = FastAPI()\ndef slow():\n    time.sleep(1)\n"
            "@app.get('/')\nasync def index():\n    slow()  # expect: ASF110\n    return {}\n",
            "Call to sync helper `example.slow()` in async route GET / reaches a blocking call: index -> example.slow -> time.sleep (example.py:5)",
            fixed="import time\nfrom fastapi import FastAPI\napp = FastAPI()\ndef slow():\n    time.sleep(1)\n"
            "@app.get('/')\ndef index():\n    slow()  # expect: ASF110\n    return {}\n",
        ),
        # Flagged, with no fix: `await` would make the generator expression an async one.
        Invalid(
            "import time\ndef slow(n):\n    time.sleep(n)\n    return n\n"
            "async def f():\n    return sum(slow(n) for n in range(3))  # expect: ASF110\n",
            "Call to sync helper `example.slow()` in async function `f` reaches a blocking call: f -> example.slow -> time.sleep (example.py:3)",
        ),
    )
