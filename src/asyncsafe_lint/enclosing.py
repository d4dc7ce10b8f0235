"""What encloses the code being walked, and so whether it runs on the event loop.

Only the body of an `async def` runs on the loop.  A nested `def` or `lambda` is a
new function that runs wherever it is eventually called - often a thread handed it
through `run_in_threadpool`, `asyncio.to_thread` or `BackgroundTasks.add_task` - so
its body is not loop code, and neither is any plain `def`.

In which role an async function runs (route, dependency, middleware...) is for
`roles` to say.
"""

from __future__ import annotations

from asyncsafe_lint.names import LOCAL
from asyncsafe_lint.syntax import Function


class Enclosing:
    """The stack of functions and classes around the node being walked."""

    def __init__(self) -> None:
        self._stack: list[Function | str] = []

    def enter_function(self, function: Function) -> None:
        self._stack.append(function)

    def enter_class(self, name: str) -> None:
        self._stack.append(name)

    def leave(self) -> None:
        self._stack.pop()

    def qualname(self, name: str) -> str:
        """The `__qualname__` a function or class named `name` defined here gets."""
        return ".".join([*self._parts(), name])

    def _parts(self) -> list[str]:
        return [f"{frame.name}.<locals>" if isinstance(frame, Function) else frame for frame in self._stack]

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
    def class_key(self) -> str | None:
        """What the class whose body directly holds the code resolves to (see `names.LOCAL`)."""
        return LOCAL + ".".join(self._parts()) if self.class_name is not None else None

    @property
    def on_loop(self) -> bool:
        function = self.function
        return function is not None and function.is_async
