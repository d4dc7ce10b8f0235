"""The syntax the analysis speaks of beyond `ast`'s own: a function being walked, and the
argument a call passes for a parameter."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from asyncsafe_lint.names import LOCAL

#: A `def` or `async def` statement.
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, slots=True)
class Function:
    """A function (or lambda) whose body is being walked."""

    name: str
    is_async: bool
    node: FunctionNode | ast.Lambda
    class_name: str | None = None
    #: Its dotted path in the module, as Python spells `__qualname__` (`Repo.load`,
    #: `outer.<locals>.inner`).
    qualname: str = ""
    #: The function it is defined in (through classes), if any: its names are seen here too.
    outer: Function | None = field(default=None, compare=False)

    @property
    def display_name(self) -> str:
        return f"{self.class_name}.{self.name}" if self.class_name else self.name

    @property
    def key(self) -> str:
        """The qualified name calls to it resolve to (see `names.LOCAL`)."""
        return LOCAL + self.qualname

    @property
    def class_key(self) -> str | None:
        """For a method: what its class resolves to (a nested class's too)."""
        return LOCAL + self.qualname.rpartition(".")[0] if self.class_name is not None else None


def argument(call: ast.Call, keyword: str, position: int | None) -> ast.expr | None:
    """The value passed as `keyword=` or, when `position` is given, in that position
    (not counting `*args`)."""
    for passed in call.keywords:
        if passed.arg == keyword:
            return passed.value
    if position is not None:
        positional = [value for value in call.args if not isinstance(value, ast.Starred)]
        if position < len(positional):
            return positional[position]
    return None
