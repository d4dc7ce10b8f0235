"""The `# expect: ASF101, ASF201` annotations that INVALID examples and fixtures_app carry."""

from __future__ import annotations

import re
from collections.abc import Iterable

from asyncsafe_lint.diagnostics import Diagnostic

_EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>ASF[0-9]+(?:\s*,\s*ASF[0-9]+)*)")


def expected(source: str) -> set[tuple[int, str]]:
    """(row, code) for every code named by an `# expect:` comment."""
    found = set()
    for row, line in enumerate(source.splitlines(), start=1):
        match = _EXPECT.search(line)
        if match:
            found.update((row, code.strip()) for code in match.group("codes").split(","))
    return found


def reported(diagnostics: Iterable[Diagnostic]) -> set[tuple[int, str]]:
    return {(d.location.row, d.code) for d in diagnostics}
