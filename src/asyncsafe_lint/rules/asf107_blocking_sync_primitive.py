from __future__ import annotations

import ast

from asyncsafe_lint.handoff import FIX_SAFETY, HandOffRule
from asyncsafe_lint.rule import Call, Invalid

_LOCK = "use an `asyncio.Lock` (or `anyio.Lock`) and `async with` it"
_SEMAPHORE = "use an `asyncio.Semaphore` (or `anyio.Semaphore`) and `async with` it"
_CONDITION = "use an `asyncio.Condition` (or `anyio.Condition`)"
_QUEUE = "use an `asyncio.Queue` (or an anyio memory object stream), or the `*_nowait()` method"
_FUTURE = "use `await asyncio.wrap_future(future)` (or `await loop.run_in_executor()` from the start)"
_THREAD = "await `asyncio.to_thread()` (or `anyio.to_thread.run_sync()`) instead of joining a thread"

#: Queues that can be given a `maxsize`, so that `put()` waits while they are full
#: (a `queue.SimpleQueue` is always unbounded).
_BOUNDED_QUEUES = (
    "queue.Queue", "queue.LifoQueue", "queue.PriorityQueue", "multiprocessing.Queue", "multiprocessing.JoinableQueue",
)  # fmt: skip
#: Those that also have a `join()`, which waits for every item to be processed.
_JOINABLE_QUEUES = ("queue.Queue", "queue.LifoQueue", "queue.PriorityQueue", "multiprocessing.JoinableQueue")

#: The positional parameters (after `self`) of each call that can be told not to wait.
_PARAMETERS: dict[str, tuple[str, ...]] = {
    **{
        f"threading.{lock}.acquire": ("blocking", "timeout")
        for lock in ("Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition")
    },
    "threading.Condition.wait": ("timeout",),
    "threading.Condition.wait_for": ("predicate", "timeout"),
    "threading.Event.wait": ("timeout",),
    "threading.Barrier.wait": ("timeout",),
    "threading.Thread.join": ("timeout",),
    **{f"{queue}.get": ("block", "timeout") for queue in (*_BOUNDED_QUEUES, "queue.SimpleQueue")},
    **{f"{queue}.put": ("item", "block", "timeout") for queue in _BOUNDED_QUEUES},
    "concurrent.futures.Future.result": ("timeout",),
    "concurrent.futures.Future.exception": ("timeout",),
    "concurrent.futures.wait": ("fs", "timeout"),
    "concurrent.futures.as_completed": ("fs", "timeout"),
    "concurrent.futures.ThreadPoolExecutor.shutdown": ("wait",),
    "concurrent.futures.ProcessPoolExecutor.shutdown": ("wait",),
}
#: Given a literal `False` or `0`, these parameters make a call return at once.
_NO_WAIT = frozenset({"blocking", "block", "wait", "timeout"})


