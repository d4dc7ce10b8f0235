"""What the names of a module or function body are bound to, for fixes that call into
another module: the name an import already gives it, or none (the fix adds the import).

Only bindings a reader sees in the scope itself count (imports, assignments, `def`,
`class`, loop and `with` targets, parameters), including those in `if`/`try` blocks;
the bodies of nested functions and classes are other scopes.  A name with any binding
other than the import a fix wants is left alone.

This is a different question from the one `names.Scope` answers during the walk (what
a name is bound to at this point of the code, to resolve a call): a fix must know every
binding of a name anywhere in the scope, the ones further down included, since the
name it adds must mean the same everywhere.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterable, Iterator

from asyncsafe_lint.rule import RuleContext
from asyncsafe_lint.syntax import Function, FunctionNode

#: What a binding that is not an import binds.
OTHER = "<other>"

#: Bindings -> what each binding of a name in one scope binds: `asyncio` (the module),
#: `contextlib.asynccontextmanager` (a member imported by `from ... import`), or `OTHER`.
Bindings = dict[str, set[str]]


def bindings(nodes: Iterable[ast.AST]) -> Bindings:
    found: Bindings = {}
    for name, meaning in _scope_bindings(nodes):
        found.setdefault(name, set()).add(meaning)
    return found


def binding_counts(nodes: Iterable[ast.AST]) -> Counter[str]:
    """How many times the scope binds each name, in `if`/`try` blocks too."""
    return Counter(name for name, _ in _scope_bindings(nodes))


def _scope_bindings(nodes: Iterable[ast.AST]) -> Iterator[tuple[str, str]]:
    """Each binding of a name in the scope of `nodes`, and what it binds."""
    pending = list(nodes)
    while pending:
        node = pending.pop()
        yield from _binds(node)
        if not isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.Import, ast.ImportFrom)
        ):
            pending.extend(ast.iter_child_nodes(node))


def _binds(node: ast.AST) -> Iterable[tuple[str, str]]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname is not None:
                yield alias.asname, alias.name
            else:
                top = alias.name.split(".", 1)[0]
                yield top, top
    elif isinstance(node, ast.ImportFrom):
        module = node.module if not node.level else None
        for alias in node.names:
            if alias.name == "*":
                yield "*", OTHER
            else:
                yield alias.asname or alias.name, f"{module}.{alias.name}" if module else OTHER
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        yield node.id, OTHER
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name, OTHER
    elif isinstance(node, ast.arg):
        yield node.arg, OTHER
    elif isinstance(node, ast.ExceptHandler) and node.name is not None:
        yield node.name, OTHER


def function_bindings(function: FunctionNode | ast.Lambda) -> Bindings:
    """The names a function's parameters and body bind (its decorators run outside it)."""
    arguments = function.args
    parameters = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
    body = function.body if isinstance(function.body, list) else [function.body]
    return bindings([*(p for p in parameters if p is not None), *body])


class Scopes:
    """Whether a function of one module, or one it is nested in, binds a name (class
    bodies around it are not seen): what a name a fix adds would mean there.  One per
    file, made by `RuleContext.shared`; each function's bindings are read once, and only
    for a name its text holds at all."""

    def __init__(self, context: RuleContext) -> None:
        self._lines = context.source.lines
        self._own: dict[int, Bindings] = {}
        self._texts: dict[int, str] = {}

    def binds(self, function: Function, name: str) -> bool:
        outermost = function
        while outermost.outer is not None:
            outermost = outermost.outer
        if name not in self._text(outermost.node):
            return False
        scope: Function | None = function
        while scope is not None:
            if name in self._bindings(scope.node):
                return True
            scope = scope.outer
        return False

    def _text(self, node: FunctionNode | ast.Lambda) -> str:
        if id(node) not in self._texts:
            self._texts[id(node)] = "\n".join(self._lines[node.lineno - 1 : node.end_lineno])
        return self._texts[id(node)]

    def _bindings(self, node: FunctionNode | ast.Lambda) -> Bindings:
        if id(node) not in self._own:
            self._own[id(node)] = function_bindings(node)
        return self._own[id(node)]


class ModuleImports:
    """The module-level bindings of one module."""

    def __init__(self, tree: ast.Module) -> None:
        self.names = bindings(tree.body)
        self._references: dict[str, str | None] = {}

    def reference(self, qualname: str) -> str | None:
        """How the module or module member `qualname` (`asyncio`, `contextlib.asynccontextmanager`)
        can be spelled here through an existing import, or None."""
        if qualname not in self._references:
            self._references[qualname] = self._spelling(qualname)
        return self._references[qualname]

    def _spelling(self, qualname: str) -> str | None:
        module, _, member = qualname.rpartition(".")
        for name, meanings in self.names.items():
            if meanings == {qualname}:
                return name
            if module and meanings == {module}:
                return f"{name}.{member}"
        return None

    def uses(self, module: str) -> bool:
        """True when the module imports `module` or something from it."""
        return any(m == module or m.startswith(f"{module}.") for meanings in self.names.values() for m in meanings)

    def is_bound(self, name: str) -> bool:
        return name in self.names or "*" in self.names
