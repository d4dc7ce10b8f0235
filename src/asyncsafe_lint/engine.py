"""Checks one file: parse once, walk once with every enabled rule, suppress, locate."""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Mapping, Sequence
from pathlib import Path

from libcst.metadata import MetadataWrapper, PositionProvider

from asyncsafe_lint.config import Settings
from asyncsafe_lint.contexts import Contexts, Function
from asyncsafe_lint.deferred import cst
from asyncsafe_lint.diagnostics import Diagnostic, Edit, Fix, Location
from asyncsafe_lint.edits import NodeEdit, NodeFix, Place
from asyncsafe_lint.facts import HELPER_CODE, FactsCollector, FileResult
from asyncsafe_lint.names import LOCAL, Names, Symbol
from asyncsafe_lint.positions import physical_lines
from asyncsafe_lint.project import project_diagnostics
from asyncsafe_lint.rule import BlockingCallRule, Call, Finding, Rule
from asyncsafe_lint.rules import ALL_RULES
from asyncsafe_lint.rules.asf001_syntax_error import SyntaxErrorRule
from asyncsafe_lint.rules.asf002_io_error import IOErrorRule
from asyncsafe_lint.suppress import is_suppressed
from asyncsafe_lint.walk import walk


def check_source(source: bytes, filename: str, settings: Settings, rules: Sequence[type[Rule]]) -> list[Diagnostic]:
    """Every finding of `rules` in one file's contents, taken as a project of its own,
    sorted by position."""
    result = analyze(source, filename, settings, rules, Path(filename).stem)
    facts = [result.facts] if result.facts is not None else []
    report_in = {filename} if any(rule.code == HELPER_CODE for rule in rules) else set()
    helpers = project_diagnostics(facts, settings.max_depth, report_in)
    return sorted([*result.diagnostics, *helpers], key=lambda d: d.sort_key)


def analyze(
    source: bytes, filename: str, settings: Settings, rules: Sequence[type[Rule]], module: str
) -> FileResult:
    """The findings of `rules` in one file (the module `module`), and its facts."""
    if b"\0" in source:
        return FileResult([file_error(filename, "binary file (it contains NUL bytes), not Python source")])
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        text = source.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as error:
        return FileResult([file_error(filename, f"cannot decode: {error}")])
    active = [rule for rule in rules if any(trigger in text for trigger in rule.triggers)]
    # Only functions and imports (re-exports) make facts worth gathering.
    collector = _collector(settings, filename, module) if "def" in text or "import" in text else None
    if not active and collector is None:
        return FileResult(_syntax_errors(filename, source))
    try:
        tree = _parse(source)
    except cst.ParserSyntaxError as error:
        return FileResult([_syntax_error(filename, source, error)])
    instances = [rule(settings) for rule in active]
    walker = _Walker(instances, collector)
    walk(tree, walker)
    for rule in instances:
        rule.leave_module()
    lines = physical_lines(text)
    facts = collector.facts(tree, source, lines, walker.contexts) if collector is not None else None
    return FileResult(_diagnostics(filename, tree, lines, instances), facts)


def _parse(source: bytes) -> cst.Module:
    """`cst.parse_module` without each node's `_validate`: the parser only builds valid
    trees, and checking every node again costs about a sixth of parsing."""
    node = cst.CSTNode
    validate = node.__post_init__
    node.__post_init__ = _unchecked  # type: ignore[method-assign]
    try:
        return cst.parse_module(source)
    finally:
        node.__post_init__ = validate  # type: ignore[method-assign]


def _unchecked(self: cst.CSTNode) -> None:
    pass


def _collector(settings: Settings, filename: str, module: str) -> FactsCollector | None:
    """What gathers the file's facts, when the project pass will use them."""
    if not any(rule.code == HELPER_CODE for rule in settings.rules):
        return None
    # Whatever an ASF1xx rule knows to block ends a chain, whether that rule is selected or not.
    probes = [rule(settings) for rule in ALL_RULES if issubclass(rule, BlockingCallRule)]
    return FactsCollector(module, filename, Path(filename).stem == "__init__", probes)


def file_error(filename: str, reason: str) -> Diagnostic:
    start = Location(1, 1)
    return Diagnostic(filename, start, start, IOErrorRule.code, IOErrorRule.name, IOErrorRule.message.format(reason=reason))


