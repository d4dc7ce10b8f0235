"""GitHub Actions workflow commands: an `::error` annotation per finding."""

from __future__ import annotations

from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.output.concise import header
from asyncsafe_lint.output.report import Report, display_path


def escape_data(text: str) -> str:
    """Escape the command's message as the Actions toolkit does (`escapeData`)."""
    # `%` first, or the escapes added after it would be escaped again.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a `key=value` property value as the Actions toolkit does (`escapeProperty`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(diagnostic: Diagnostic, report: Report) -> str:
    start, end = diagnostic.location, diagnostic.end_location
    properties = {
        "title": f"asyncsafe-lint ({diagnostic.code})",
        "file": display_path(diagnostic.filename, report.root),
        "line": str(start.row),
        "col": str(start.column),
        "endLine": str(end.row),
        "endColumn": str(end.column),
    }
    listed = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::error {listed}::{escape_data(header(diagnostic, report))}"


def render(report: Report) -> str:
    return "".join(f"{_annotation(d, report)}\n" for d in report.diagnostics)
