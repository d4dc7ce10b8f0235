"""Checks many files: discovery, then each file on its own, so one bad file never
stops the others, then the project pass over the facts of all of them.

`check_file` is the whole per-file step: its `FileResult` depends only on the file's
path, its contents and the settings.  So its results can be cached between runs and
computed in worker processes.  The project pass (ASF110) is always computed afresh
from the facts of every file, so that editing a callee changes the findings in its
callers.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import traceback
from collections.abc import Hashable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from pathlib import Path

from asyncsafe_lint.cache import Cache, Stamp, stamp
from asyncsafe_lint.config import DEFAULT_EXCLUDE, Settings
from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.facts import HELPER_CODE, FileResult, ModuleFacts
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
    # The engine imports libcst: a run whose results all come from the cache never does.
    from asyncsafe_lint.engine import analyze, file_error

    try:
        source = path.read_bytes()
    except OSError as error:
        return FileResult([file_error(str(path), error.strerror or str(error))])
    rules = () if facts_only else settings.rules_for(path.absolute())
    return analyze(source, str(path), settings, rules, module_name(path))


def check_paths(
    paths: Sequence[Path | str], settings: Settings, *, cache_dir: Path | None = None, workers: int | None = None
) -> LintResult:
    """Every finding in the files under `paths`, sorted by file and position.

    `cache_dir`: where results are kept between runs (see `cache`); None for no cache.
    `workers`: how many processes may check files (default: one per CPU); fewer than
    `PARALLEL_FROM` files to check, or a process that cannot fork safely, check them
    in this process."""
    checker = _Checker(settings, Cache.load(cache_dir, settings) if cache_dir is not None else None)
    files = list(discover([Path(p) for p in paths], settings))
    result = LintResult(files_checked=len(files))
    facts: dict[str, ModuleFacts] = {}
    #: A file of each directory with facts: its files share their import roots.
    directories: dict[Path, Path] = {}
    tops: set[str] = set()
    checked_files = checker.check_all(files, workers or os.cpu_count() or 1)
    for path in files:
        checked = checked_files[path]
        if isinstance(checked, Crash):
            result.crashes[str(path)] = checked.traceback
            continue
        result.diagnostics.extend(checked.diagnostics)
        if checked.facts is not None:
            facts[checked.facts.module] = checked.facts
            directories.setdefault(path.parent, path)
            tops.add(checked.facts.module.split(".", 1)[0])
    if facts:
        roots = dict.fromkeys(root for path in directories.values() for root in import_roots(path))
        result.diagnostics.extend(_project_pass(facts, list(roots), tops, checker))
    if checker.cache is not None:
        checker.cache.save()
    result.diagnostics.sort(key=lambda d: d.sort_key)
    return result


#: Fewer files than this are checked in this process: starting workers would cost more.
PARALLEL_FROM = 16


@dataclass(frozen=True, slots=True)
class Crash:
    """The linter failed on a file (a bug in asyncsafe-lint)."""

    traceback: str


def _check_safely(path: Path, settings: Settings, facts_only: bool) -> FileResult | Crash:
    try:
        return check_file(path, settings, facts_only=facts_only)
    except Exception:  # noqa: BLE001 - a linter bug on one file must not hide the others' findings
        return Crash(traceback.format_exc())


@dataclass
class _Checker:
    """Runs `check_file` on the files of one run, through the cache and worker processes."""

    settings: Settings
    cache: Cache | None

    def check(self, path: Path, *, facts_only: bool = False) -> FileResult | Crash:
        return self.check_all([path], 1, facts_only=facts_only)[path]

    def check_all(self, paths: list[Path], workers: int, *, facts_only: bool = False) -> dict[Path, FileResult | Crash]:
        done: dict[Path, FileResult | Crash] = {}
        if self.cache is not None:
            for path in paths:
                cached = self.cache.get(_cache_key(path, facts_only), path)
                if isinstance(cached, FileResult):
                    done[path] = cached
        pending = [path for path in paths if path not in done]
        stamps = {path: _stamp(path) for path in pending} if self.cache is not None else {}
        context = _context() if len(pending) >= PARALLEL_FROM and workers > 1 else None
        if context is not None:
            checked = _in_processes(pending, self.settings, facts_only, workers, context)
        else:
            checked = ((path, _check_safely(path, self.settings, facts_only)) for path in pending)
        for path, outcome in checked:
            done[path] = outcome
            before = stamps.get(path)
            if self.cache is not None and before is not None and isinstance(outcome, FileResult):
                self.cache.put(_cache_key(path, facts_only), before, outcome)
        return done


def _cache_key(path: Path, facts_only: bool) -> Hashable:
    """What a file's result depends on besides its contents and the settings."""
    return (str(path), os.path.abspath(path), module_name(path), facts_only)


def _stamp(path: Path) -> Stamp | None:
    try:
        return stamp(path)
    except OSError:
        return None  # unreadable: its io-error is not cached, so it is looked at again next time


def _in_processes(
    paths: list[Path], settings: Settings, facts_only: bool, workers: int, context: BaseContext
) -> Iterator[tuple[Path, FileResult | Crash]]:
    """Checks `paths` in worker processes.  Should a worker die (a crash in native
    code), the files whose results did not come back are checked here instead."""
    # Imported before the workers fork, so that each starts with it (and libcst) loaded.
    import asyncsafe_lint.engine  # noqa: F401

    # Biggest first, so that no worker is left with a big file while the others idle.
    ordered = sorted(paths, key=_size, reverse=True)
    left = set(ordered)
    try:
        with ProcessPoolExecutor(min(workers, len(ordered)), mp_context=context) as pool:
            futures = [(path, pool.submit(_check_safely, path, settings, facts_only)) for path in ordered]
            for path, future in futures:
                outcome = future.result()
                left.discard(path)
                yield path, outcome
    except BrokenProcessPool:
        for path in ordered:
            if path in left:
                yield path, _check_safely(path, settings, facts_only)


def _context() -> BaseContext | None:
    """How to start workers: by `fork`, where it is safe (a process with one thread, such
    as the command line's), so they start at once with everything imported.  None
    elsewhere: forking a process with threads can deadlock the child, and a worker
    started afresh imports the linter again (a third of a second) and re-runs the
    caller's main script."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _project_pass(
    named: dict[str, ModuleFacts], roots: list[Path], tops: set[str], checker: _Checker
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
            extra = _facts_of(name, roots, name.split(".", 1)[0] in tops, checker)
            if extra is not None and extra.module not in modules:
                modules[extra.module] = extra
                pending.append(extra)
    settings = checker.settings
    report_in = {
        facts.path for facts in named.values()
        if any(rule.code == HELPER_CODE for rule in settings.rules_for(Path(facts.path).absolute()))
    }  # fmt: skip
    return project_diagnostics(list(modules.values()), settings.max_depth, report_in)


def _facts_of(module: str, roots: list[Path], known_package: bool, checker: _Checker) -> ModuleFacts | None:
    path = module_file(module, roots)
    if path is None or not (known_package or _in_project(path)):
        return None
    checked = checker.check(_shown(path), facts_only=True)
    # A module the linter fails on is left out of the graph.
    return checked.facts if isinstance(checked, FileResult) else None


def _in_project(path: Path) -> bool:
    """True for a file of the project itself, not of a virtualenv or build under it."""
    root = project_root(path.parent)
    return root is not None and not any(part in DEFAULT_EXCLUDE for part in path.relative_to(root).parts)


def _shown(path: Path) -> Path:
    """`path` as findings name it: relative to the current directory when under it."""
    relative = os.path.relpath(path)
    return Path(relative) if not relative.startswith("..") else path
