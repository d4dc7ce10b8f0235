"""Checks many files: discovery, then each file on its own, so one bad file never
stops the others, then the project pass over the facts of all of them.

`check_file` is the whole per-file step: its `FileResult` depends only on the file's
path, its contents and the settings.  So its results can be cached between runs and
computed in worker processes.  The project pass (the call chains) is cached too, with the
content hash of every file whose facts it used and every module it looked up, so that
editing a callee (or adding a module) changes the findings in its callers.
"""

from __future__ import annotations

import gc
import os
import threading
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from asyncsafe_lint.cache.results import Cache
from asyncsafe_lint.callgraph import CallGraph, ProjectFindings, project_findings
from asyncsafe_lint.config import DEFAULT_EXCLUDE, Settings
from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.discover import discover
from asyncsafe_lint.exports import Exports
from asyncsafe_lint.facts import FileResult, ModuleFacts
from asyncsafe_lint.filesystem import FILE, Snapshot, Stamp, try_stamp
from asyncsafe_lint.modules import Layout, imported_modules
from asyncsafe_lint.names import Imported
from asyncsafe_lint.rules import CALL_CHAINS

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext


@dataclass
class LintResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: Files the linter itself failed on (a bug in asyncsafe-lint): path -> traceback.
    crashes: dict[str, str] = field(default_factory=dict)
    files_checked: int = 0
    #: What the run read of the file system (complete only when it used a cache).
    snapshot: Snapshot = field(default_factory=Snapshot)
    #: What the project pass found: the call chains, and where the functions of the files run.
    project: ProjectFindings = field(default_factory=lambda: ProjectFindings([], {}))
    #: Why the cache was ignored, if it was (see `Cache.notes`).
    cache_notes: list[tuple[str, str]] = field(default_factory=list)


def check_file(
    path: Path, settings: Settings, *, facts_only: bool = False, imported: Imported | None = None
) -> FileResult:
    """Every finding in one file, and its facts; a file that cannot be read is one
    `io-error` finding.  `facts_only`: run no rule, only gather the facts.  `imported`:
    what the names it imports from the project's other modules stand for."""
    # A run whose results all come from the cache never imports the engine.
    from asyncsafe_lint.engine import analyze, file_error

    try:
        source = path.read_bytes()
    except OSError as error:
        return FileResult([file_error(str(path), error.strerror or str(error))])
    rules = () if facts_only else settings.rules_for(path.absolute())
    return analyze(source, str(path), settings, rules, Layout().module_name(path), imported)


def check_paths(
    paths: Sequence[Path | str],
    settings: Settings,
    *,
    cache_dir: Path | None = None,
    workers: int | None = None,
    snapshot: Snapshot | None = None,
) -> LintResult:
    """Every finding in the files under `paths`, sorted by file and position.

    `cache_dir`: where results are kept between runs (see `cache.results`); None for no cache.
    `workers`: how many processes may check files (default: one per CPU); fewer than
    `PARALLEL_FROM` files to check, or a process that cannot fork safely, check them
    in this process.
    `snapshot`: where to record what the run reads of the file system (see `replay`)."""
    snapshot = snapshot if snapshot is not None else Snapshot()
    checker = _Checker(settings, Cache.load(cache_dir, settings) if cache_dir is not None else None, snapshot)
    files = list(discover([Path(p) for p in paths], settings, snapshot))
    result = LintResult(files_checked=len(files), snapshot=snapshot)
    #: The file of each module with facts.
    named: dict[str, Path] = {}
    #: A file of each directory with facts: its files share their import roots.
    directories: dict[Path, Path] = {}
    workers = workers or os.cpu_count() or 1
    checked_files = checker.check_all(files, workers)
    for path in files:
        checked = checked_files[path]
        if isinstance(checked, Crash):
            result.crashes[str(path)] = checked.traceback
            continue
        result.diagnostics.extend(checked.diagnostics)
        if checked.module is not None:
            named[checked.module] = path
            directories.setdefault(path.parent, path)
    if named:
        roots = dict.fromkeys(root for path in directories.values() for root in checker.layout.import_roots(path))
        walked = [Path(path).absolute() for path in paths if Path(path).is_dir()]
        neighbours = _neighbours(named, list(directories.values()), walked, checker)
        result.project = _project_pass(named, neighbours, list(roots), checker, workers)
        result.diagnostics = result.project.findings(result.diagnostics)
    if checker.cache is not None:
        checker.cache.save()
        result.cache_notes = checker.cache.notes
    result.diagnostics.sort(key=lambda d: d.sort_key)
    return result


