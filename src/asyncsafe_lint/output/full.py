"""ruff's full format: the concise line, then the code it points at, underlined."""

from __future__ import annotations

from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.output.concise import header
from asyncsafe_lint.output.report import Report
from asyncsafe_lint.untrusted import printable


def render(report: Report) -> str:
    # Like ruff, a blank line after every finding keeps the snippets apart.
    return "".join(f"{_finding(d, report)}\n\n" for d in report.diagnostics)


def _finding(diagnostic: Diagnostic, report: Report) -> str:
    start, end = diagnostic.location, diagnostic.end_location
    lines = report.source_lines(diagnostic.filename)
    if not 1 <= start.row <= len(lines):
        return header(diagnostic, report)
    text = lines[start.row - 1]
    # A span over several lines is underlined to the end of its first line.
    stop = end.column if end.row == start.row else len(text) + 1
    # Tabs stay tabs so that the terminal expands them alike on both lines; any other
    # control character is shown as its escape, and underlined as wide as that.
    indent = "".join("\t" if char == "\t" else " " * len(printable(char)) for char in text[: start.column - 1])
    carets = "^" * max(len(printable(text[start.column - 1 : stop - 1])), 1)
    gutter = " " * len(str(start.row))
    return "\n".join(
        (
            header(diagnostic, report),
            f"{gutter} |",
            f"{start.row} | {_shown(text)}".rstrip(),
            f"{gutter} | {indent}{carets} {diagnostic.code}",
            f"{gutter} |",
        )
    )


def _shown(line: str) -> str:
    """A source line as text, its tabs kept (see `_finding`)."""
    return "\t".join(printable(part) for part in line.split("\t"))
