"""ruff's JSON Lines format: one compact finding object per line."""

from __future__ import annotations

import json

from asyncsafe_lint.output.json import diagnostic_json
from asyncsafe_lint.output.report import Report


def render(report: Report) -> str:
    return "".join(
        json.dumps(diagnostic_json(d, report), sort_keys=True, separators=(",", ":")) + "\n" for d in report.diagnostics
    )
