"""Edits as fixes build them: placed by syntax nodes, laid out like the code around them.

`ast` keeps no whitespace and no comments, so what an edit must respect (an argument
list written one per line, a comment after a registration) is read from the file's
lines through `Source`.  The `..._lines` edits address whole lines, so that a fix can
add or remove statements without knowing how the lines around them are indented.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from asyncsafe_lint.diagnostics import Applicability, Edit, Fix, Location
from asyncsafe_lint.source import Located, Source


def fix(message: str, edits: Iterable[Edit], applicability: Applicability) -> Fix:
    # A stable sort: insertions at one place stay in the order the fix gave them.
    return Fix(message, tuple(sorted(edits, key=lambda e: (e.location, e.end_location))), applicability)


def replace(source: Source, node: Located, content: str) -> Edit:
    return Edit(source.start(node), source.end(node), content)


def insert_after(source: Source, node: Located, content: str) -> Edit:
    return Edit(source.end(node), source.end(node), content)


def delete(source: Source, start: Located, end: Located) -> Edit:
    """Remove the text from where `start` begins to where `end` begins."""
    return Edit(source.start(start), source.start(end), "")


def insert_lines_before(row: int, content: str) -> Edit:
    """Add whole lines (`content` ends with a newline) above the line `row`."""
    return Edit(Location(row, 1), Location(row, 1), content)


def insert_lines_after(source: Source, node: Located, content: str, align: Located | None = None) -> Edit:
    """Add whole lines below the line `node` ends on."""
    after = Location(source.end(node).row + 1, 1)
    return Edit(after, after, _aligned(source, content, align))


def replace_lines(source: Source, node: Located, content: str, align: Located | None = None) -> Edit:
    """Replace every line `node` is on (with their comments) by `content`."""
    return Edit(
        Location(source.start(node).row, 1), Location(source.end(node).row + 1, 1), _aligned(source, content, align)
    )


def _aligned(source: Source, content: str, align: Located | None) -> str:
    if align is None:
        return content
    # Lines added inside brackets, where spaces are always a valid indentation.
    indent = " " * (source.start(align).column - 1)
    return "".join(f"{indent}{line}" if line.strip() else line for line in content.splitlines(keepends=True))


def arguments(call: ast.Call) -> list[ast.expr | ast.keyword]:
    """The call's arguments in the order they are written."""
    return sorted([*call.args, *call.keywords], key=lambda node: (node.lineno, node.col_offset))


def add_argument(source: Source, call: ast.Call, argument: str) -> Edit | None:
    """An edit that passes `argument` (`timeout=10`) last, in the call's layout: on a line
    of its own when the arguments are one per line.  None when the call has comments
    where the argument would go."""
    written = arguments(call)
    closing = Location(source.end(call).row, source.end(call).column - 1)
    if not written:
        if "#" in source.between(source.end(call.func), closing):
            return None
        return Edit(closing, closing, argument)
    last = written[-1]
    rest = source.between(source.end(last), closing)
    if (
        rest.lstrip().startswith(",")
        and _starts_line(source, call, written, len(written) - 1)
        and _ends_line(source, last)
    ):
        return insert_lines_after(source, last, f"{argument},\n", align=last)
    if "#" in rest:
        return None
    return insert_after(source, last, f", {argument}")


def remove_argument(source: Source, call: ast.Call, argument: ast.expr | ast.keyword) -> Edit:
    """An edit that removes `argument` from `call` (not its first argument), with its
    comma; a comment on its line stays, on a line of its own."""
    written = arguments(call)
    index = written.index(argument)
    if _starts_line(source, call, written, index) and _ends_line(source, argument):
        kept = source.trailing_comment(argument)
        return replace_lines(source, argument, "" if kept is None else f"{kept}\n", align=argument)
    if index + 1 < len(written):
        return delete(source, argument, written[index + 1])
    return Edit(source.end(written[index - 1]), source.end(argument), "")


def _starts_line(source: Source, call: ast.Call, written: list[ast.expr | ast.keyword], index: int) -> bool:
    previous = source.end(written[index - 1]) if index else source.end(call.func)
    return "\n" in source.between(previous, source.start(written[index]))


def _ends_line(source: Source, argument: ast.expr | ast.keyword) -> bool:
    rest = source.after(argument).lstrip()
    rest = rest[1:].lstrip() if rest.startswith(",") else rest
    return not rest or rest.startswith("#")
