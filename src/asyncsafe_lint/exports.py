"""Types across modules: what the names a module imports from the project's other
modules stand for.

One file is analysed on its own (so that its result can be cached and computed in a
worker process), and there a name imported from another module of the project is
opaque: `from app.clients import http` then `http.get(...)`.  Each module's facts say
what its module-level variables hold, which type aliases it defines and what its
functions are annotated to return (`ModuleFacts.exports`, `ModuleFacts.returns`).  The
project pass gathers them here and gives each module that imports one of them an
`Imported` to analyse it again with (see `checker`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache

from asyncsafe_lint.callgraph import CallGraph
from asyncsafe_lint.config import Settings
from asyncsafe_lint.facts import ModuleFacts
from asyncsafe_lint.frameworks import REGISTRIES
from asyncsafe_lint.names import ATTRIBUTE_TYPES, MEMBER_TYPES, RETURNS, Imported, Symbol
from asyncsafe_lint.rule import BlockingCallRule
from asyncsafe_lint.rules import ALL_RULES


class Exports:
    """What the modules of the project export, by qualified name (`app.clients.http`):
    only what is of a type the analysis knows something about (see `_informative`)."""

    def __init__(self, modules: Sequence[ModuleFacts], settings: Settings, graph: CallGraph) -> None:
        """`graph`: the call graph over `modules`."""
        self._unalias = graph.unalias
        informative = _known_types(settings) | _blocking_classes(modules)
        names: dict[str, Symbol] = {}
        returns: dict[str, Symbol] = {}
        for facts in modules:
            for name, qualname, instance in facts.exports:
                if qualname in informative:
                    names[f"{facts.module}.{name}"] = Symbol(qualname, instance)
            for function, qualname in facts.returns:
                if qualname in informative:
                    returns[f"{facts.module}.{function}"] = Symbol(qualname, instance=True)
        self._tables = ((names, sorted(names)), (returns, sorted(returns)))

    def imported_by(self, facts: ModuleFacts) -> Imported:
        """What the names `facts`' module imports stand for, under the names it imports
        them as (`app.clients.http`, or `app.clients` for `from app import clients`,
        whose members then follow, and through re-exports such as `app/__init__.py`
        importing from `app.clients`); empty when it imports none of them."""
        imported = Imported()
        for _, target in facts.aliases:
            origin = self._unalias(target)
            prefix = origin + "."
            for (table, keys), found in zip(self._tables, (imported.names, imported.returns), strict=True):
                if origin in table and _uses(facts.references, target):
                    found[target] = table[origin]
                # The members of an imported module (or class).
                for key in keys[bisect_left(keys, prefix) :]:
                    if not key.startswith(prefix):
                        break
                    name = target + key[len(origin) :]
                    if _uses(facts.references, name):
                        found[name] = table[key]
        return imported


def _uses(references: tuple[str, ...], name: str) -> bool:
    """Whether the (sorted) `references` of a module hold `name` or one of its members."""
    at = bisect_left(references, name)
    if at < len(references) and references[at] == name:
        return True
    member = bisect_left(references, name + ".")
    return member < len(references) and references[member].startswith(name + ".")


@lru_cache(maxsize=4)
def _known_types(settings: Settings) -> frozenset[str]:
    """The types a name may hold that can change a finding, besides the project's own
    classes: those whose methods a blocking-call rule flags, those whose members or
    results `names` knows, and the framework's apps and routers.  Typing a name as any
    other class would only cost the module a second analysis: in a library, most
    modules import an instance of one."""
    types = set(REGISTRIES)
    for rule in ALL_RULES:
        if issubclass(rule, BlockingCallRule):
            types |= rule.flagged_types(settings)
    types |= {name.rpartition(".")[0] for name in (*RETURNS, *ATTRIBUTE_TYPES)}
    types |= {*RETURNS.values(), *MEMBER_TYPES, *MEMBER_TYPES.values(), *ATTRIBUTE_TYPES.values()}
    return frozenset(types)


def _blocking_classes(modules: Sequence[ModuleFacts]) -> set[str]:
    """The project's classes with a method that makes a blocking call itself: the start
    of a call chain through an instance of one."""
    return {
        f"{facts.module}.{function.qualname.rpartition('.')[0]}"
        for facts in modules
        for function in facts.functions
        if function.blocking and "." in function.qualname and "<locals>" not in function.qualname
    }
