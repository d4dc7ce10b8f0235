"""What the project pass needs to know about one module, gathered during the engine's
single walk: its functions, the blocking calls each makes itself, the calls each
makes to other functions, and what the module registers with the framework.  Plain data (see `plain`), no syntax trees, so that a per-file
result can be cached and shipped between processes.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from asyncsafe_lint.diagnostics import Diagnostic, Fix, Location
from asyncsafe_lint.handoff import HandOff
from asyncsafe_lint.names import LOCAL, Names, Symbol
from asyncsafe_lint.roles import RoleFacts, Roles
from asyncsafe_lint.rule import BlockingCallRule, Call
from asyncsafe_lint.rules import CALL_CHAINS
from asyncsafe_lint.source import Source
from asyncsafe_lint.suppress import is_suppressed
from asyncsafe_lint.syntax import Function

#: Decorators after which calling a sync function no longer runs its body on the caller's
#: thread: it gives back an awaitable that runs it in a worker thread.
OFFLOADING_DECORATORS = frozenset({"asgiref.sync.sync_to_async", "asyncer.asyncify"})

#: Callees that can never be a function of the project.
_NOT_PROJECT = frozenset({"builtins", *sys.stdlib_module_names})

#: Where the types that tell a rule nothing come from: containers and typing's generics
#: (`def get_db() -> Iterator[Session]`).  Not handed on to other modules.
_UNINFORMATIVE = frozenset({"builtins", "typing", "typing_extensions", "collections", "abc", "types"})


@dataclass(frozen=True, slots=True)
class BlockingCall:
    """A call that a blocking-call rule would flag if it ran on the loop."""

    code: str
    call: str
    row: int


@dataclass(frozen=True, slots=True)
class CallSite:
    """A call from one function to what may be another function of the project."""

    #: Fully qualified, as far as the module's imports tell (`app.db.fetch`).
    callee: str
    on_loop: bool
    #: Where the call is; only known (and needed) for calls on the loop.
    start: Location | None = None
    end: Location | None = None
    #: Its line carries a `# noqa` for the call-chain rule (`rules.CALL_CHAINS`).
    suppressed: bool = False
    #: The fix of a call-chain finding there (see `handoff`).
    fix: Fix | None = None


@dataclass(frozen=True, slots=True)
class FunctionFacts:
    qualname: str
    display_name: str
    is_async: bool
    #: Decorated with one of `OFFLOADING_DECORATORS`.
    offloaded: bool
    #: For an async function: where it runs, as far as its own module tells
    #: (`in async route GET /items`).
    where: str | None
    blocking: tuple[BlockingCall, ...]
    calls: tuple[CallSite, ...]


@dataclass(frozen=True, slots=True)
class ModuleFacts:
    module: str
    path: str
    functions: tuple[FunctionFacts, ...] = ()
    #: Qualified names (in the module) of its classes, so that `Repo()` leads to `Repo.__init__`.
    classes: tuple[str, ...] = ()
    #: Module-level names bound by imports -> what they stand for (`fetch` -> `app.db.fetch`),
    #: for re-exports such as `from app.db import fetch` in `app/__init__.py`.
    aliases: tuple[tuple[str, str], ...] = ()
    #: The routes, dependencies, middleware... it registers, of any module.
    roles: RoleFacts = field(default_factory=RoleFacts)
    #: Module-level variables holding an instance of a known type (`http` ->
    #: `httpx.Client`, True), and type aliases (`DbSession` -> `sqlalchemy.orm.Session`, False).
    exports: tuple[tuple[str, str, bool], ...] = ()
    #: Functions and methods (by qualname) whose return annotation names a known type -> that type.
    returns: tuple[tuple[str, str], ...] = ()
    #: The names of other modules it calls, calls a method of, enters or annotates with,
    #: sorted (`app.clients.http.get`, `app.deps.SessionDep`): where the type of an
    #: imported name could change one of its findings.
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileResult:
    """All the engine learns from one file: its findings, and the facts the project pass
    combines across files (None when no enabled rule needs them)."""

    diagnostics: list[Diagnostic]
    facts: ModuleFacts | None = None


def qualify(name: str, module: str) -> str:
    """`name` as the engine resolved it, made absolute: the module's own functions and
    classes (`<module>.f`) get the module's name."""
    return f"{module}.{name.removeprefix(LOCAL)}" if name.startswith(LOCAL) else name


@dataclass
class _Function:
    function: Function
    offloaded: bool
    blocking: list[tuple[BlockingCall, ast.Call | ast.withitem]] = field(default_factory=list)
    #: With the call itself when it is made on the loop.
    calls: list[tuple[CallSite, Call | None]] = field(default_factory=list)


