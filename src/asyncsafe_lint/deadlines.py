"""Whether an awaited call runs under a deadline the linter can see.

Some awaitables have no timeout of their own (`asyncio.open_connection()`, an asyncio
child process's `wait()`): the only bound on them is a deadline around the `await`.
A rule built on `DeadlineRule` flags such a call when it is awaited right where it is
made, in an `async def`, and no `async with asyncio.timeout(...)` (or one of the other
scopes below, given a limit that is not `None`) encloses that `await` in the same
function.  A call that is not awaited on the spot - handed to `asyncio.wait_for()`,
`asyncio.shield()`, `gather()` or a task, or returned to the caller - is left alone:
what bounds it is not in sight.
"""

from __future__ import annotations

import ast
from typing import ClassVar

from asyncsafe_lint.rule import Call, Rule, RuleContext, is_none

#: Scopes that cancel what they enclose once their limit passes -> (name of the limit,
#: its position, or None when it is keyword-only).
SCOPES: dict[str, tuple[str, int | None]] = {
    "asyncio.timeout": ("delay", 0),
    "asyncio.timeouts.timeout": ("delay", 0),
    "asyncio.timeout_at": ("when", 0),
    "asyncio.timeouts.timeout_at": ("when", 0),
    "asyncio.Timeout": ("when", 0),
    "asyncio.timeouts.Timeout": ("when", 0),
    "async_timeout.timeout": ("delay", 0),
    "async_timeout.timeout_at": ("deadline", 0),
    "anyio.fail_after": ("delay", 0),
    "anyio.move_on_after": ("delay", 0),
    "anyio.CancelScope": ("deadline", None),
}


def earlier_statements(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> list[ast.stmt]:
    """The statements before the one that holds `node`, in the same block."""
    statement: ast.AST | None = node
    while statement is not None and not isinstance(statement, ast.stmt):
        statement = parents.get(statement)
    holder = parents.get(statement) if statement is not None else None
    if statement is None or holder is None:
        return []
    for _, value in ast.iter_fields(holder):
        if isinstance(value, list) and statement in value:
            return value[: value.index(statement)]
    return []


class DeadlineRule(Rule):
    """A rule for awaitables that can wait forever unless a deadline encloses them."""

    #: Qualified names of the calls that need a deadline.
    waits: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._scopes: set[ast.Call] = set()
        self._waiting: list[Call] = []

    def visit_call(self, call: Call) -> None:
        if not isinstance(call.node, ast.Call) or call.name is None:
            return
        if call.name in SCOPES:
            parameter, position = SCOPES[call.name]
            limit = call.argument(parameter, position)
            # A limit the linter cannot see (a variable, a splat) counts as one.
            if (limit is not None and not is_none(limit)) or (limit is None and call.has_splat()):
                self._scopes.add(call.node)
        elif call.name in self.waits and call.function is not None and call.function.is_async:
            self._waiting.append(call)

    def leave_module(self) -> None:
        parents: dict[ast.AST, dict[ast.AST, ast.AST]] = {}
        for call in self._waiting:
            assert call.function is not None and isinstance(call.node, ast.Call)
            function = call.function.node
            if function not in parents:
                # Built only for the functions that hold such a call, once each.
                parents[function] = {child: node for node in ast.walk(function) for child in ast.iter_child_nodes(node)}
            if not self._has_deadline(call.node, function, parents[function]) and not self.returns_promptly(
                call.node, parents[function]
            ):
                self.report(call.node, call=call.name)

    def returns_promptly(self, node: ast.Call, parents: dict[ast.AST, ast.AST]) -> bool:
        """True when what came before makes this particular wait short; `parents` maps
        each node of the function to the node that holds it."""
        return False

    def _has_deadline(self, node: ast.Call, function: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
        """True unless `node` is awaited on the spot with no deadline scope around the `await`."""
        awaited = parents.get(node)
        if not isinstance(awaited, ast.Await):
            return True
        ancestor = parents.get(awaited)
        while ancestor is not None and ancestor is not function:
            if isinstance(ancestor, (ast.With, ast.AsyncWith)) and any(
                item.context_expr in self._scopes for item in ancestor.items
            ):
                return True
            ancestor = parents.get(ancestor)
        return False
