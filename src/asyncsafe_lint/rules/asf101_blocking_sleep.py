from asyncsafe_lint.rule import BlockingCallRule


class BlockingSleep(BlockingCallRule):
    code = "ASF101"
    name = "blocking-sleep"
    summary = "`time.sleep()` in async code stops the whole event loop"
    calls = {"time.sleep": "use `await asyncio.sleep()` (or `await anyio.sleep()`)"}
    docs = """
## What it does
Flags `time.sleep()` called directly in the body of an `async def` (a route, a
dependency, middleware, a lifespan, or any coroutine), however `time` or `sleep`
was imported or renamed.

## Why is this bad?
`time.sleep()` blocks the thread it runs on. In async code that thread is the event
loop's: while it sleeps, no other request on that worker makes progress, health
checks time out and latency climbs for everyone.

## Example
```python
import time

@app.get("/retry")
async def retry():
    time.sleep(0.5)
    return {"ok": True}
```

## Use instead
```python
import asyncio

@app.get("/retry")
async def retry():
    await asyncio.sleep(0.5)
    return {"ok": True}
```

## Fix safety
There is no automatic fix yet.
"""
    valid = (
        "import asyncio\nasync def f():\n    await asyncio.sleep(1)\n",
        "import time\ndef f():\n    time.sleep(1)\n",
        "import time\nasync def f():\n    def later():\n        time.sleep(1)\n    return later\n",
        "import time\nasync def f(loop):\n    await loop.run_in_executor(None, lambda: time.sleep(1))\n",
        "import time, asyncio\nasync def f():\n    await asyncio.to_thread(time.sleep, 1)\n",
        "from starlette.concurrency import run_in_threadpool\nimport time\n"
        "async def f():\n    await run_in_threadpool(time.sleep, 1)\n",
        "import time\nasync def f():\n    time.sleep(1)  # noqa: ASF101\n",
        "import time\nasync def f():\n    time.sleep(1)  # asyncsafe: ignore[ASF101]\n",
        "async def f(time):\n    time.sleep(1)\n",
        "import trio as time\nasync def f():\n    time.sleep(1)\n",
        "import time\ndef sleep(s):\n    pass\nasync def f():\n    sleep(1)\n",
    )
    invalid = (
        "import time\nasync def f():\n    time.sleep(1)  # expect: ASF101\n",
        "import time as t\nasync def f():\n    t.sleep(1)  # expect: ASF101\n",
        "from time import sleep as nap\nasync def f():\n    nap(1)  # expect: ASF101\n",
        "async def f():\n    time.sleep(1)  # expect: ASF101\n",
        "import time\nclass Service:\n    async def run(self):\n        time.sleep(1)  # expect: ASF101\n",
        "import time\nasync def f():\n    async def inner():\n        time.sleep(1)  # expect: ASF101\n    await inner()\n",
        "import time\nasync def f():\n    x = '# noqa'; time.sleep(1)  # expect: ASF101\n",
        "import time\nasync def f():\n    time.sleep(1)  # noqa: ASF102  # expect: ASF101\n",
        "import time\npause = time.sleep\nasync def f():\n    pause(1)  # expect: ASF101\n",
    )
