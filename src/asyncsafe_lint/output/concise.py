"""ruff's concise format: one `path:row:col: CODE message` line per finding."""

from __future__ import annotations

from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.output.report import Report, display_path
from asyncsafe_lint.untrusted import printable


def header(diagnostic: Diagnostic, report: Report) -> str:
    """`path:row:column: CODE message`, as text: the file name and the message (which
    quotes the code) are the repository's, and may hold control characters."""
    path = display_path(diagnostic.filename, report.root)
    start = diagnostic.location
    marker = "[*] " if report.show_fixes and diagnostic.fixable(report.unsafe_fixes) else ""
    return printable(f"{path}:{start.row}:{start.column}: {diagnostic.code} {marker}{diagnostic.message}")


def render(report: Report) -> str:
    return "".join(f"{header(d, report)}\n" for d in report.diagnostics)
