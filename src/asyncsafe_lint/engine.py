"""Checks one file: parse once, walk once with every enabled rule, suppress, locate."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from asyncsafe_lint.callgraph import project_findings
from asyncsafe_lint.config import Settings
from asyncsafe_lint.diagnostics import Diagnostic, Location
from asyncsafe_lint.enclosing import Enclosing
from asyncsafe_lint.facts import FactsCollector, FileResult
from asyncsafe_lint.handoff import HandOff
from asyncsafe_lint.names import LOCAL, Imported, Names, Symbol
from asyncsafe_lint.roles import Roles
from asyncsafe_lint.rule import BlockingCallRule, Call, Rule, RuleContext
from asyncsafe_lint.rules import ALL_RULES, CALL_CHAINS, TOO_NEW, UNPARSABLE, UNREADABLE
from asyncsafe_lint.source import Source, encoding_of, parse
from asyncsafe_lint.suppress import is_suppressed
from asyncsafe_lint.syntax import Function, FunctionNode


def check_source(
    source: bytes,
    filename: str,
    settings: Settings,
    rules: Sequence[type[Rule]],
    module: str | None = None,
    imported: Imported | None = None,
    project: Sequence[Diagnostic] = (),
) -> list[Diagnostic]:
    """Every finding of `rules` in one file's contents, taken as a project of its own,
    sorted by position, each with its fix; the file is the module `module` (default: its
    name), and its imported names stand for `imported` (see `names.Imported`).
    `project`: the findings the project pass made in the file, the call chains through
    other modules that it does not see alone, to be given the fixes of their calls."""
    name = Path(filename).stem if module is None else module
    result = analyze(source, filename, settings, rules, name, imported, fixing=True)
    facts = [result.facts] if result.facts is not None else []
    report_in = {filename} if any(rule.code == CALL_CHAINS.code for rule in rules) else set()
    found = project_findings(facts, settings.max_depth, report_in, {filename}).findings(result.diagnostics)
    seen = {(d.code, d.location) for d in found}
    fixes = {site.start: site.fix for fact in facts for function in fact.functions for site in function.calls}
    chains = [replace(d, fix=fixes.get(d.location)) for d in project if (d.code, d.location) not in seen]
    return sorted([*found, *chains], key=lambda d: d.sort_key)


def analyze(
    source: bytes,
    filename: str,
    settings: Settings,
    rules: Sequence[type[Rule]],
    module: str,
    imported: Imported | None = None,
    fixing: bool = False,
) -> FileResult:
    """The findings of `rules` in one file (the module `module`), and its facts.
    `imported`: what the names it imports from the project's other modules stand for,
    once the project pass has read those (see `names.Imported`); `fixing`: the facts
    carry the fix of each call a call chain may start at (see `FactsCollector`)."""
    if b"\0" in source:
        return FileResult([file_error(filename, "binary file (it contains NUL bytes), not Python source")])
    try:
        text = source.decode(encoding_of(source))
    except (SyntaxError, UnicodeDecodeError, LookupError) as error:
        return FileResult([file_error(filename, f"cannot decode: {error}")])
    read = _read(source, text, filename, settings)
    if isinstance(read, Diagnostic):
        return FileResult([read])
    tree, text = read
    active = [rule for rule in rules if any(trigger in text for trigger in rule.triggers)]
    # Only functions and imports (re-exports) make facts worth gathering.
    gathers_facts = ("def" in text or "import" in text) and _facts_wanted(settings)
    if not active and not gathers_facts:
        return FileResult([])
    names = Names(module, Path(filename).stem == "__init__", imported)
    context = RuleContext(settings, tree, Source(text), Roles(names))
    instances = [rule(context) for rule in active]
    collector = _collector(context, settings, filename, module, fixing) if gathers_facts else None
    _Walker(names, context.roles, instances, collector).module(tree)
    for rule in instances:
        rule.leave_module()
    facts = collector.facts(context.source, context.roles, names) if collector is not None else None
    return FileResult(_diagnostics(filename, context.source, instances), facts)


def _facts_wanted(settings: Settings) -> bool:
    """Whether the project pass will use the files' facts: for the call chains, and for
    the messages of the blocking-call rules, which say where the code runs."""
    return any(rule.code == CALL_CHAINS.code or issubclass(rule, BlockingCallRule) for rule in settings.rules)


def _collector(context: RuleContext, settings: Settings, filename: str, module: str, fixing: bool) -> FactsCollector:
    # Whatever a blocking-call rule knows to block ends a chain, whether that rule is selected or not.
    probes = [rule(context) for rule in ALL_RULES if issubclass(rule, BlockingCallRule)]
    hand_off = context.shared(HandOff, HandOff) if fixing else None
    return FactsCollector(module, filename, probes, _probed(settings), hand_off)


@lru_cache(maxsize=4)
def _probed(settings: Settings) -> tuple[frozenset[str], frozenset[str]]:
    """The names some blocking-call rule may flag, and the types whose every method one
    may: most calls are neither, and need no look at the rules."""
    rules = [rule for rule in ALL_RULES if issubclass(rule, BlockingCallRule)]
    names = frozenset().union(*(rule.flagged_names(settings) for rule in rules))
    return names, frozenset(owner for rule in rules for owner in rule.any_method_of)


def file_error(filename: str, reason: str) -> Diagnostic:
    start = Location(1, 1)
    return UNREADABLE.diagnostic(filename, start, start, reason=reason)


def _read(source: bytes, text: str, filename: str, settings: Settings) -> tuple[ast.Module, str] | Diagnostic:
    """The file's tree and the text it was read from; or the finding that says why it
    cannot be read.  A file in syntax newer than the running Python's is read in older
    syntax with the same positions (see `downlevel`)."""
    try:
        tree = parse(source, filename)
    except SyntaxError as error:
        # Only for a file CPython rejects: libcst is loaded for it alone.
        from asyncsafe_lint.downlevel import downlevel

        older = downlevel(text)
        if older is None:
            return _syntax_error(filename, error)
        newest = older.newest
        target = settings.target_version
        if newest is not None and target is not None and newest.version > target:
            at = Location(newest.row, newest.column)
            reason = f"{newest.what} is Python {_release(newest.version)} syntax; the project targets Python {_release(target)}"
            return UNPARSABLE.diagnostic(filename, at, at, reason=reason)
        try:
            tree = parse(older.text, filename)
        except SyntaxError:
            at = (
                Location(newest.row, newest.column)
                if newest is not None
                else Location(error.lineno or 1, error.offset or 1)
            )
            version = _release(newest.version) if newest is not None else "3.x"
            what = newest.what if newest is not None else "syntax newer than its own"
            return TOO_NEW.diagnostic(
                filename, at, at, version=version, what=what, running=_release(sys.version_info[:2])
            )
        text = older.text
    assert isinstance(tree, ast.Module)
    return tree, text


def _release(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _syntax_error(filename: str, error: SyntaxError) -> Diagnostic:
    start = Location(error.lineno or 1, error.offset or 1)
    return UNPARSABLE.diagnostic(filename, start, start, reason=error.msg)


def _diagnostics(filename: str, source: Source, rules: list[Rule]) -> list[Diagnostic]:
    diagnostics = []
    for rule in rules:
        for finding in rule.findings():
            start = source.start(finding.node)
            if not is_suppressed(source.line(start.row), rule.code):
                end = source.end(finding.node)
                diagnostics.append(
                    Diagnostic(filename, start, end, rule.code, rule.name, finding.message, finding.fix, finding.place)
                )
    # Deduplicated in the order found, so that findings at one position keep a stable order.
    return sorted(dict.fromkeys(diagnostics), key=lambda d: d.sort_key)


class _Walker:
    """The single walk: keeps names, roles and what encloses the code up to date and hands every call to the
    rules and to the facts collector.  Statements and expressions that bind names or
    open scopes have a method of their own (`_FunctionDef`...); everything else is
    walked through, child by child, in source order."""

    def __init__(self, names: Names, roles: Roles, rules: Sequence[Rule], collector: FactsCollector | None) -> None:
        self.names = names
        self.roles = roles
        self.rules = rules
        self.collector = collector
        self.enclosing = Enclosing()
        self._handlers: dict[type[ast.AST], Callable[[Any], None]] = {}
        #: Lambdas assigned to a name (`get = lambda: ...`): called by that name, they are
        #: functions like any other.
        self._named_lambdas: dict[ast.Lambda, str] = {}

    # --- module: bind what every function body can see before walking any of them ---------
    def module(self, tree: ast.Module) -> None:
        for statement in tree.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.names.bind(statement.name, Symbol(LOCAL + statement.name))
            else:
                self._bind_statement(statement)
                self._module_alias(statement)
        self._declared_returns(tree.body, "")
        self._children(tree.body)

    def _declared_returns(self, body: list[ast.stmt], owner: str) -> None:
        """What the module's functions and methods return, as annotated, known before any
        body is walked: a function may be called above its definition.  A property's
        type is its attribute's."""
        for statement in body:
            if isinstance(statement, ast.ClassDef) and not owner:
                self._declared_returns(statement.body, statement.name)
            if not isinstance(statement, FunctionNode) or statement.returns is None:
                continue
            declared = self.names.annotation(statement.returns)
            if declared is None:
                continue
            if owner and any(self._is_property(d) for d in statement.decorator_list):
                self.names.class_attributes.setdefault(LOCAL + owner, {})[statement.name] = declared
            else:
                self.names.returns[LOCAL + (f"{owner}." if owner else "") + statement.name] = declared

    def _is_property(self, decorator: ast.expr) -> bool:
        symbol = self.names.resolve(decorator)
        return symbol is not None and symbol.qualname in _PROPERTIES

    def _module_alias(self, node: ast.stmt) -> None:
        if self.collector is not None and isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".", 1)[0]
                symbol = self.names.scope.bindings.get(bound)
                if symbol is not None:
                    self.collector.alias(bound, symbol.qualname)

    def _bind_statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            self.names.bind_import(node)
        elif isinstance(node, ast.ImportFrom):
            self.names.bind_import_from(node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                self.names.bind_value(target, node.value)
        elif isinstance(node, ast.AnnAssign):
            self.names.bind_target(node.target, self.names.annotation(node.annotation))

    # --- the walk ---------------------------------------------------------------------------
    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        handler = self._handlers.get(kind)
        if handler is None:
            handler = self._handlers[kind] = getattr(self, f"_{kind.__name__}", self._generic)
        handler(node)

    def _generic(self, node: ast.AST) -> None:
        for field in node._fields:
            value = getattr(node, field)
            if type(value) is list:
                self._children(value)
            elif isinstance(value, ast.AST) and type(value) not in _LEAVES:
                self.visit(value)

    def _children(self, nodes: list[Any]) -> None:
        for child in nodes:
            if isinstance(child, ast.AST) and type(child) not in _LEAVES:
                self.visit(child)

    def _Import(self, node: ast.Import) -> None:
        self._bind_statement(node)

    def _ImportFrom(self, node: ast.ImportFrom) -> None:
        self._bind_statement(node)

    def _Assign(self, node: ast.Assign) -> None:
        target = node.targets[0] if len(node.targets) == 1 else None
        if isinstance(node.value, ast.Lambda) and isinstance(target, ast.Name):
            self._named_lambdas[node.value] = target.id
        symbol = self.names.resolve(node.value)
        for each in node.targets:
            self._class_attribute(each, symbol, node.value)
        with self._assignment(target, node.value):
            self._bind_statement(node)
            self._generic(node)

    def _AnnAssign(self, node: ast.AnnAssign) -> None:
        self._class_attribute(node.target, self.names.annotation(node.annotation), node.value)
        value = node.value
        with self._assignment(node.target, value):
            self._bind_statement(node)
            self._generic(node)

    def _assignment(self, target: ast.expr | None, value: ast.expr | None) -> AbstractContextManager[None]:
        at_module_level = self.enclosing.function is None and self.enclosing.class_name is None
        if target is None or value is None or not at_module_level:
            return nullcontext()
        return self.roles.assignment(target, value)

    def _class_attribute(self, target: ast.expr, symbol: Symbol | None, value: ast.expr | None) -> None:
        # `lock = threading.Lock()` or `client: httpx.Client` in a class body types
        # `self.lock` and `self.client` in its methods; `API_V1_STR: str = "/api/v1"`
        # names a path.
        class_key = self.enclosing.class_key
        if class_key is not None and isinstance(target, ast.Name):
            self.names.class_attributes.setdefault(class_key, {})[target.id] = symbol
            self.roles.class_attribute(class_key, target, value)

    def _For(self, node: ast.For | ast.AsyncFor) -> None:
        self.names.bind_target(node.target, None)
        self._generic(node)

    _AsyncFor = _For

    def _With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            entered = self.names.resolve(item.context_expr)
            if item.optional_vars is not None:
                self.names.bind_target(item.optional_vars, entered)
            if isinstance(node, ast.With) and entered is not None and entered.instance:
                self._dispatch(item, f"{entered.qualname}.__enter__")
            elif entered is not None and self.collector is not None:
                self.collector.reference(entered.origin or entered.qualname)
        self._generic(node)

    _AsyncWith = _With

    # --- functions and classes --------------------------------------------------------------
    # Decorators, defaults and annotations run in the enclosing scope: only the body is new.
    def _FunctionDef(self, node: FunctionNode) -> None:
        function = self._function(node)
        self.names.bind(node.name, Symbol(function.key))
        if self.collector is not None:
            decorators = [self.names.resolve(d) for d in node.decorator_list]
            self.collector.function(function, [d.qualname if d is not None else None for d in decorators])
        with self.roles.header(function, node):
            self._children(node.decorator_list)
            self.visit(node.args)
            if node.returns is not None:
                self.visit(node.returns)
        self.enclosing.enter_function(function)
        self.names.push()
        self._bind_parameters(node.args, function.class_key, node)
        self._children(node.body)
        self.names.pop()
        self.enclosing.leave()

    _AsyncFunctionDef = _FunctionDef

    def _function(self, node: FunctionNode) -> Function:
        is_async = isinstance(node, ast.AsyncFunctionDef)
        enclosing = self.enclosing
        return Function(
            node.name, is_async, node, enclosing.class_name, enclosing.qualname(node.name), enclosing.function
        )

    def _Lambda(self, node: ast.Lambda) -> None:
        self.visit(node.args)
        name = self._named_lambdas.pop(node, None)
        if name is None:
            function = Function("<lambda>", False, node, outer=self.enclosing.function)
        else:
            function = Function(name, False, node, None, self.enclosing.qualname(name), self.enclosing.function)
            self.names.bind(name, Symbol(function.key))
            if self.collector is not None:
                self.collector.function(function, [])
        self.enclosing.enter_function(function)
        self.names.push()
        self._bind_parameters(node.args, None, node)
        self.visit(node.body)
        self.names.pop()
        self.enclosing.leave()

    def _ClassDef(self, node: ast.ClassDef) -> None:
        class_key = LOCAL + self.enclosing.qualname(node.name)
        self.names.bind(node.name, Symbol(class_key))
        self.roles.base_classes(class_key, node.bases)
        if self.collector is not None:
            self.collector.class_(self.enclosing.qualname(node.name))
        self._children(node.decorator_list)
        self._children(node.bases)
        self._children(node.keywords)
        self.enclosing.enter_class(node.name)
        self.names.push(is_class=True)
        self._children(node.body)
        self.names.pop()
        self.enclosing.leave()

    def _bind_parameters(self, arguments: ast.arguments, class_key: str | None, node: ast.AST) -> None:
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [star for star in (arguments.vararg, arguments.kwarg) if star is not None]
        for index, param in enumerate(every):
            symbol = None
            if param.annotation is not None:
                symbol = self.names.annotation(param.annotation)
            elif index == 0 and class_key is not None and isinstance(node, FunctionNode):
                symbol = self._receiver(node, class_key)
            self.names.bind(param.arg, symbol)

    def _receiver(self, node: FunctionNode, class_key: str) -> Symbol | None:
        decorators = {d.id for d in node.decorator_list if isinstance(d, ast.Name)}
        if "staticmethod" in decorators:
            return None
        return Symbol(class_key, instance="classmethod" not in decorators)

    # --- calls -----------------------------------------------------------------------------
    def _Call(self, node: ast.Call) -> None:
        callee = self.names.resolve(node.func)
        name = None if callee is None or callee.instance else callee.qualname
        self.roles.call(node, name)
        self._dispatch(node, name)
        self._generic(node)

    def _dispatch(self, node: ast.Call | ast.withitem, name: str | None) -> None:
        call = Call(node, name, self.enclosing.function, self.enclosing.on_loop)
        for rule in self.rules:
            rule.visit_call(call)
        if self.collector is not None:
            self.collector.call(call)


#: Decorators that make a method an attribute of its instances.
_PROPERTIES = frozenset({"builtins.property", "functools.cached_property"})

#: Nodes that never hold a call or a binding: names (the statements that bind one read it
#: themselves), an import's names, names' contexts and operators.
_LEAVES = frozenset(
    {
        ast.Name,
        ast.alias,
        ast.Load,
        ast.Store,
        ast.Del,
        ast.Constant,
        ast.Pass,
        ast.Break,
        ast.Continue,
        *(sub for base in (ast.operator, ast.boolop, ast.cmpop, ast.unaryop) for sub in base.__subclasses__()),
    }
)
