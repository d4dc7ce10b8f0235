"""Edits as fixes build them: placed by syntax nodes, laid out like the code around them.

`ast` keeps no whitespace and no comments, so what an edit must respect (an argument
list written one per line, a comment after a registration) is read from the file's
lines through `Source`.  The `..._lines` edits address whole lines, so that a fix can
add or remove statements without knowing how the lines around them are indented.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from asyncsafe_lint.diagnostics import Applicability, Edit, Fix, Location
from asyncsafe_lint.source import Located, Source


def fix(message: str, edits: Iterable[Edit], applicability: Applicability) -> Fix:
    # A stable sort: insertions at one place stay in the order the fix gave them.
    return Fix(message, tuple(sorted(edits, key=lambda e: (e.location, e.end_location))), applicability)


def replace(source: Source, node: Located, content: str) -> Edit:
    return Edit(source.start(node), source.end(node), content)


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
    return content if align is None else _at_column(content, source.start(align).column)


def _at_column(content: str, column: int) -> str:
    # Lines added inside brackets, where spaces are always a valid indentation.
    indent = " " * (column - 1)
    return "".join(f"{indent}{line}" if line.strip() else line for line in content.splitlines(keepends=True))


def arguments(call: ast.Call) -> list[ast.expr | ast.keyword]:
    """The call's arguments in the order they are written."""
    return sorted([*call.args, *call.keywords], key=lambda node: (node.lineno, node.col_offset))


def add_argument(source: Source, call: ast.Call, argument: str) -> Edit | None:
    """An edit that passes `argument` (`timeout=10`) last, in the call's layout: on a line
    of its own when the arguments are one per line.  None when the call has comments
    where the argument would go, or a generator expression as its only argument, which
    would need parentheses of its own (`f(x for x in y)`)."""
    written = arguments(call)
    closing = _closing(source, call)
    if not written:
        if "#" in source.between(source.end(call.func), closing):
            return None
        return Edit(closing, closing, argument)
    start, end = _span(source, call, written, len(written) - 1)
    if closing < end:
        return None
    rest = source.between(end, closing)
    if (
        rest.lstrip().startswith(",")
        and _starts_line(source, call, written, len(written) - 1)
        and _ends_line(source, end)
    ):
        after = Location(end.row + 1, 1)
        return Edit(after, after, _at_column(f"{argument},\n", start.column))
    if "#" in rest:
        return None
    return Edit(end, end, f", {argument}")


def remove_argument(source: Source, call: ast.Call, argument: ast.expr | ast.keyword) -> Edit:
    """An edit that removes `argument` from `call` (not its first argument), with its
    comma; a comment on its line stays, on a line of its own."""
    written = arguments(call)
    index = written.index(argument)
    if _starts_line(source, call, written, index) and _ends_line(source, source.end(argument)):
        kept = source.trailing_comment(argument)
        return replace_lines(source, argument, "" if kept is None else f"{kept}\n", align=argument)
    if index + 1 < len(written):
        return delete(source, argument, written[index + 1])
    return Edit(_span(source, call, written, index - 1)[1], source.end(argument), "")


def _closing(source: Source, call: ast.Call) -> Location:
    """Where the call's closing parenthesis is."""
    end = source.end(call)
    return Location(end.row, end.column - 1)


def _span(
    source: Source, call: ast.Call, written: list[ast.expr | ast.keyword], index: int
) -> tuple[Location, Location]:
    """Where `written[index]` starts and ends, with the parentheses written around it:
    `ast` leaves out those of a positional argument (`f((url))`), not a keyword's."""
    argument = written[index]
    start, end = source.start(argument), source.end(argument)
    following = source.start(written[index + 1]) if index + 1 < len(written) else _closing(source, call)
    if isinstance(argument, (ast.keyword, ast.Starred)) or following < end:
        return start, end  # `following < end`: `f(x for x in y)`, whose parentheses are the call's
    # Between two arguments (or an argument and the call's parentheses) there are only
    # parentheses, a comma, blanks and comments.
    after = _without_comments(source.between(end, following)).split(",", 1)[0]
    wrapping = after.count(")")
    if not wrapping:
        return start, end
    preceding = source.end(written[index - 1]) if index else source.end(call.func)
    before = _without_comments(source.between(preceding, start))
    opening = [offset for offset, char in enumerate(before) if char == "("][-wrapping]
    return _moved(preceding, before[:opening]), _moved(end, after[: after.rindex(")") + 1])


def _without_comments(text: str) -> str:
    """`text` with its comments blanked out, every other character where it was."""
    return re.sub(r"#[^\n]*", lambda match: " " * len(match.group()), text)


def _moved(location: Location, text: str) -> Location:
    """Where `text`, read from `location` (lines joined by `\n`, as `Source.between` joins
    them), ends."""
    rows = text.count("\n")
    if not rows:
        return Location(location.row, location.column + len(text))
    return Location(location.row + rows, len(text) - text.rindex("\n"))


def _starts_line(source: Source, call: ast.Call, written: list[ast.expr | ast.keyword], index: int) -> bool:
    previous = source.end(written[index - 1]) if index else source.end(call.func)
    return "\n" in source.between(previous, source.start(written[index]))


def _ends_line(source: Source, end: Location) -> bool:
    """True when nothing but a comma and a comment follows `end` on its line."""
    rest = source.line(end.row)[end.column - 1 :].lstrip()
    rest = rest[1:].lstrip() if rest.startswith(",") else rest
    return not rest or rest.startswith("#")