def _syntax_errors(filename: str, source: bytes) -> list[Diagnostic]:
    """ASF001 for a file that no enabled rule needs parsed (it is always on).  CPython's
    parser is much faster than libcst's; libcst, the one that has the final word, is only
    asked when CPython rejects the file (it may know newer syntax than this Python)."""
    try:
        compile(source, "<unknown>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        try:
            _parse(source)
        except cst.ParserSyntaxError as error:
            return [_syntax_error(filename, source, error)]
    return []


def _syntax_error(filename: str, source: bytes, error: cst.ParserSyntaxError) -> Diagnostic:
    # CPython's own parser names the cause and the place far better than libcst's does.
    try:
        compile(source, filename, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as python_error:
        start = Location(python_error.lineno or 1, python_error.offset or 1)
        reason = python_error.msg
    else:
        start = Location(error.raw_line, error.raw_column + 1)
        reason = error.message
    message = SyntaxErrorRule.message.format(reason=reason)
    return Diagnostic(filename, start, start, SyntaxErrorRule.code, SyntaxErrorRule.name, message)


def _diagnostics(filename: str, module: cst.Module, lines: list[str], rules: list[Rule]) -> list[Diagnostic]:
    findings = [(rule, finding) for rule in rules for finding in rule.findings()]
    if not findings:
        return []
    # Positions cost a second pass over the tree, so only files with findings pay for it.
    positions = _positions(module)
    diagnostics = []
    for rule, finding in findings:
        diagnostic = _locate(filename, positions, rule, finding)
        if not is_suppressed(lines[diagnostic.location.row - 1], rule.code):
            diagnostics.append(diagnostic)
    return sorted(set(diagnostics), key=lambda d: d.sort_key)


def _positions(module: cst.Module) -> Mapping[cst.CSTNode, object]:
    """libcst's `PositionProvider` for every node.  Not through `MetadataWrapper.resolve`,
    which then walks the whole tree once more (rebuilding every node) for batchable
    providers, of which there are none here: that walk costs nearly as much again."""
    return PositionProvider()._gen(MetadataWrapper(module, unsafe_skip_copy=True))


def _locate(filename: str, positions: object, rule: Rule, finding: Finding) -> Diagnostic:
    span = positions[finding.node]  # type: ignore[index]
    return Diagnostic(
        filename,
        Location(span.start.line, span.start.column + 1),
        Location(span.end.line, span.end.column + 1),
        rule.code,
        rule.name,
        finding.message,
        None if finding.fix is None else _fix(positions, finding.fix),
    )


def _fix(positions: object, fix: NodeFix) -> Fix:
    edits = (Edit(_place(positions, e.start), _place(positions, e.end), _content(positions, e)) for e in fix.edits)
    # A stable sort: insertions at one place stay in the order the rule gave them.
    return Fix(fix.message, tuple(sorted(edits, key=lambda e: (e.location, e.end_location))), fix.applicability)


def _content(positions: object, edit: NodeEdit) -> str:
    if edit.align is None:
        return edit.content
    # Lines the fix adds inside brackets, where spaces are always a valid indentation.
    indent = " " * positions[edit.align].start.column  # type: ignore[index]
    return "".join(f"{indent}{line}" if line.strip() else line for line in edit.content.splitlines(keepends=True))


def _place(positions: object, place: Place) -> Location:
    span = positions[place.node]  # type: ignore[index]
    point = span.end if place.end else span.start
    if place.line:
        return Location(point.line + 1 if place.end else point.line, 1)
    return Location(point.line, point.column + 1)


class _Walker(cst.CSTVisitor):
    """The single walk: keeps names and contexts up to date and hands every call to the
    rules and to the facts collector."""

    def __init__(self, rules: Sequence[Rule], collector: FactsCollector | None = None) -> None:
        super().__init__()
        self.rules = rules
        self.collector = collector
        self.names = Names()
        self.contexts = Contexts(self.names)
        for rule in rules:
            rule.contexts = self.contexts

    # --- module: bind what every function body can see before walking any of them ---------
    def visit_Module(self, node: cst.Module) -> None:
        for rule in self.rules:
            rule.module = node
        for statement in node.body:
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    self._bind_statement(small)
                    self._module_alias(small)
            elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                self.names.bind(statement.name.value, Symbol(LOCAL + statement.name.value))

    def _module_alias(self, node: cst.BaseSmallStatement) -> None:
        if self.collector is not None and isinstance(node, (cst.Import, cst.ImportFrom)):
            for alias in node.names if isinstance(node.names, Sequence) else ():
                bound = alias.evaluated_alias or alias.evaluated_name.split(".", 1)[0]
                symbol = self.names.scope.bindings.get(bound)
                if symbol is not None:
                    self.collector.alias(bound, symbol.qualname)

    def _bind_statement(self, node: cst.BaseSmallStatement) -> None:
        if isinstance(node, cst.Import):
            self.names.bind_import(node)
        elif isinstance(node, cst.ImportFrom):
            self.names.bind_import_from(node)
        elif isinstance(node, cst.Assign):
            symbol = self.names.resolve(node.value)
            for target in node.targets:
                self.names.bind_target(target.target, symbol)
        elif isinstance(node, cst.AnnAssign):
            self.names.bind_target(node.target, self.names.annotation(node.annotation.annotation))

    def visit_Import(self, node: cst.Import) -> None:
        self._bind_statement(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self._bind_statement(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        symbol = self.names.resolve(node.value)
        for target in node.targets:
            self._class_attribute(target.target, symbol)
        if self.contexts.function is None and self.contexts.class_name is None and len(node.targets) == 1:
            self.contexts.roles.assign(node.targets[0].target, node.value, symbol)
        self._bind_statement(node)

    def leave_Assign(self, original_node: cst.Assign) -> None:
        self.contexts.roles.owner = None

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        symbol = self.names.annotation(node.annotation.annotation)
        self._class_attribute(node.target, symbol)
        if self.contexts.function is None and self.contexts.class_name is None and node.value is not None:
            self.contexts.roles.assign(node.target, node.value, self.names.resolve(node.value))
        self._bind_statement(node)

    def leave_AnnAssign(self, original_node: cst.AnnAssign) -> None:
        self.contexts.roles.owner = None

    def _class_attribute(self, target: cst.BaseExpression, symbol: Symbol | None) -> None:
        # `lock = threading.Lock()` or `client: httpx.Client` in a class body types
        # `self.lock` and `self.client` in its methods.
        class_name = self.contexts.class_name
        if class_name is not None and isinstance(target, cst.Name):
            self.names.class_attributes.setdefault(LOCAL + class_name, {})[target.value] = symbol

    def visit_For(self, node: cst.For) -> None:
        self.names.bind_target(node.target, None)

    def visit_With(self, node: cst.With) -> None:
        if self.collector is not None:
            self.collector.nodes.with_items.extend(node.items)
        for item in node.items:
            entered = self.names.resolve(item.item)
            if item.asname is not None:
                self.names.bind_target(item.asname.name, entered)
            if node.asynchronous is None and entered is not None and entered.instance:
                self._dispatch(item, f"{entered.qualname}.__enter__")

    # --- functions and classes --------------------------------------------------------------
    # Decorators, defaults and annotations run in the enclosing scope: only the body is new.
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        function = self._function(node)
        self.names.bind(node.name.value, Symbol(function.key))
        self.contexts.roles.signature(function, node)
        if self.collector is not None:
            decorators = [self.names.resolve(d.decorator) for d in node.decorators]
            self.collector.function(function, [d.qualname if d is not None else None for d in decorators])

    def _function(self, node: cst.FunctionDef) -> Function:
        name = node.name.value
        is_async = node.asynchronous is not None
        return Function(name, is_async, node, self.contexts.class_name, self.contexts.qualname(name))

    def visit_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self.contexts.roles.owner = None
        function = self._function(node)
        self.contexts.enter_function(function)
        self.names.push()
        self._bind_parameters(node.params, function.class_name, node)

    def leave_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self.names.pop()
        self.contexts.leave()

    def visit_Lambda_body(self, node: cst.Lambda) -> None:
        self.contexts.enter_function(Function("<lambda>", False, node))
        self.names.push()
        self._bind_parameters(node.params, None, node)

    def leave_Lambda_body(self, node: cst.Lambda) -> None:
        self.names.pop()
        self.contexts.leave()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.names.bind(node.name.value, Symbol(LOCAL + node.name.value))
        self.contexts.roles.base_classes(node.name.value, node.bases)
        if self.collector is not None:
            self.collector.class_(self.contexts.qualname(node.name.value))

    def visit_ClassDef_body(self, node: cst.ClassDef) -> None:
        self.contexts.enter_class(node.name.value)
        self.names.push(is_class=True)

    def leave_ClassDef_body(self, node: cst.ClassDef) -> None:
        self.names.pop()
        self.contexts.leave()

    def _bind_parameters(self, params: cst.Parameters, class_name: str | None, node: cst.CSTNode) -> None:
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                every.append(star)
        for index, param in enumerate(every):
            symbol = None
            if param.annotation is not None:
                symbol = self.names.annotation(param.annotation.annotation)
            elif index == 0 and class_name is not None and isinstance(node, cst.FunctionDef):
                symbol = self._receiver(node, class_name)
            self.names.bind(param.name.value, symbol)

    def _receiver(self, node: cst.FunctionDef, class_name: str) -> Symbol | None:
        decorators = {d.decorator.value for d in node.decorators if isinstance(d.decorator, cst.Name)}
        if "staticmethod" in decorators:
            return None
        return Symbol(LOCAL + class_name, instance="classmethod" not in decorators)

    # --- calls -----------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        if self.collector is not None:
            self.collector.nodes.calls.append(node)
        callee = self.names.resolve(node.func)
        name = None if callee is None or callee.instance else callee.qualname
        self.contexts.roles.call(node, name)
        self._dispatch(node, name)

    def _dispatch(self, node: cst.Call | cst.WithItem, name: str | None) -> None:
        call = Call(node, name, self.contexts.function, self.contexts.on_loop)
        for rule in self.rules:
            rule.visit_call(call)
        if self.collector is not None:
            self.collector.call(call)
