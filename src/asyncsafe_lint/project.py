"""The project pass: the call graph and the roles over the facts of every module,
the call chains (`rules.CALL_CHAINS`), and where each async function runs.

An async function that calls a plain `def` of the project runs that function's body on
the loop, and whatever it calls in turn.  From each blocking call in a sync function
the graph is walked backwards, breadth first, through sync callers only: each function
learns the shortest chain from it to a blocking call, cycles and recursion end by
themselves, and chains longer than `max-depth` are dropped.  Every call on the loop to
a function with a chain is then reported where it is made.

The roles the framework gives functions are read over every module too: a dependency
is named by `Depends(...)` in the routes' modules, not in its own.  A finding's message
that says where its code runs is corrected when the whole project tells more than the
finding's own file (`ProjectFindings.place`).

Which file holds which module follows the package structure: a file's module name is
its path from the first directory above it that is not a package (or, for a file
outside any package, from the project's root or its `src/`).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.facts import BlockingCall, CallSite, FunctionFacts, ModuleFacts
from asyncsafe_lint.filesystem import DIRECTORY, FILE, LINKED_DIRECTORY, Snapshot
from asyncsafe_lint.roles import RoleIndex
from asyncsafe_lint.rules import CALL_CHAINS

#: How many alias hops (`from app.db import fetch` re-exported by `app/__init__.py`) are followed.
_ALIAS_HOPS = 8


# --- modules and files ---------------------------------------------------------------------
class Layout:
    """Which file holds which module, and the other way around, as the files are during
    one run.  Each file is looked for once: a run makes thousands of lookups."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        # The snapshot's answers are asked for once each (the file system is read through
        # it); when a run is recorded, they are what its replay checks again.
        self._snapshot = snapshot if snapshot is not None else Snapshot()
        self._roots: dict[Path, list[Path]] = {}
        self._projects: dict[Path, Path | None] = {}
        self._prefixes: dict[Path, tuple[tuple[str, ...], bool]] = {}

    def _is_file(self, path: str) -> bool:
        # A `stat`, not a listing: it is asked about the directories above a file (for
        # `__init__.py`, `pyproject.toml`), and listing `/tmp` or a home costs far more.
        return self._snapshot.is_file(path)

    def _is_package(self, directory: Path) -> bool:
        return self._is_file(os.path.join(directory, "__init__.py"))

    def project_root(self, directory: Path) -> Path | None:
        """The nearest directory at or above `directory` holding a `pyproject.toml`."""
        if directory not in self._projects:
            candidates = (directory, *directory.parents)
            found = (d for d in candidates if self._is_file(os.path.join(d, "pyproject.toml")))
            self._projects[directory] = next(found, None)
        return self._projects[directory]

    def import_roots(self, path: Path) -> list[Path]:
        """The directories a module of `path`'s project is imported from."""
        return self._roots_of(path.absolute().parent)

    def _roots_of(self, directory: Path) -> list[Path]:
        if directory not in self._roots:
            base = directory
            while self._is_package(base):
                base = base.parent
            roots = [base]
            root = self.project_root(directory)
            if root is not None:
                roots += [root / "src", root]
            self._roots[directory] = list(dict.fromkeys(roots))
        return self._roots[directory]

    def module_name(self, path: Path) -> str:
        """The dotted name `path` is imported as (`fixtures_app/routes/items.py` ->
        `fixtures_app.routes.items`; `app/__init__.py` -> `app`)."""
        if path.parent not in self._prefixes:
            self._prefixes[path.parent] = self._prefix(path.parent.absolute())
        prefix, names_init = self._prefixes[path.parent]
        return ".".join((*prefix, path.stem) if names_init or path.stem != "__init__" else prefix)

    def _prefix(self, directory: Path) -> tuple[tuple[str, ...], bool]:
        """The dotted name of the modules in `directory`, as parts, and whether an
        `__init__.py` there is named too (only outside a package)."""
        parts: list[str] = []
        base = directory
        while self._is_package(base):
            parts.insert(0, base.name)
            base = base.parent
        if base == directory:
            # Not in a package: a top-level module, or one in a namespace package under the project.
            for root in self._roots_of(directory)[1:]:
                if directory.is_relative_to(root) and root != directory:
                    return directory.relative_to(root).parts, True
        return tuple(parts), False

    def top_level(self, path: Path) -> tuple[Path, Path | None]:
        """The directory `path`'s module is imported from by its first name, and its
        top-level package there (None for a top-level module): for
        `app/routes/items.py`, `.` and `app`."""
        absolute = path.absolute()
        parts = self.module_name(path).split(".")
        names_package = absolute.name == "__init__.py" and parts[-1] != "__init__"
        depth = len(parts) - (0 if names_package else 1)
        if depth == 0:
            return absolute.parent, None
        package = absolute.parents[depth - 1]
        return package.parent, package

    def module_file(self, module: str, roots: Iterable[Path]) -> Path | None:
        """The file that holds `module` under one of `roots`, if any."""
        parts = module.split(".")
        if not all(part.isidentifier() for part in parts):
            return None
        # Down the packages' directory listings, one per directory for a whole run: a run
        # looks up thousands of names, most of them not modules of the project at all.
        for root in roots:
            directory, listing = str(root), self._snapshot.listing(str(root))
            for index, part in enumerate(parts, 1):
                if listing is None:
                    break
                if index == len(parts) and listing.get(f"{part}.py") == FILE:
                    return Path(directory, f"{part}.py")
                if listing.get(part) not in (DIRECTORY, LINKED_DIRECTORY):
                    break
                directory = os.path.join(directory, part)
                listing = self._snapshot.listing(directory)
            else:
                if listing is not None and listing.get("__init__.py") == FILE:
                    return Path(directory, "__init__.py")
        return None