#: Fewer files than this are checked in this process: starting workers would cost more.
PARALLEL_FROM = 16


@dataclass(frozen=True, slots=True)
class Crash:
    """The linter failed on a file (a bug in asyncsafe-lint)."""

    traceback: str


def _check_safely(
    path: Path, settings: Settings, facts_only: bool, imported: Imported | None = None
) -> FileResult | Crash:
    try:
        return check_file(path, settings, facts_only=facts_only, imported=imported)
    except Exception:  # noqa: BLE001 - a linter bug on one file must not hide the others' findings
        return Crash(traceback.format_exc())


@dataclass(frozen=True, slots=True)
class _Checked:
    """A file's findings, and the module its facts are of (None: it has none)."""

    diagnostics: list[Diagnostic]
    module: str | None


@dataclass
class _Checker:
    """Runs `check_file` on the files of one run, through the cache and worker processes.

    The cache keeps a file's findings and its facts apart, so that a run whose project
    pass comes from the cache too never reads the facts (most of the cache)."""

    settings: Settings
    cache: Cache | None
    snapshot: Snapshot
    layout: Layout = field(init=False)
    #: The facts of the files checked in this run, by (path, facts_only).
    _facts: dict[tuple[Path, bool], ModuleFacts | None] = field(default_factory=dict)
    #: The content hash of each file whose result this run used, when known.
    _digests: dict[tuple[Path, bool], bytes] = field(default_factory=dict)
    #: The result of each file checked in this run, by (path, facts_only).
    _done: dict[tuple[Path, bool], _Checked | Crash] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layout = Layout(self.snapshot)

    def check(self, path: Path, *, facts_only: bool = False) -> _Checked | Crash:
        return self.check_all([path], 1, facts_only=facts_only)[path]

    def check_all(self, paths: list[Path], workers: int, *, facts_only: bool = False) -> dict[Path, _Checked | Crash]:
        done = {path: self._done[path, facts_only] for path in paths if (path, facts_only) in self._done}
        if self.cache is not None:
            for path in paths:
                if path in done:
                    continue
                key = (*self.key(path, facts_only), "findings")
                cached = self.cache.get(key, _Checked)
                if cached is not None:
                    done[path] = cached
                    self._used(path, facts_only, self.cache.stamp(key))
        pending = [path for path in paths if path not in done]
        # An unreadable file has no stamp: its io-error is not cached, and is looked at again.
        stamps = {path: try_stamp(path) for path in pending} if self.cache is not None else {}
        context = _context() if len(pending) >= PARALLEL_FROM and workers > 1 else None
        if context is not None:
            checked = _in_processes(pending, self.settings, facts_only, workers, context)
        else:
            checked = ((path, _check_safely(path, self.settings, facts_only)) for path in pending)
        for path, outcome in checked:
            before = stamps.get(path)
            # A crash too: a module the linter fails on is left out of the call graph.
            self._used(path, facts_only, before)
            if isinstance(outcome, Crash):
                done[path] = outcome
                self._facts[path, facts_only] = None
                continue
            facts = outcome.facts
            done[path] = _Checked(outcome.diagnostics, None if facts is None else facts.module)
            self._facts[path, facts_only] = facts
            if self.cache is not None and before is not None:
                file_key = self.key(path, facts_only)
                self.cache.put((*file_key, "findings"), before, done[path])
                if facts is not None:
                    self.cache.put((*file_key, "facts"), before, facts)
        self._done.update(((path, facts_only), outcome) for path, outcome in done.items())
        return done

    def _used(self, path: Path, facts_only: bool, stamp: Stamp | None) -> None:
        """Notes that this run used the result of `path`, computed from the file as
        `stamp` found it (None: unknown, as it is without a cache)."""
        self.snapshot.read(stamp)
        if stamp is not None:
            self._digests[path, facts_only] = stamp.digest

    def facts(self, path: Path, *, facts_only: bool = False) -> ModuleFacts | None:
        """The facts of a file this run checked (with `check_all` or `check`)."""
        checked = self._done.get((path, facts_only))
        if (path, facts_only) in self._facts or (isinstance(checked, _Checked) and checked.module is None):
            return self._facts.get((path, facts_only))  # a file with no facts has none in the cache either
        cached = self.cache.get((*self.key(path, facts_only), "facts"), ModuleFacts) if self.cache is not None else None
        if cached is not None:
            self._facts[path, facts_only] = cached
        else:  # changed since its findings were read: checked again
            del self._done[path, facts_only]
            self.check(path, facts_only=facts_only)
        return self._facts.get((path, facts_only))

    def retyped(self, path: Path, imported: Imported, *, facts_only: bool) -> FileResult | Crash:
        """The result of a file this run checked, analysed again with `imported`; cached
        with it, so that only the files whose imports changed meaning are analysed again."""
        key = (*self.key(path, facts_only), "retyped", repr(imported))
        cached = self.cache.get(key, FileResult) if self.cache is not None else None
        if cached is not None:
            return cached
        before = try_stamp(path) if self.cache is not None else None
        outcome = _check_safely(path, self.settings, facts_only, imported)
        if self.cache is not None and before is not None and not isinstance(outcome, Crash):
            self.cache.put(key, before, outcome)
        return outcome

    def digest(self, path: Path, *, facts_only: bool = False) -> bytes | None:
        """The content hash of a file this run checked, when known."""
        return self._digests.get((path, facts_only))

    def key(self, path: Path, facts_only: bool) -> _FileKey:
        """What a file's result depends on besides its contents and the settings."""
        return (str(path), os.path.abspath(path), self.layout.module_name(path), facts_only)


