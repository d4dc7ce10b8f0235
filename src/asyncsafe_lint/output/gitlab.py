"""GitLab Code Quality: the subset of the Code Climate issue format that GitLab reads."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from asyncsafe_lint.diagnostics import Diagnostic, Location
from asyncsafe_lint.output.report import Report, display_path


def render(report: Report) -> str:
    seen: Counter[tuple[str, str, str]] = Counter()
    issues = []
    for diagnostic in report.diagnostics:
        path = display_path(diagnostic.filename, report.root)
        key = (path, diagnostic.code, diagnostic.message)
        seen[key] += 1
        issues.append(_issue(diagnostic, path, _fingerprint(*key, seen[key])))
    return json.dumps(issues, indent=2) + "\n"


def _fingerprint(path: str, code: str, message: str, occurrence: int) -> str:
    # GitLab matches findings across pipelines by fingerprint and shows findings that
    # share one as a single entry.  Leaving the line out keeps a finding the same when
    # code above it moves; counting occurrences keeps identical findings apart.
    text = "\0".join((path, code, message, str(occurrence)))
    return hashlib.sha256(text.encode()).hexdigest()


def _issue(diagnostic: Diagnostic, path: str, fingerprint: str) -> dict[str, object]:
    return {
        # GitLab does not show `check_name`, so the description names the rule too (as ruff's does).
        "description": f"{diagnostic.code}: {diagnostic.message}",
        "check_name": diagnostic.code,
        "fingerprint": fingerprint,
        "severity": "major",
        "location": {
            "path": path,
            "positions": {"begin": _position(diagnostic.location), "end": _position(diagnostic.end_location)},
        },
    }


def _position(location: Location) -> dict[str, int]:
    return {"line": location.row, "column": location.column}
