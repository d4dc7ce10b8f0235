"""One file's text as the linter reads it: its physical lines and where a syntax node
is in them.

CPython's `ast` gives every node its start and end as a row and a column counted in
UTF-8 bytes; findings and fixes count columns in characters, as ruff does.
"""

from __future__ import annotations

import ast
import re
import tokenize
import warnings

from asyncsafe_lint.diagnostics import Location

#: The line breaks Python counts rows by.
NEWLINE = re.compile(r"\r\n|\r|\n")
#: A physical line, with its line break if it has one.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")

#: What findings and fixes point at; a `with` item's place is that of its expression (and target).
Located = ast.expr | ast.stmt | ast.keyword | ast.withitem


def parse(code: bytes | str, filename: str = "<unknown>") -> ast.Module:
    """CPython's syntax tree of a module's `code`; any way it fails to parse is a `SyntaxError`."""
    tree = _compile(code, filename, "exec")
    assert isinstance(tree, ast.Module)
    return tree


def parse_expression(code: str) -> ast.expr:
    """The syntax tree of one expression (a string annotation's); a `SyntaxError` as `parse`."""
    tree = _compile(code, "<annotation>", "eval")
    assert isinstance(tree, ast.Expression)
    return tree.body


def _compile(code: bytes | str, filename: str, mode: str) -> ast.AST:
    with warnings.catch_warnings():
        # A SyntaxWarning (`"\d"`) is the interpreter's to give, when the code runs.
        warnings.simplefilter("ignore")
        try:
            return compile(code, filename, mode, flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        except (ValueError, RecursionError, MemoryError) as error:
            raise SyntaxError(str(error) or type(error).__name__) from error


def encoding_of(source: bytes) -> str:
    """The encoding of a file's bytes as CPython reads them (PEP 263: a UTF-8 BOM or a
    coding declaration on one of the first two lines, else UTF-8); a `SyntaxError` for
    one it cannot use.  Its lines end at `\r` too: read through a `BytesIO`,
    `tokenize.detect_encoding` ends them at `\n` only, and takes a file with `\r` line
    breaks for a single line, in which a declared encoding's bytes are no UTF-8."""
    lines = iter(source.splitlines(keepends=True))
    return tokenize.detect_encoding(lambda: next(lines, b""))[0]


def first_row(statement: ast.stmt) -> int:
    """Where a statement starts, decorators included."""
    decorators: list[ast.expr] = getattr(statement, "decorator_list", [])
    return min([statement.lineno, *(decorator.lineno for decorator in decorators)])


def physical_lines(text: str) -> list[str]:
    """The lines of a file as Python counts them: `str.splitlines` also splits at form
    feeds, `\\x1c`-`\\x1e`, `\\x85` and `\\u2028`, which would shift every row after them."""
    return NEWLINE.split(text)


def lines_with_ends(text: str) -> list[str]:
    """The physical lines of `text`, each with its line break if it has one."""
    return _LINE.findall(text)


class Source:
    """The lines of one file, and the places of its syntax nodes in them."""

    def __init__(self, text: str) -> None:
        self.lines = physical_lines(text)

    def start(self, node: Located) -> Location:
        if isinstance(node, ast.withitem):
            node = node.context_expr
        return Location(node.lineno, self._column(node.lineno, node.col_offset))

    def end(self, node: Located) -> Location:
        if isinstance(node, ast.withitem):
            node = node.optional_vars or node.context_expr
        row = node.end_lineno or node.lineno
        return Location(
            row, self._column(row, node.end_col_offset if node.end_col_offset is not None else node.col_offset)
        )

    def _column(self, row: int, byte_offset: int) -> int:
        line = self.lines[row - 1] if row <= len(self.lines) else ""
        if line.isascii():
            return byte_offset + 1
        return len(line.encode()[:byte_offset].decode(errors="replace")) + 1

    def line(self, row: int) -> str:
        return self.lines[row - 1] if row <= len(self.lines) else ""
