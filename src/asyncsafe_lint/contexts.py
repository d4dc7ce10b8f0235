"""Where a piece of code runs: on the event loop, or somewhere else.

Only the body of an `async def` runs on the loop.  A nested `def` or `lambda` is a
new function that runs wherever it is eventually called - often a thread handed it
through `run_in_threadpool`, `asyncio.to_thread` or `BackgroundTasks.add_task` - so
its body is not loop code, and neither is any plain `def`.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst


@dataclass(frozen=True, slots=True)
class Function:
    """A function (or lambda) whose body is being walked."""

    name: str
    is_async: bool
    node: cst.FunctionDef | cst.Lambda
    class_name: str | None = None

    @property
    def display_name(self) -> str:
        return f"{self.class_name}.{self.name}" if self.class_name else self.name


class Contexts:
    """The stack of functions and classes around the node being walked."""

    def __init__(self) -> None:
        self._stack: list[Function | str] = []

    def enter_function(self, function: Function) -> None:
        self._stack.append(function)

    def enter_class(self, name: str) -> None:
        self._stack.append(name)

    def leave(self) -> None:
        self._stack.pop()

    @property
    def function(self) -> Function | None:
        """The innermost enclosing function; class bodies are transparent."""
        for frame in reversed(self._stack):
            if isinstance(frame, Function):
                return frame
        return None

    @property
    def class_name(self) -> str | None:
        """The class whose body directly holds the code being walked."""
        return self._stack[-1] if self._stack and isinstance(self._stack[-1], str) else None

    @property
    def on_loop(self) -> bool:
        function = self.function
        return function is not None and function.is_async
