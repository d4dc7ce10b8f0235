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
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.facts import BlockingCall, CallSite, FunctionFacts, ModuleFacts
from asyncsafe_lint.names import Imported
from asyncsafe_lint.roles import RoleIndex
from asyncsafe_lint.rules import CALL_CHAINS

#: How many alias hops (`from app.db import fetch` re-exported by `app/__init__.py`) are followed.
_ALIAS_HOPS = 8


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
    #: The findings of each file analysed again with what the names it imports from the
    #: project's other modules stand for (see `exports`): they replace the file's own.
    retyped: dict[str, list[Diagnostic]] = field(default_factory=dict)
    #: What the imported names of each retyped file stand for: what `--fix` checks its
    #: fixed text with.
    imported: dict[str, Imported] = field(default_factory=dict)

    def findings(self, diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
        """The files' own `diagnostics` (a retyped file's replaced by its new ones), each
        saying where its code runs in the project, and the call chains."""
        kept = [diagnostic for diagnostic in diagnostics if diagnostic.filename not in self.retyped]
        retyped = [diagnostic for found in self.retyped.values() for diagnostic in found]
        return [*self.place([*kept, *retyped]), *self.diagnostics]

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
        module.path, site.start, site.end, fix=site.fix, helper=helper, where=where, chain=" -> ".join(steps)
    )
