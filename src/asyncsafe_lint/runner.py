"""Checks many files: discovery, then each file on its own, so one bad file never
stops the others."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asyncsafe_lint.config import Settings
from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.engine import check_source, file_error
from asyncsafe_lint.files import discover


@dataclass
class LintResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: Files the linter itself failed on (a bug in asyncsafe-lint): path -> traceback.
    crashes: dict[str, str] = field(default_factory=dict)
    files_checked: int = 0


def check_file(path: Path, settings: Settings) -> list[Diagnostic]:
    """Every finding in one file; a file that cannot be read is one `io-error` finding."""
    try:
        source = path.read_bytes()
    except OSError as error:
        return [file_error(str(path), error.strerror or str(error))]
    return check_source(source, str(path), settings, settings.rules_for(path.absolute()))


def check_paths(paths: Sequence[Path | str], settings: Settings) -> LintResult:
    """Every finding in the files under `paths`, sorted by file and position."""
    result = LintResult()
    for path in discover([Path(p) for p in paths], settings):
        result.files_checked += 1
        try:
            result.diagnostics.extend(check_file(path, settings))
        except Exception:  # noqa: BLE001 - a linter bug on one file must not hide the others' findings
            result.crashes[str(path)] = traceback.format_exc()
    result.diagnostics.sort(key=lambda d: d.sort_key)
    return result