def _in_processes(
    paths: list[Path], settings: Settings, facts_only: bool, workers: int, context: BaseContext
) -> Iterator[tuple[Path, FileResult | Crash]]:
    """Checks `paths` in worker processes.  Should a worker die (a crash in native
    code), the files whose results did not come back are checked here instead."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # Imported before the workers fork, so that each starts with it loaded.
    import asyncsafe_lint.engine  # noqa: F401

    # Biggest first, so that no worker is left with a big file while the others idle.
    ordered = sorted(paths, key=_size, reverse=True)
    left = set(ordered)
    try:
        # A worker frees each file's tree by reference counting, so its garbage collector
        # would only slow parsing down: each collection traverses the tree being built.
        with ProcessPoolExecutor(min(workers, len(ordered)), mp_context=context, initializer=gc.disable) as pool:
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
    import multiprocessing  # only here: a run with few files to check starts no process

    if _threads() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None


def _threads() -> int:
    """The process's threads, as the kernel counts them: those started without
    `threading` too (execnet's, under pytest-xdist, which `threading.active_count`
    misses and Python 3.12 warns of when the process forks)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


#: Where the cache keeps the project pass of the last run.
_PROJECT = "project pass"
#: A file's cache key (see `_Checker.key`).
_FileKey = tuple[str, str, str, bool]
#: What the facts of a module found in a file depend on: the file's cache key and its
#: content hash (None: unknown).  None: no module found, or not in the project.
_Record = tuple[_FileKey, bytes | None] | None


