"""Newer syntax, read by an older Python: the same file in the syntax the running `ast`
accepts, every line and column where it was.

A file that CPython rejects may be valid in a newer release (`except A, B:` is Python
3.14; `type X = ...`, `class C[T]:` and f-strings that reuse their quotes are 3.12).
libcst's parser reads every version whatever Python runs it; from its tree each newer
construct is rewritten in place, into text of the same lines and columns that means
the same to the analysis:

- `except A, B:` -> `except A   :` (what is caught does not matter to it);
- `type X = int` -> `pass` and blanks (an alias runs nothing);
- `def f[T](x)` -> `def f   (x)` (type parameters run nothing);
- an f-string or t-string, alone or in a concatenation, -> a tuple of its replacement
  fields, each where it was: `f"{d["k"]}: {g(x)}"` -> `(  d["k"],   g(x),)`, so that a
  blocking call in one is still found on its line.

Only a file that CPython rejects comes here, so libcst is loaded for it alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from asyncsafe_lint.source import lines_with_ends

#: A Python release, as `sys.version_info[:2]`.
Version = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Construct:
    """The newest construct the file uses: what it is, which Python brought it, where."""

    what: str
    version: Version
    row: int
    column: int


@dataclass(frozen=True, slots=True)
class Downlevelled:
    #: The file, rewritten: what the running Python parses, with the same positions.
    text: str
    #: Its newest construct; None when nothing in it is newer than 3.11.
    newest: Construct | None


def downlevel(text: str) -> Downlevelled | None:
    """`text` in older syntax, or None when libcst cannot read it either (then no
    Python can: a real syntax error)."""
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return None
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    rewriter = _Rewriter(text, wrapper.resolve(PositionProvider))
    wrapper.visit(rewriter)
    return Downlevelled(rewriter.text(), rewriter.newest)


class _Rewriter(cst.CSTVisitor):
    def __init__(self, text: str, positions: object) -> None:
        self._positions = positions
        self._lines = [_split(line) for line in lines_with_ends(text)]
        self._original = [list(body) for body, _ in self._lines]
        self._grid = [list(body) for body, _ in self._lines]
        self.newest: Construct | None = None
        #: Strings rewritten with the concatenation they are part of.
        self._done: set[int] = set()

    def text(self) -> str:
        return "".join("".join(grid) + end for grid, (_, end) in zip(self._grid, self._lines, strict=True))

    # --- Python 3.14 ------------------------------------------------------------------------
    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self._except(node.type, node)

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        self._except(node.type, node)

    def _except(self, caught: cst.BaseExpression | None, node: cst.CSTNode) -> None:
        if isinstance(caught, cst.Tuple) and not caught.lpar and caught.elements:
            first, last = self._range(caught.elements[0].value), self._range(caught)
            self._note("`except A, B:` without parentheses", (3, 14), node)
            self._blank(first.end.line, first.end.column, last.end.line, last.end.column)

    def visit_TemplatedString(self, node: cst.TemplatedString) -> None:
        self._note('a template string (`t"..."`)', (3, 14), node)
        if id(node) not in self._done:
            self._as_tuple(node, [node])

    # --- Python 3.12 --------------------------------------------------------------------
    def visit_TypeAlias(self, node: cst.TypeAlias) -> None:
        where = self._range(node)
        self._note("a `type` statement", (3, 12), node)
        self._blank(where.start.line, where.start.column, where.end.line, where.end.column)
        self._put(where.start.line, where.start.column, "pass")

    def visit_TypeParameters(self, node: cst.TypeParameters) -> None:
        where = self._range(node)
        defaults = any(param.default is not None for param in node.params)
        self._note("type parameters (`[T]`)", (3, 13) if defaults else (3, 12), node)
        if where.start.line == where.end.line:
            self._blank(where.start.line, where.start.column, where.end.line, where.end.column)

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> None:
        parts = _parts(node)
        if id(node) not in self._done and any(isinstance(p, (cst.FormattedString, cst.TemplatedString)) for p in parts):
            self._done.update(id(part) for part in _nested(node))
            self._as_tuple(node, parts)

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        quote = node.end
        for part in node.parts:
            if isinstance(part, cst.FormattedStringExpression):
                written = cst.Module([]).code_for_node(part.expression)
                if quote in written or "\\" in written or "#" in written:
                    self._note("an f-string that reuses its quotes or holds a backslash or a comment", (3, 12), node)
        if id(node) not in self._done:
            self._as_tuple(node, [node])

    def _as_tuple(self, node: cst.CSTNode, strings: list[cst.BaseString]) -> None:
        """`node`, strings with replacement fields, as a tuple of the fields' expressions,
        each where it was."""
        where = self._range(node)
        self._blank(where.start.line, where.start.column, where.end.line, where.end.column)
        self._put(where.start.line, where.start.column, "(")
        self._put(where.end.line, where.end.column - 1, ")")
        for string in strings:
            for part in getattr(string, "parts", ()):
                if isinstance(part, (cst.FormattedStringExpression, cst.TemplatedStringExpression)):
                    expression, field = self._range(part.expression), self._range(part)
                    self._restore(expression)
                    self._put(field.end.line, field.end.column - 1, ",")

    # --- the grid ----------------------------------------------------------------------------
    def _range(self, node: cst.CSTNode) -> CodeRange:
        return self._positions[node]  # type: ignore[index,no-any-return]

    def _note(self, what: str, version: Version, node: cst.CSTNode) -> None:
        if self.newest is None or version > self.newest.version:
            start = self._range(node).start
            self.newest = Construct(what, version, start.line, start.column + 1)

    def _blank(self, first_line: int, first_column: int, last_line: int, last_column: int) -> None:
        """Blanks from (`first_line`, `first_column`) up to (`last_line`, `last_column`),
        line breaks kept (1-based lines, 0-based columns, the end excluded)."""
        for line in range(first_line, last_line + 1):
            row = self._grid[line - 1]
            start = first_column if line == first_line else 0
            end = last_column if line == last_line else len(row)
            row[start:end] = [" "] * (end - start)

    def _put(self, line: int, column: int, text: str) -> None:
        self._grid[line - 1][column : column + len(text)] = list(text)

    def _restore(self, where: CodeRange) -> None:
        for line in range(where.start.line, where.end.line + 1):
            start = where.start.column if line == where.start.line else 0
            end = where.end.column if line == where.end.line else len(self._grid[line - 1])
            self._grid[line - 1][start:end] = self._original[line - 1][start:end]


def _nested(node: cst.ConcatenatedString) -> list[cst.BaseString]:
    """The strings of a concatenation and the concatenations within it."""
    inner = [side for side in (node.left, node.right) if isinstance(side, cst.ConcatenatedString)]
    return [*_parts(node), *inner, *(n for side in inner for n in _nested(side))]


def _parts(node: cst.ConcatenatedString) -> list[cst.BaseString]:
    """The strings of a concatenation, left to right."""
    parts: list[cst.BaseString] = []
    for side in (node.left, node.right):
        parts.extend(_parts(side) if isinstance(side, cst.ConcatenatedString) else [side])
    return parts


def _split(line: str) -> tuple[str, str]:
    """A line and its line break."""
    body = line.rstrip("\r\n")
    return body, line[len(body) :]
