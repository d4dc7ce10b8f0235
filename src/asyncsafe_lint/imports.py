"""What the names of a module or function body are bound to, for fixes that call into
another module: the name an import already gives it, or an edit that adds the import.

Only bindings a reader sees in the scope itself count (imports, assignments, `def`,
`class`, loop and `with` targets, parameters), including those in `if`/`try` blocks;
the bodies of nested functions and classes are other scopes.  A name with any binding
other than the import a fix wants is left alone.
"""

from __future__ import annotations

from asyncsafe_lint.deferred import cst
from asyncsafe_lint.edits import NodeEdit, insert_lines_after, insert_lines_before
from asyncsafe_lint.names import dotted

#: What a binding that is not an import binds.
OTHER = "<other>"


class Bindings(cst.CSTVisitor):
    """Name -> what each binding of it in one scope binds: `asyncio` (the module),
    `contextlib.asynccontextmanager` (a member imported by `from ... import`), or `OTHER`."""

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, set[str]] = {}

    def _bind(self, name: str, meaning: str) -> None:
        self.names.setdefault(name, set()).add(meaning)

    def _bind_target(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self._bind(target.value, OTHER)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind_target(element.value)
        elif isinstance(target, cst.StarredElement):
            self._bind_target(target.value)

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            module = dotted(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self._bind(alias.asname.name.value, module or OTHER)
            elif module is not None:
                top = module.split(".", 1)[0]
                self._bind(top, top)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        module = dotted(node.module) if node.module is not None and not node.relative else None
        if isinstance(node.names, cst.ImportStar):
            self._bind("*", OTHER)
            return False
        for alias in node.names:
            target = alias.asname.name if alias.asname is not None else alias.name
            if isinstance(target, cst.Name):
                member = dotted(alias.name)
                self._bind(target.value, f"{module}.{member}" if module and member else OTHER)
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind_target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind_target(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind_target(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind_target(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind_target(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        # `with ... as x`, `except ... as x` (imports are not walked into).
        self._bind_target(node.name)

    def visit_Param(self, node: cst.Param) -> None:
        self._bind(node.name.value, OTHER)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._bind(node.name.value, OTHER)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self._bind(node.name.value, OTHER)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def bindings(*nodes: cst.CSTNode) -> dict[str, set[str]]:
    visitor = Bindings()
    for node in nodes:
        node.visit(visitor)
    return visitor.names


def function_bindings(function: cst.FunctionDef) -> dict[str, set[str]]:
    """The names a function's parameters and body bind (its decorators run outside it)."""
    return bindings(function.params, function.body)


class ModuleImports:
    """The module-level bindings of one module."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.names = bindings(*module.body)

    def reference(self, qualname: str) -> str | None:
        """How the module or module member `qualname` (`asyncio`, `contextlib.asynccontextmanager`)
        can be spelled here through an existing import, or None."""
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

    def add(self, statement: str) -> NodeEdit:
        """An edit that adds the import `statement` after the docstring and the imports the
        module opens with."""
        last: cst.SimpleStatementLine | None = None
        for index, node in enumerate(self.module.body):
            if isinstance(node, cst.SimpleStatementLine) and (
                all(isinstance(small, (cst.Import, cst.ImportFrom)) for small in node.body)
                or (index == 0 and _is_docstring(node))
            ):
                last = node
                continue
            break
        if last is not None:
            return insert_lines_after(last, f"{statement}\n")
        first = self.module.body[0]
        # A decorated definition starts at its first decorator, not at `def`.
        if isinstance(first, (cst.FunctionDef, cst.ClassDef)) and first.decorators:
            return insert_lines_before(first.decorators[0], f"{statement}\n")
        return insert_lines_before(first, f"{statement}\n")


def _is_docstring(node: cst.SimpleStatementLine) -> bool:
    return (
        len(node.body) == 1
        and isinstance(node.body[0], cst.Expr)
        and isinstance(node.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