class FactsCollector:
    """Fed by the engine's walk; `facts()` builds the module's facts once it is over."""

    def __init__(
        self,
        module: str,
        path: str,
        probes: Sequence[BlockingCallRule],
        probed: tuple[frozenset[str], frozenset[str]],
        hand_off: HandOff | None,
    ) -> None:
        """`probed`: the names the `probes` may flag, and the types whose every method one
        may.  `hand_off`: the fixes of the module's blocking calls, for its call chains;
        None in a check, which leaves the call chains' fixes to `--fix` (planning one for
        every call a chain may start at would cost a check more than the rest of it)."""
        self.module = module
        self.path = path
        self.probes = probes
        self.hand_off = hand_off
        self._probed_names, self._probed_types = probed
        self._functions: dict[int, _Function] = {}
        self._classes: list[str] = []
        self._aliases: dict[str, str] = {}
        self._references: set[str] = set()

    def alias(self, name: str, qualname: str) -> None:
        self._aliases[name] = self._qualify(qualname)

    def class_(self, qualname: str) -> None:
        self._classes.append(qualname)

    def function(self, function: Function, decorators: Sequence[str | None]) -> None:
        offloaded = any(self._qualify(d) in OFFLOADING_DECORATORS for d in decorators if d is not None)
        self._functions[id(function.node)] = _Function(function, offloaded)

    def reference(self, name: str) -> None:
        """A name the module uses as more than a value: it calls it, calls one of its
        methods or enters it (`with lock:`)."""
        self._references.add(name)

    def call(self, call: Call) -> None:
        if call.name is not None:
            self.reference(call.name)
        gathered = self._functions.get(id(call.function.node)) if call.function is not None else None
        if call.name is None or gathered is None:
            return
        blocking = None
        if call.name in self._probed_names or call.name.rpartition(".")[0] in self._probed_types:
            blocking = next((probe for probe in self.probes if probe.instead(call) is not None), None)
        if blocking is not None:
            # On the loop it is a blocking-call finding of its own; elsewhere, the end of a chain.
            if not call.on_loop:
                gathered.blocking.append((BlockingCall(blocking.code, call.name, 0), call.node))
            return
        callee = self._qualify(call.name)
        if callee.split(".", 1)[0] not in _NOT_PROJECT:
            gathered.calls.append((CallSite(callee, call.on_loop), call if call.on_loop else None))

    def _qualify(self, name: str) -> str:
        return qualify(name, self.module)

    def facts(self, source: Source, roles: Roles, names: Names) -> ModuleFacts:
        functions = []
        for gathered in self._functions.values():
            function = gathered.function
            blocking = tuple(BlockingCall(b.code, b.call, source.start(node).row) for b, node in gathered.blocking)
            calls = []
            for site, call in gathered.calls:
                if call is not None:
                    start = source.start(call.node)
                    suppressed = is_suppressed(source.line(start.row), CALL_CHAINS.code)
                    fix = self.hand_off.fix(call) if self.hand_off is not None else None
                    site = CallSite(site.callee, True, start, source.end(call.node), suppressed, fix)
                calls.append(site)
            functions.append(
                FunctionFacts(
                    function.qualname,
                    function.display_name,
                    function.is_async,
                    gathered.offloaded,
                    roles.where(function) if function.is_async else None,
                    blocking,
                    tuple(calls),
                )
            )
        return ModuleFacts(
            self.module,
            self.path,
            tuple(functions),
            tuple(self._classes),
            tuple(sorted(self._aliases.items())),
            roles.facts(self._qualify),
            self._exports(names),
            tuple(
                sorted(
                    (key.removeprefix(LOCAL), self._qualify(symbol.qualname))
                    for key, symbol in names.returns.items()
                    if self._informative(symbol)
                )
            ),
            tuple(
                sorted(
                    name
                    for name in self._references | names.annotated
                    if not name.startswith(LOCAL) and name.split(".", 1)[0] not in _NOT_PROJECT
                )
            ),
        )

    def _exports(self, names: Names) -> tuple[tuple[str, str, bool], ...]:
        exported = []
        # The walk is over: the current scope is the module's.
        for name, symbol in names.scope.bindings.items():
            if symbol is None or name in self._aliases or not self._informative(symbol):
                continue
            if symbol.instance or not symbol.qualname.startswith(LOCAL):  # not a `def` or `class`
                exported.append((name, self._qualify(symbol.qualname), symbol.instance))
        return tuple(sorted(exported))

    def _informative(self, symbol: Symbol) -> bool:
        return symbol.qualname.split(".", 1)[0] not in _UNINFORMATIVE
