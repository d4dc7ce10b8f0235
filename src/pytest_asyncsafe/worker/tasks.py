"""The asyncio tasks of a worker, described for the pytest process: which are left over
when the lifespan shutdown completes, and where each task is waiting.

Where a task was *created* comes from the coroutine's `cr_origin`, which Python records
only while `sys.set_coroutine_origin_tracking_depth` is on: the worker turns it on for
its startup (where long-lived tasks are usually started) and, on a server dedicated to a
drain check, for good.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

from pytest_asyncsafe.worker.uvicorn_internals import is_servers

#: Frames kept in `cr_origin`: enough to climb out of asyncio's and anyio's helpers.
ORIGIN_DEPTH = 8
#: Code that starts and runs tasks on someone else's behalf: never the place to show.
_MACHINERY = ("/asyncio/", "/anyio/", "/starlette/")

Place = tuple[str, int, str]


def track_origins(on: bool) -> None:
    sys.set_coroutine_origin_tracking_depth(ORIGIN_DEPTH if on else 0)


def leftover_tasks() -> list[dict[str, Any]]:
    """The app's tasks still running (not done, not being cancelled), other than the
    current one."""
    current = asyncio.current_task()
    return [
        describe(task)
        for task in asyncio.all_tasks()
        if task is not current and not task.done() and not task.cancelling() and not _servers(task)
    ]


def every_task(loop: asyncio.AbstractEventLoop, limit: int = 50) -> list[dict[str, Any]]:
    return [describe(task) for task in list(asyncio.all_tasks(loop))[:limit]]


def describe(task: asyncio.Task[Any]) -> dict[str, Any]:
    coro = task.get_coro()
    return {
        "task": task.get_name(),
        "coroutine": getattr(coro, "__qualname__", type(coro).__name__),
        "created": _origin(coro),
        "awaiting": [_place(frame) for frame in _await_chain(coro)],
    }


def _servers(task: asyncio.Task[Any]) -> bool:
    """The server's own tasks (its main task, its lifespan) are not the app's to stop."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and is_servers(code.co_filename)


def _origin(coro: object) -> Place | None:
    """The first place outside the task machinery where the coroutine was created."""
    for file, line, function in getattr(coro, "cr_origin", None) or ():
        if not any(part in file for part in _MACHINERY):
            return (file, line, function)
    return None


def _await_chain(coro: object) -> Iterator[FrameType]:
    """The frames of a suspended coroutine and of everything it awaits, outermost first."""
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            yield frame
        coro = _awaited(coro)


def _awaited(coro: object) -> object:
    awaited = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None) or getattr(coro, "ag_await", None)
    if type(awaited).__name__ in ("async_generator_asend", "async_generator_athrow"):
        # `await agen.asend()` (as in `async with` of an `@asynccontextmanager`) awaits a
        # helper object that does not name its generator; only the collector sees it.
        return next((ref for ref in gc.get_referents(awaited) if inspect.isasyncgen(ref)), None)
    return awaited


def _place(frame: FrameType) -> Place:
    return (frame.f_code.co_filename, frame.f_lineno or 0, frame.f_code.co_name)
