"""ruff's JSON format: an array of finding objects with ruff's keys, plus the rule name."""

from __future__ import annotations

import json
from collections.abc import Sequence

from asyncsafe_lint.diagnostics import Diagnostic, Edit, Fix, Location
from asyncsafe_lint.output.report import Report, absolute_path, rule_for


def diagnostic_json(diagnostic: Diagnostic, report: Report) -> dict[str, object]:
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "message": diagnostic.message,
        "filename": str(absolute_path(diagnostic.filename, report.root)),
        "location": _location(diagnostic.location),
        "end_location": _location(diagnostic.end_location),
        "fix": None if diagnostic.fix is None else _fix(diagnostic.fix, report.fix_edits(diagnostic)),
        "noqa_row": diagnostic.location.row,
        "url": rule_for(report, diagnostic.code).url(),
    }


def _fix(fix: Fix, edits: Sequence[Edit]) -> dict[str, object]:
    return {
        "applicability": str(fix.applicability),
        "message": fix.message,
        "edits": [
            {
                "content": edit.content,
                "location": _location(edit.location),
                "end_location": _location(edit.end_location),
            }
            for edit in edits
        ],
    }


def _location(location: Location) -> dict[str, int]:
    return {"row": location.row, "column": location.column}


def render(report: Report) -> str:
    # Sorted keys, as ruff prints them.
    findings = [diagnostic_json(d, report) for d in report.diagnostics]
    return json.dumps(findings, indent=2, sort_keys=True) + "\n"
