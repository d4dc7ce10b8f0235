"""What every output format is given (a `Report` of one run) and the path helpers they share."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from asyncsafe_lint.diagnostics import Diagnostic, Edit
from asyncsafe_lint.rule import Rule
from asyncsafe_lint.rules import BY_CODE


@dataclass(frozen=True)
class Report:
    """What a formatter needs to know about one run."""

    diagnostics: Sequence[Diagnostic]
    #: Every enabled rule (SARIF lists them all, not only the ones that fired).
    rules: Sequence[type[Rule]]
    #: The directory paths are shown relative to (the current directory).
    root: Path
    #: The source lines of a file, for the formats that show code.
    source_lines: Callable[[str], Sequence[str]]
    #: Mark the findings a fix would resolve with `[*]` (as ruff does when not fixing).
    show_fixes: bool = False
    #: Whether unsafe fixes count as fixes.
    unsafe_fixes: bool = False
    #: The edits a finding's fix makes, for the formats that show them (JSON): worked
    #: out by the fix engine, which a run that shows no edits never loads.
    fix_edits: Callable[[Diagnostic], Sequence[Edit]] = lambda diagnostic: ()


def absolute_path(filename: str, root: Path) -> Path:
    """`filename` as an absolute path; a relative one is taken to be relative to `root`."""
    # Lexical normalisation only: `..` must not let a path outside `root` pass as inside
    # it, and resolving symlinks would show users paths they never typed.
    return Path(os.path.normpath(root.absolute() / filename))


def relative_path(filename: str, root: Path) -> PurePath | None:
    """`filename` relative to `root`, or None when the file lies outside `root`."""
    try:
        return absolute_path(filename, root).relative_to(absolute_path(".", root))
    except ValueError:
        return None


def display_path(filename: str, root: Path) -> str:
    """The path to show: relative to `root` when under it, else as the user gave it."""
    relative = relative_path(filename, root)
    return filename if relative is None else str(relative)


def rule_for(report: Report, code: str) -> type[Rule]:
    """The rule behind `code`, also when it is not enabled (ASF001/ASF002 always report)."""
    for rule in report.rules:
        if rule.code == code:
            return rule
    return BY_CODE[code]