def imported_modules(facts: ModuleFacts) -> set[str]:
    """Every dotted prefix of what the module's functions call or its names alias: the
    modules among them are what its calls may lead into."""
    names = {site.callee for function in facts.functions for site in function.calls}
    names.update(target for _, target in facts.aliases)
    prefixes: set[str] = set()
    for name in names:
        parts = name.split(".")
        prefixes.update(".".join(parts[:end]) for end in range(1, len(parts)))
    return prefixes


# --- the graph ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Node:
    module: ModuleFacts
    function: FunctionFacts

    @property
    def short_name(self) -> str:
        return f"{self.module.module.rpartition('.')[2]}.{self.function.qualname}"

    @property
    def is_sync_helper(self) -> bool:
        return not self.function.is_async and not self.function.offloaded


class CallGraph:
    def __init__(self, modules: Sequence[ModuleFacts]) -> None:
        self.nodes: dict[str, _Node] = {}
        self.classes: set[str] = set()
        self.aliases: dict[str, str] = {}
        for module in modules:
            for function in module.functions:
                self.nodes[f"{module.module}.{function.qualname}"] = _Node(module, function)
            self.classes.update(f"{module.module}.{name}" for name in module.classes)
            self.aliases.update((f"{module.module}.{name}", target) for name, target in module.aliases)

    def unalias(self, name: str) -> str:
        """What `name` stands for in the module it was imported from
        (`app.routes.get_db` -> `app.deps.get_db`); itself when it is not an import."""
        for _ in range(_ALIAS_HOPS):
            if name in self.nodes or name in self.classes:
                return name
            parts = name.split(".")
            prefixes = (".".join(parts[:end]) for end in range(len(parts), 1, -1))
            alias = next((p for p in prefixes if p in self.aliases and self.aliases[p] != p), None)
            if alias is None:
                return name
            name = self.aliases[alias] + name[len(alias) :]
        return name

    def resolve(self, callee: str) -> str | None:
        """The function a call to `callee` runs: itself, or `__init__` for a class."""
        callee = self.unalias(callee)
        if callee in self.nodes:
            return callee
        if callee in self.classes and callee + ".__init__" in self.nodes:
            return callee + ".__init__"
        return None

    def chains(self, max_depth: int) -> dict[str, tuple[str | None, BlockingCall]]:
        """Each sync function that reaches a blocking call within `max_depth` functions ->
        the next function on its shortest chain (None: it blocks itself) and the call."""
        callers: dict[str, set[str]] = {}
        for key, node in self.nodes.items():
            if node.is_sync_helper:
                for site in node.function.calls:
                    target = self.resolve(site.callee)
                    if target is not None and self.nodes[target].is_sync_helper:
                        callers.setdefault(target, set()).add(key)
        found: dict[str, tuple[str | None, BlockingCall]] = {}
        depth: dict[str, int] = {}
        queue: deque[str] = deque()
        for key in sorted(self.nodes):
            node = self.nodes[key]
            if node.is_sync_helper and node.function.blocking and max_depth >= 1:
                found[key], depth[key] = (None, min(node.function.blocking, key=lambda b: b.row)), 1
                queue.append(key)
        while queue:
            key = queue.popleft()
            if depth[key] >= max_depth:
                continue
            for caller in sorted(callers.get(key, ())):
                if caller not in found:
                    found[caller], depth[caller] = (key, found[key][1]), depth[key] + 1
                    queue.append(caller)
        return found