@dataclass(frozen=True, slots=True)
class _ProjectPass:
    """The findings of a project pass, and all they were computed from."""

    #: The named modules (module, path, content hash), the import roots, and the
    #: record of each neighbour (see `_neighbours`).
    inputs: tuple[tuple[tuple[str, str, bytes | None], ...], tuple[str, ...], tuple[_Record, ...]]
    #: Each module looked up, in order, and the record of the file it was found in.
    lookups: tuple[tuple[str, _Record], ...]
    findings: ProjectFindings


def _project_pass(
    named: dict[str, Path], neighbours: dict[str, Path], roots: list[Path], checker: _Checker, workers: int
) -> ProjectFindings:
    """The call chains in the named files, following calls into every module of their packages
    they reach, named or not, and where their async functions run, from what every
    module of their packages registers: pre-commit names only the files that changed.
    Other packages installed next to them are not the project.

    From the cache when the named files, their neighbours and every file the last run's
    pass looked into are unchanged, and each of its lookups finds the same file."""
    named_files = tuple(sorted((module, str(path), checker.digest(path)) for module, path in named.items()))
    checker.check_all(list(neighbours.values()), workers, facts_only=True)
    neighbour_records = tuple(_record(path, checker) for path in neighbours.values())
    inputs = (named_files, tuple(str(root) for root in roots), neighbour_records)
    tops = {module.split(".", 1)[0] for module in named}
    cache = checker.cache
    stored = cache.recall(_PROJECT, _ProjectPass) if cache is not None else None
    if (
        stored is not None
        and stored.inputs == inputs
        and all(_record(_look_up(name, roots, tops, checker), checker) == record for name, record in stored.lookups)
    ):
        return stored.findings
    modules = {module: facts for module, path in named.items() if (facts := checker.facts(path)) is not None}
    lookups = []
    looked_up = set(named)
    pending = list(modules.values())
    while pending:
        for name in sorted(imported_modules(pending.pop()) - looked_up):
            looked_up.add(name)
            found = _look_up(name, roots, tops, checker)
            lookups.append((name, _record(found, checker)))
            extra = checker.facts(found, facts_only=True) if found is not None else None
            if extra is not None and extra.module not in modules:
                modules[extra.module] = extra
                pending.append(extra)
    # Only for their roles: the calls that matter are followed above, from the named files.
    for path in neighbours.values():
        facts = checker.facts(path, facts_only=True)
        if facts is not None:
            modules.setdefault(facts.module, facts)
    retyped, imported = _retype(modules, set(named), checker)
    settings = checker.settings
    report_in = {
        str(path)
        for path in named.values()
        if any(rule.code == CALL_CHAINS.code for rule in settings.rules_for(path.absolute()))
    }
    place_in = {str(path) for path in named.values()}
    findings = project_findings(list(modules.values()), settings.max_depth, report_in, place_in)
    findings = replace(findings, retyped=retyped, imported=imported)
    known = all(digest is not None for _, _, digest in named_files) and all(
        record is None or record[1] is not None for _, record in (*lookups, *((None, r) for r in neighbour_records))
    )
    if cache is not None and known:
        cache.remember(_PROJECT, _ProjectPass(inputs, tuple(lookups), findings))
    return findings


#: How many times the modules may be analysed again: a name typed through a module that
#: is itself typed by a third (`http = make_client()`, `make_client` imported) takes two.
_RETYPE_ROUNDS = 3


