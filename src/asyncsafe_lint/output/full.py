"""ruff's full format: the concise line, then the code it points at, underlined."""

from __future__ import annotations

from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.output import Report
from asyncsafe_lint.output.concise import header


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
    # Tabs stay tabs so that the terminal expands them alike on both lines.
    indent = "".join("\t" if char == "\t" else " " for char in text[: start.column - 1])
    carets = "^" * max(stop - start.column, 1)
    gutter = " " * len(str(start.row))
    return "\n".join(
        (
            header(diagnostic, report),
            f"{gutter} |",
            f"{start.row} | {text}".rstrip(),
            f"{gutter} | {indent}{carets} {diagnostic.code}",
            f"{gutter} |",
        )
    )
