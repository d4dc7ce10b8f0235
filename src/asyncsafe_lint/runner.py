"""Checks many files: discovery, then each file on its own, so one bad file never
stops the others, then the project pass over the facts of all of them.

`check_file` is the whole per-file step: its `FileResult` depends only on the file's
path, its contents and the settings.  The project pass (ASF110) is always computed
afresh from the facts of every file, so that editing a callee changes the findings
in its callers.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asyncsafe_lint.config import DEFAULT_EXCLUDE, Settings
from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.engine import FileResult, analyze, file_error
from asyncsafe_lint.facts import HELPER_CODE, ModuleFacts
from asyncsafe_lint.files import discover
from asyncsafe_lint.project import (
    import_roots,
    imported_modules,
    module_file,
    module_name,
    project_diagnostics,
    project_root,
)


@dataclass
class LintResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: Files the linter itself failed on (a bug in asyncsafe-lint): path -> traceback.
    crashes: dict[str, str] = field(default_factory=dict)
    files_checked: int = 0


def check_file(path: Path, settings: Settings, *, facts_only: bool = False) -> FileResult:
    """Every finding in one file, and its facts; a file that cannot be read is one
    `io-error` finding.  `facts_only`: run no rule, only gather the facts."""
    try:
        source = path.read_bytes()
    except OSError as error:
        return FileResult([file_error(str(path), error.strerror or str(error))])
    rules = () if facts_only else settings.rules_for(path.absolute())
    return analyze(source, str(path), settings, rules, module_name(path))


def check_paths(paths: Sequence[Path | str], settings: Settings) -> LintResult:
    """Every finding in the files under `paths`, sorted by file and position."""
    result = LintResult()
    facts: dict[str, ModuleFacts] = {}
    roots: dict[Path, None] = {}
    tops: set[str] = set()
    for path in discover([Path(p) for p in paths], settings):
        result.files_checked += 1
        try:
            checked = check_file(path, settings)
        except Exception:  # noqa: BLE001 - a linter bug on one file must not hide the others' findings
            result.crashes[str(path)] = traceback.format_exc()
            continue
        result.diagnostics.extend(checked.diagnostics)
        if checked.facts is not None:
            facts[checked.facts.module] = checked.facts
            roots.update(dict.fromkeys(import_roots(path)))
            tops.add(checked.facts.module.split(".", 1)[0])
    if facts:
        result.diagnostics.extend(_project_pass(facts, list(roots), tops, settings))
    result.diagnostics.sort(key=lambda d: d.sort_key)
    return result


def _project_pass(
    named: dict[str, ModuleFacts], roots: list[Path], tops: set[str], settings: Settings
) -> list[Diagnostic]:
    """ASF110 in the named files, following calls into every module of their packages
    (`tops`) they reach, named or not: pre-commit names only the files that changed.
    Other packages installed next to them are not the project."""
    modules = dict(named)
    looked_up = set(named)
    pending = list(named.values())
    while pending:
        for name in sorted(imported_modules(pending.pop()) - looked_up):
            looked_up.add(name)
            extra = _facts_of(name, roots, name.split(".", 1)[0] in tops, settings)
            if extra is not None and extra.module not in modules:
                modules[extra.module] = extra
                pending.append(extra)
    report_in = {
        facts.path for facts in named.values()
        if any(rule.code == HELPER_CODE for rule in settings.rules_for(Path(facts.path).absolute()))
    }  # fmt: skip
    return project_diagnostics(list(modules.values()), settings.max_depth, report_in)


def _facts_of(module: str, roots: list[Path], known_package: bool, settings: Settings) -> ModuleFacts | None:
    path = module_file(module, roots)
    if path is None or not (known_package or _in_project(path)):
        return None
    try:
        return check_file(_shown(path), settings, facts_only=True).facts
    except Exception:  # noqa: BLE001 - a module the linter fails on is left out of the graph
        return None


def _in_project(path: Path) -> bool:
    """True for a file of the project itself, not of a virtualenv or build under it."""
    root = project_root(path.parent)
    return root is not None and not any(part in DEFAULT_EXCLUDE for part in path.relative_to(root).parts)


def _shown(path: Path) -> Path:
    """`path` as findings name it: relative to the current directory when under it."""
    relative = os.path.relpath(path)
    return Path(relative) if not relative.startswith("..") else path