def _retype(
    modules: dict[str, ModuleFacts], named: set[str], checker: _Checker
) -> tuple[dict[str, list[Diagnostic]], dict[str, Imported]]:
    """Analyses again, with what they import from the others (see `exports`), the modules
    that use a typed imported name, and puts their new facts in `modules`; again, while
    that changes what a module exports.  Returns the new findings of the named ones, and
    what they were analysed with, by file."""
    # What each module imports and uses is read from its first analysis: a second one
    # names its calls by their types.
    first = dict(modules)
    graph = CallGraph(list(first.values()))
    retyped: dict[str, list[Diagnostic]] = {}
    analysed_with: dict[str, Imported] = {}
    for _ in range(_RETYPE_ROUNDS):
        exports = Exports(list(modules.values()), checker.settings, graph)
        exporting_anew = False
        for module, facts in first.items():
            imported = exports.imported_by(facts)
            if not imported or imported == analysed_with.get(module):
                continue
            outcome = checker.retyped(Path(facts.path), imported, facts_only=module not in named)
            if isinstance(outcome, Crash) or outcome.facts is None:
                continue
            analysed_with[module] = imported
            before = modules[module]
            modules[module] = outcome.facts
            exporting_anew |= (before.exports, before.returns) != (outcome.facts.exports, outcome.facts.returns)
            if module in named:
                retyped[facts.path] = outcome.diagnostics
        if not exporting_anew:
            break
    return retyped, {first[module].path: imported for module, imported in analysed_with.items() if module in named}


def _neighbours(named: dict[str, Path], samples: list[Path], walked: list[Path], checker: _Checker) -> dict[str, Path]:
    """The modules that may register the named files' functions with the framework (a
    route's module names its dependencies, the app's its lifespan), by name: every
    other module of the named files' top-level packages, and the top-level modules
    (`main.py`) in the project's import roots next to them.

    `samples`: a named file of each directory with named files.  `walked`: the named
    directories, whose files are all named already."""
    layout, settings, snapshot = checker.layout, checker.settings, checker.snapshot
    packages: set[Path] = set()
    roots: set[Path] = set()
    for path in samples:
        root, package = layout.top_level(path)
        if package is not None:
            packages.add(package)
        # Only the project's import roots: a file named on its own in a crowded directory
        # (a home, `/tmp`) does not make that directory's scripts part of a project.
        project = layout.project_root(root)
        if project is not None and root in (project, project / "src"):
            roots.add(root)
    packages = {package for package in packages if not _within(package, walked)}
    roots = {root for root in roots if not _within(root, walked)}
    files = list(discover(sorted(packages), settings, snapshot))
    for root in sorted(roots):
        listing = snapshot.listing(str(root)) or {}
        for name in sorted(listing):
            if listing[name] == FILE and name.endswith(".py") and not settings.is_excluded(root / name):
                files.append(root / name)
    found: dict[str, Path] = {}
    for file in files:
        if file.suffix == ".py":
            module = layout.module_name(file)
            if module not in named:
                found.setdefault(module, _shown(file))
    return found


def _within(directory: Path, walked: list[Path]) -> bool:
    return any(directory.is_relative_to(top) for top in walked)


def _look_up(module: str, roots: list[Path], tops: set[str], checker: _Checker) -> Path | None:
    """The file of the project that holds `module`, as findings name it, if any."""
    path = checker.layout.module_file(module, roots)
    if path is None or not (module.split(".", 1)[0] in tops or _in_project(path, checker.layout)):
        return None
    return _shown(path)


def _record(path: Path | None, checker: _Checker) -> _Record:
    """What the facts of a module found at `path` depend on: the file's cache key and its
    content hash (None when unknown), once it is checked for them."""
    if path is None:
        return None
    # A module the linter fails on is left out of the graph (its facts are None).
    checker.check(path, facts_only=True)
    return checker.key(path, True), checker.digest(path, facts_only=True)


def _in_project(path: Path, layout: Layout) -> bool:
    """True for a file of the project itself, not of a virtualenv or build under it."""
    root = layout.project_root(path.parent)
    return root is not None and not any(part in DEFAULT_EXCLUDE for part in path.relative_to(root).parts)


def _shown(path: Path) -> Path:
    """`path` as findings name it: relative to the current directory when under it."""
    relative = os.path.relpath(path)
    return Path(relative) if not relative.startswith("..") else path