@dataclass(frozen=True, slots=True)
class ProjectFindings:
    """What the project pass finds in the files it reports in."""

    #: The call chains found (`rules.CALL_CHAINS`).
    diagnostics: list[Diagnostic]
    #: (file, qualname) -> where, for each async function whose role the whole project
    #: tells and its own module does not: a dependency used by routes elsewhere, say.
    places: dict[tuple[str, str], str]

    def place(self, diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
        """`diagnostics`, with each message saying where its code runs in the project."""
        placed = []
        for diagnostic in diagnostics:
            key = (diagnostic.filename, diagnostic.place.function) if diagnostic.place is not None else None
            placed.append(diagnostic.placed(self.places[key]) if key in self.places else diagnostic)
        return placed


def project_findings(
    modules: Sequence[ModuleFacts], max_depth: int, report_in: Collection[str], place_in: Collection[str]
) -> ProjectFindings:
    """A call-chain finding for every call on the loop, in the files `report_in`, to a sync function
    of the project that reaches a blocking call; and where the async functions of the
    files `place_in` (and `report_in`) run."""
    graph = CallGraph(modules)
    roles = RoleIndex((module.roles for module in modules), graph.unalias)
    places = {}
    for module in modules:
        if module.path in place_in or module.path in report_in:
            for function in module.functions:
                if not function.is_async:
                    continue
                where = roles.where(f"{module.module}.{function.qualname}", function.display_name)
                if where != function.where:
                    places[module.path, function.qualname] = where
    chains = graph.chains(max_depth)
    diagnostics = []
    for module in modules:
        if module.path not in report_in:
            continue
        for function in module.functions:
            for site in function.calls:
                target = graph.resolve(site.callee) if site.on_loop and not site.suppressed else None
                if target is not None and target in chains:
                    runs = places.get((module.path, function.qualname), function.where)
                    diagnostics.append(_diagnostic(graph, chains, module, function, runs, site, target))
    return ProjectFindings(diagnostics, places)


def _diagnostic(
    graph: CallGraph,
    chains: dict[str, tuple[str | None, BlockingCall]],
    module: ModuleFacts,
    function: FunctionFacts,
    where: str | None,
    site: CallSite,
    target: str,
) -> Diagnostic:
    steps = [function.display_name]
    key: str | None = target
    while key is not None:
        steps.append(graph.nodes[key].short_name)
        last = graph.nodes[key]
        key = chains[key][0]
    blocking = chains[target][1]
    steps.append(f"{blocking.call} ({last.module.path}:{blocking.row})")
    helper = graph.nodes[target].short_name.removesuffix(".__init__")
    assert site.start is not None and site.end is not None
    return CALL_CHAINS.diagnostic(
        module.path, site.start, site.end, helper=helper, where=where, chain=" -> ".join(steps)
    )
