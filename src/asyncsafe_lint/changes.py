"""Changes as fixes build them, from the `ast` nodes a rule found: what becomes of each
node (see `diagnostics.Action`), for the fix engine (`codemod`) to carry out with libcst.

Nothing here imports libcst, so that a run that fixes nothing never loads it.
"""

from __future__ import annotations

from asyncsafe_lint.diagnostics import Action, Applicability, Change, Fix, Span
from asyncsafe_lint.source import Located, Source


def fix(message: str, changes: list[Change], applicability: Applicability) -> Fix:
    return Fix(message, tuple(changes), applicability)


def _span(source: Source, node: Located) -> Span:
    return Span(source.start(node), source.end(node))


def add_import(statement: str) -> Change:
    return Change(Action.ADD_IMPORT, None, statement)


def replace_expression(source: Source, node: Located, code: str) -> Change:
    return Change(Action.REPLACE_EXPRESSION, _span(source, node), code)


def await_instead(source: Source, call: Located, callee: str) -> Change:
    return Change(Action.AWAIT_INSTEAD, _span(source, call), callee)


def hand_off(source: Source, call: Located, runner: str, partial: str | None) -> Change:
    return Change(Action.HAND_OFF, _span(source, call), runner, partial or "")


def add_argument(source: Source, call: Located, code: str) -> Change:
    return Change(Action.ADD_ARGUMENT, _span(source, call), code)


def remove_argument(source: Source, call: Located, keyword: str) -> Change:
    return Change(Action.REMOVE_ARGUMENT, _span(source, call), detail=keyword)


def replace_argument(source: Source, call: Located, keyword: str, code: str) -> Change:
    return Change(Action.REPLACE_ARGUMENT, _span(source, call), code, keyword)


def remove_statement(source: Source, statement: Located) -> Change:
    return Change(Action.REMOVE_STATEMENT, _span(source, statement))


def remove_decorator(source: Source, decorator: Located) -> Change:
    return Change(Action.REMOVE_DECORATOR, _span(source, decorator))


def insert_before(source: Source, statement: Located, code: str) -> Change:
    return Change(Action.INSERT_BEFORE, _span(source, statement), code)


def make_sync(source: Source, function: Located) -> Change:
    return Change(Action.MAKE_SYNC, _span(source, function))


def timeout_fix(source: Source, call: Located, given: Located | None, default: float, keyword: str = "timeout") -> Fix:
    """The fix for a call with no timeout, or `None` for one (`given`): `default` seconds
    (the `default-timeout` setting) passed as `keyword`, or put where the `None` is."""
    seconds = seconds_of(default)
    if given is not None:
        return fix(f"Set `{keyword}={seconds}`", [replace_expression(source, given, seconds)], Applicability.UNSAFE)
    return fix(f"Add `{keyword}={seconds}`", [add_argument(source, call, f"{keyword}={seconds}")], Applicability.UNSAFE)


def seconds_of(value: float) -> str:
    """A number of seconds as code: `10`, `2.5`."""
    return str(int(value)) if value.is_integer() else repr(value)