class BlockingSyncPrimitive(HandOffRule):
    code = "ASF107"
    name = "blocking-sync-primitive"
    summary = "A `threading` lock, event, queue or `concurrent.futures` wait in async code"
    calls = {
        **{f"threading.{lock}.{method}": _LOCK for lock in ("Lock", "RLock") for method in ("acquire", "__enter__")},
        **{
            f"threading.{semaphore}.{method}": _SEMAPHORE
            for semaphore in ("Semaphore", "BoundedSemaphore")
            for method in ("acquire", "__enter__")
        },
        **{f"threading.Condition.{method}": _CONDITION for method in ("acquire", "__enter__", "wait", "wait_for")},
        "threading.Event.wait": "use an `asyncio.Event` (or `anyio.Event`)",
        "threading.Barrier.wait": "use an `asyncio.Barrier` (Python 3.11+)",
        "threading.Thread.join": _THREAD,
        **{f"{queue}.get": _QUEUE for queue in (*_BOUNDED_QUEUES, "queue.SimpleQueue")},
        **{f"{queue}.put": _QUEUE for queue in _BOUNDED_QUEUES},
        **{f"{queue}.join": _QUEUE for queue in _JOINABLE_QUEUES},
        "concurrent.futures.Future.result": _FUTURE,
        "concurrent.futures.Future.exception": _FUTURE,
        "concurrent.futures.wait": "use `await asyncio.wait()` on `asyncio.wrap_future()`s",
        "concurrent.futures.as_completed": "use `asyncio.as_completed()` on `asyncio.wrap_future()`s",
        **{
            f"concurrent.futures.{executor}.{method}": "use `await loop.run_in_executor()` and keep the executor open"
            for executor in ("ThreadPoolExecutor", "ProcessPoolExecutor")
            # Leaving the `with` block shuts the executor down, waiting for its work.
            for method in ("shutdown", "__enter__")
        },
    }
    docs = (
        """
## What it does
Flags, directly in the body of an `async def`, a wait on a thread-world primitive:
`acquire()` on a `threading` `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore` or
`Condition`, and `with` on one of them; `Event.wait()`, `Condition.wait()` and
`wait_for()`, `Barrier.wait()` and `Thread.join()`; `get()`, `put()` and `join()` on a
`queue` or `multiprocessing` queue; `result()` and `exception()` of a
`concurrent.futures.Future` (such as the one `executor.submit()` returns),
`concurrent.futures.wait()` and `as_completed()`; and shutting an executor down,
including by leaving its `with` block.

The forms that cannot wait are not flagged: `acquire(False)`, `acquire(blocking=False)`,
`get(False)`, `get(block=False)`, `put(item, block=False)`, `get_nowait()`,
`put_nowait()`, any `timeout=0`, `shutdown(wait=False)`, `SimpleQueue.put()` (which is
unbounded); nor are the asyncio and anyio primitives of the same names.  A call with
`*args` or `**kwargs` is given the benefit of the doubt.

No ruff or flake8-async rule covers these: their blocking-call rules (ASYNC210 to
ASYNC251) are about HTTP clients, processes, files, `input()` and `time.sleep()`.

## Why is this bad?
A thread-world primitive waits by parking the calling thread, which in a coroutine is
the event loop itself.  While it waits, no other task runs, and when the lock holder,
the producer or the future's worker is itself waiting for the loop (a callback, a
`run_coroutine_threadsafe()`, a task on the same loop), it never comes: the worker
deadlocks instead of merely slowing down.

## Example
```python
import threading

cache_lock = threading.Lock()

@app.post("/refresh")
async def refresh():
    with cache_lock:
        await reload_cache()
```

## Use instead
```python
import asyncio

cache_lock = asyncio.Lock()

@app.post("/refresh")
async def refresh():
    async with cache_lock:
        await reload_cache()
```
To wait for a `concurrent.futures.Future`: `await asyncio.wrap_future(future)`.

## Fix safety
"""
        + FIX_SAFETY
        + """
Taking a lock (`acquire()`, `with lock:`) and waiting on a `Condition` are not handed
off: a lock belongs to the thread that takes it, and an `RLock` taken in a worker
thread cannot be released on the loop's.
"""
    )
    valid = (
        "import asyncio\nlock = asyncio.Lock()\nasync def f():\n    async with lock:\n        pass\n",
        "import asyncio\nasync def f(q: asyncio.Queue, e: asyncio.Event, fut: asyncio.Future):\n"
        "    await q.get()\n    await e.wait()\n    fut.result()\n",
        "import threading\nlock = threading.Lock()\ndef f():\n    with lock:\n        pass\n",
        "import threading\nlock = threading.Lock()\nasync def f():\n"
        "    if lock.acquire(blocking=False):\n        lock.release()\n    lock.acquire(False)\n",
        "import queue\nq = queue.Queue()\nasync def f():\n"
        "    q.get(False)\n    q.get(block=False)\n    q.get(timeout=0)\n    q.put(1, False)\n"
        "    q.get_nowait()\n    q.put_nowait(1)\n",
        "import queue\nasync def f(q: queue.SimpleQueue):\n    q.put(1)\n",
        "import threading\nasync def f(event: threading.Event, thread: threading.Thread):\n"
        "    event.wait(0)\n    thread.join(timeout=0)\n",
        "from concurrent.futures import ThreadPoolExecutor\nasync def f():\n"
        "    pool = ThreadPoolExecutor()\n    pool.shutdown(wait=False)\n",
        "import asyncio\nfrom concurrent.futures import ThreadPoolExecutor\npool = ThreadPoolExecutor()\n"
        "async def f():\n    await asyncio.wrap_future(pool.submit(print))\n",
        "import threading\nlock = threading.Lock()\nasync def f(*args):\n    lock.acquire(*args)\n",
        "import threading\nasync def f(event: threading.Event):\n    event.wait()  # asyncsafe: ignore[ASF107]\n",
    )
    invalid = (
        Invalid(
            "import threading\nlock = threading.Lock()\nasync def f():\n"
            "    with lock:  # expect: ASF107\n        pass\n",
            "Blocking call `threading.Lock.__enter__()` in async function `f`: use an `asyncio.Lock` (or `anyio.Lock`) and `async with` it",
        ),
        Invalid(
            "import threading\nclass Cache:\n    def __init__(self):\n        self.lock = threading.RLock()\n"
            "    async def get(self):\n        self.lock.acquire(timeout=5)  # expect: ASF107\n",
            "Blocking call `threading.RLock.acquire()` in async function `Cache.get`: use an `asyncio.Lock` (or `anyio.Lock`) and `async with` it",
        ),
        Invalid(
            "from threading import Condition\ncond = Condition()\nasync def f():\n"
            "    with cond:  # expect: ASF107\n        cond.wait_for(lambda: True)  # expect: ASF107\n",
            "Blocking call `threading.Condition.__enter__()` in async function `f`: use an `asyncio.Condition` (or `anyio.Condition`)",
            "Blocking call `threading.Condition.wait_for()` in async function `f`: use an `asyncio.Condition` (or `anyio.Condition`)",
        ),
        Invalid(
            "import threading\nasync def f(event: threading.Event):\n    event.wait(5)  # expect: ASF107\n",
            "Blocking call `threading.Event.wait()` in async function `f`: use an `asyncio.Event` (or `anyio.Event`)",
            fixed="import threading\nimport anyio\nasync def f(event: threading.Event):\n"
            "    await anyio.to_thread.run_sync(event.wait, 5)  # expect: ASF107\n",
        ),
        Invalid(
            "import threading\nasync def f():\n    t = threading.Thread(target=print)\n    t.start()\n"
            "    t.join()  # expect: ASF107\n",
            "Blocking call `threading.Thread.join()` in async function `f`: await `asyncio.to_thread()` (or `anyio.to_thread.run_sync()`) instead of joining a thread",
            fixed="import threading\nimport anyio\nasync def f():\n    t = threading.Thread(target=print)\n"
            "    t.start()\n    await anyio.to_thread.run_sync(t.join)  # expect: ASF107\n",
        ),
        Invalid(
            "import queue\nq = queue.Queue()\nasync def f():\n    q.get()  # expect: ASF107\n"
            "    q.put(1, True, 5)  # expect: ASF107\n    q.join()  # expect: ASF107\n",
            "Blocking call `queue.Queue.get()` in async function `f`: use an `asyncio.Queue` (or an anyio memory object stream), or the `*_nowait()` method",
            "Blocking call `queue.Queue.put()` in async function `f`: use an `asyncio.Queue` (or an anyio memory object stream), or the `*_nowait()` method",
            "Blocking call `queue.Queue.join()` in async function `f`: use an `asyncio.Queue` (or an anyio memory object stream), or the `*_nowait()` method",
            fixed="import queue\nimport anyio\nq = queue.Queue()\nasync def f():\n"
            "    await anyio.to_thread.run_sync(q.get)  # expect: ASF107\n"
            "    await anyio.to_thread.run_sync(q.put, 1, True, 5)  # expect: ASF107\n"
            "    await anyio.to_thread.run_sync(q.join)  # expect: ASF107\n",
        ),
        Invalid(
            "from concurrent.futures import ThreadPoolExecutor\npool = ThreadPoolExecutor()\n"
            "async def f():\n    future = pool.submit(print)\n    return future.result()  # expect: ASF107\n",
            "Blocking call `concurrent.futures.Future.result()` in async function `f`: use `await asyncio.wrap_future(future)` (or `await loop.run_in_executor()` from the start)",
            fixed="from concurrent.futures import ThreadPoolExecutor\nimport anyio\npool = ThreadPoolExecutor()\n"
            "async def f():\n    future = pool.submit(print)\n"
            "    return await anyio.to_thread.run_sync(future.result)  # expect: ASF107\n",
        ),
        Invalid(
            "import concurrent.futures\nasync def f(futures):\n"
            "    concurrent.futures.wait(futures, timeout=5)  # expect: ASF107\n",
            "Blocking call `concurrent.futures.wait()` in async function `f`: use `await asyncio.wait()` on `asyncio.wrap_future()`s",
            fixed="import concurrent.futures\nimport anyio\nimport functools\nasync def f(futures):\n"
            "    await anyio.to_thread.run_sync(functools.partial(concurrent.futures.wait, futures, timeout=5))  # expect: ASF107\n",
        ),
        Invalid(
            "from concurrent.futures import ThreadPoolExecutor\nasync def f():\n"
            "    with ThreadPoolExecutor() as pool:  # expect: ASF107\n        pool.submit(print)\n",
            "Blocking call `concurrent.futures.ThreadPoolExecutor.__enter__()` in async function `f`: use `await loop.run_in_executor()` and keep the executor open",
        ),
        Invalid(
            "import threading\nasync def f(event: threading.Event):\n"
            "    event.wait()  # noqa: ASF106  # expect: ASF107\n",
            "Blocking call `threading.Event.wait()` in async function `f`: use an `asyncio.Event` (or `anyio.Event`)",
            fixed="import threading\nimport anyio\nasync def f(event: threading.Event):\n"
            "    await anyio.to_thread.run_sync(event.wait)  # noqa: ASF106  # expect: ASF107\n",
        ),
    )

    def instead(self, call: Call) -> str | None:
        if call.has_splat() or self._returns_at_once(call):
            return None
        return super().instead(call)

    def may_hand_off(self, call: Call) -> bool:
        # A lock belongs to the thread that takes it: an `RLock` taken in a worker thread
        # cannot be released on the loop's, nor a `Condition` waited on there.
        assert call.name is not None
        return not (call.name.endswith(".acquire") or call.name.startswith("threading.Condition."))

    def _returns_at_once(self, call: Call) -> bool:
        assert call.name is not None
        for position, parameter in enumerate(_PARAMETERS.get(call.name, ())):
            arg = call.argument(parameter, position)
            if parameter in _NO_WAIT and arg is not None and _is_false_or_zero(arg):
                return True
        return False


def _is_false_or_zero(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (bool, int, float) and node.value == 0
