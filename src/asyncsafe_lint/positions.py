"""Positions of calls, found cheaply.

libcst's `PositionProvider` regenerates the whole file's code to count lines and
columns: about twice the cost of parsing it.  CPython's `ast` knows every call's
position for a tenth of that.  The walk meets calls in source order (a call before
the calls inside it), which is the order of CPython's calls sorted by start (and, at
the same start, the outer one first); the `n`th call of one is the `n`th of the other.
When the two disagree (different call counts or names) libcst's own positions are used.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from asyncsafe_lint.deferred import cst
from asyncsafe_lint.diagnostics import Location

Span = tuple[Location, Location]

#: The line breaks Python and libcst count rows by.
NEWLINE = re.compile(r"\r\n|\r|\n")


def physical_lines(text: str) -> list[str]:
    """The lines of a file as Python (and libcst's positions) count them: `str.splitlines`
    also splits at form feeds, `\\x1c`-`\\x1e`, `\\x85` and `\\u2028`, which would shift
    every row after them."""
    return NEWLINE.split(text)


class Visited:
    """The calls and `with` items of one file in the order the walk met them."""

    def __init__(self) -> None:
        self.calls: list[cst.Call] = []
        self.with_items: list[cst.WithItem] = []

    def spans(
        self, wanted: Sequence[cst.Call | cst.WithItem], module: cst.Module, source: bytes, lines: list[str]
    ) -> dict[int, Span]:
        """`id(node)` -> where it starts and ends, for each of `wanted`."""
        matched = self._from_ast(source, lines)
        if matched is None:
            from libcst.metadata import MetadataWrapper, PositionProvider  # see `deferred`

            positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
            return {id(node): _libcst_span(positions[node]) for node in wanted}
        return {id(node): matched[id(node)] for node in wanted}

    def _from_ast(self, source: bytes, lines: list[str]) -> dict[int, Span] | None:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None  # syntax newer than this Python: libcst knows it, CPython does not
        calls: list[ast.Call] = []
        withs: list[ast.With | ast.AsyncWith] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                calls.append(node)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                withs.append(node)
        calls.sort(key=_outer_first)
        withs.sort(key=_outer_first)
        items = [item.context_expr for node in withs for item in node.items]
        if len(calls) != len(self.calls) or len(items) != len(self.with_items):
            return None
        spans: dict[int, Span] = {}
        for ours, theirs in zip(self.calls, calls, strict=True):
            if _last_name(ours.func) != _ast_last_name(theirs.func):
                return None
            spans[id(ours)] = _ast_span(theirs, lines)
        for item, expression in zip(self.with_items, items, strict=True):
            spans[id(item)] = _ast_span(expression, lines)
        return spans


def _outer_first(node: ast.expr | ast.stmt) -> tuple[int, int, int, int]:
    return (node.lineno, node.col_offset, -(node.end_lineno or 0), -(node.end_col_offset or 0))


def _ast_span(node: ast.expr, lines: list[str]) -> Span:
    end_row = node.end_lineno or node.lineno
    return (
        Location(node.lineno, _column(lines, node.lineno, node.col_offset)),
        Location(end_row, _column(lines, end_row, node.end_col_offset or node.col_offset)),
    )


def _column(lines: list[str], row: int, byte_offset: int) -> int:
    """CPython counts UTF-8 bytes; columns count characters, 1-based."""
    line = lines[row - 1] if row <= len(lines) else ""
    if line.isascii():
        return byte_offset + 1
    return len(line.encode()[:byte_offset].decode(errors="replace")) + 1


def _libcst_span(span: object) -> Span:
    start, end = span.start, span.end  # type: ignore[attr-defined]
    return Location(start.line, start.column + 1), Location(end.line, end.column + 1)


def _last_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def _ast_last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None
