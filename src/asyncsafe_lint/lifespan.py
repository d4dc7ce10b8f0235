"""The ASF301 fix: an app's startup and shutdown handlers become one lifespan.

For an app built at module level (`app = FastAPI(...)`), every handler registered on
it - `on_startup=[...]` / `on_shutdown=[...]` in the constructor, then
`@app.on_event(...)`, `app.on_event(...)(f)` and `app.add_event_handler(..., f)`
statements in the order the module runs them - is called from one
`@asynccontextmanager` function, inserted above the app and passed as `lifespan=`.
The handler functions stay where they are, comments and all; only the registrations
go.  Once an app has a lifespan, FastAPI ignores its event handlers, so the fix moves
all of them or none: one registration it cannot place in order (inside a function, on
`app.router.on_startup` directly, with an event or a handler it cannot read) leaves
the whole app to a human, and the finding says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from asyncsafe_lint.deferred import cst
from asyncsafe_lint.diagnostics import Applicability
from asyncsafe_lint.edits import (
    NodeEdit,
    NodeFix,
    Place,
    add_argument,
    insert_lines_before,
    remove_argument,
    replace_lines,
)

EVENTS = ("startup", "shutdown")
HANDLER_KEYWORDS = {"on_startup": "startup", "on_shutdown": "shutdown"}
CONTEXT_MANAGER = "contextlib.asynccontextmanager"


@dataclass(frozen=True, slots=True)
class Registration:
    """A reported call that registers a handler."""

    node: cst.Call
    #: The name the app (or router) is reached through: `app` in `app.router.on_event(...)`.
    root: str | None
    in_function: bool
    #: True for `app.router.on_startup.append(f)` and the like.
    direct_list: bool


@dataclass
class _App:
    name: str
    statement: cst.SimpleStatementLine
    call: cst.Call
    handlers: dict[str, list[cst.FunctionDef]] = field(default_factory=lambda: {event: [] for event in EVENTS})
    removals: list[NodeEdit] = field(default_factory=list)
    problem: str | None = None

    def block(self, problem: str) -> None:
        self.problem = self.problem or problem


class LifespanPlan:
    """Which apps of one module the fix can rewrite, and how."""

    def __init__(
        self,
        module: cst.Module,
        app_calls: Sequence[cst.Call],
        router_calls: Sequence[cst.Call],
        registrations: Sequence[Registration],
        includes: Sequence[tuple[str, str]],
    ) -> None:
        # Here, not at the top: `imports` defines a libcst visitor (see `deferred`).
        from asyncsafe_lint.imports import OTHER, ModuleImports

        self.module = module
        self.imports = ModuleImports(module)
        self._assigned = _assignment_counts(module)
        #: The module's functions whose name is bound once, by their `def`.
        self._functions = {
            node.name.value: node
            for node in module.body
            if isinstance(node, cst.FunctionDef)
            and self._assigned[node.name.value] == 1
            and self.imports.names.get(node.name.value) == {OTHER}
        }
        self.apps = {name: _App(name, *built) for name, built in self._built(app_calls).items()}
        for app in self.apps.values():
            if self._assigned[app.name] > 1:
                app.block(f"`{app.name}` is assigned more than once")
        routers = self._built(router_calls)
        self._routers = set(routers)
        self._names_of_calls = {id(call): name for name, (_, call) in [*routers.items(), *self._built(app_calls).items()]}
        self._handled: set[int] = set()
        for app in self.apps.values():
            self._constructor_handlers(app)
        self._registration_statements()
        for registration in registrations:
            self._check(registration, includes)
        self._fixes = self._build_fixes()

    # --- what the module does -------------------------------------------------------------
    def _built(self, calls: Sequence[cst.Call]) -> dict[str, tuple[cst.SimpleStatementLine, cst.Call]]:
        """The module-level names assigned one of `calls`: `app = FastAPI()`."""
        wanted = {id(call) for call in calls}
        built: dict[str, tuple[cst.SimpleStatementLine, cst.Call]] = {}
        for statement in self.module.body:
            if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
                continue
            small = statement.body[0]
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target, value = small.targets[0].target, small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                target, value = small.target, small.value
            else:
                continue
            if isinstance(target, cst.Name) and isinstance(value, cst.Call) and id(value) in wanted:
                built[target.value] = (statement, value)
        return built

    def _constructor_handlers(self, app: _App) -> None:
        for arg in app.call.args:
            if arg.star:
                app.block("its constructor takes `**kwargs`")
            elif arg.keyword is None:
                continue
            elif arg.keyword.value == "lifespan" and not _is_none(arg.value):
                app.block("the app already has a `lifespan=`; move the handlers into it")
            elif arg.keyword.value in HANDLER_KEYWORDS and not _is_none(arg.value):
                event = HANDLER_KEYWORDS[arg.keyword.value]
                if not isinstance(arg.value, (cst.List, cst.Tuple)):
                    app.block(f"`{arg.keyword.value}=` is not a list written out")
                    continue
                for element in arg.value.elements:
                    self._add_handler(app, event, element.value)

    def _registration_statements(self) -> None:
        """`@app.on_event(...)` on a function, `app.on_event(...)(f)` and
        `app.add_event_handler(..., f)` statements, in the order the module runs them."""
        for statement in self.module.body:
            if isinstance(statement, cst.FunctionDef):
                for decorator in statement.decorators:
                    registered = _on_event(decorator.decorator)
                    if registered is None:
                        continue
                    call, app = registered, self._app_of(registered)
                    if app is None:
                        continue
                    self._handled.add(id(call))
                    if len(statement.decorators) > 1:
                        app.block(f"the handler `{statement.name.value}` has other decorators")
                    event = _event(call.args[0].value if call.args else None)
                    if event is None:
                        app.block("the event is not written as a string")
                        continue
                    app.handlers[event].append(statement)
                    app.removals.append(replace_lines(decorator, _comment_line(decorator.trailing_whitespace)))
            elif isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
                small = statement.body[0]
                if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                    self._registration_call(statement, small.value)

    def _registration_call(self, statement: cst.SimpleStatementLine, call: cst.Call) -> None:
        if isinstance(call.func, cst.Call) and _on_event(call.func) is not None:
            registered, event_node = call.func, call.func.args[0].value if call.func.args else None
            handler = call.args[0].value if len(call.args) == 1 and not call.args[0].keyword else None
        elif _method(call) == "add_event_handler" and len(call.args) == 2:
            registered, event_node, handler = call, call.args[0].value, call.args[1].value
        else:
            return
        app = self._app_of(registered)
        if app is None:
            return
        self._handled.add(id(registered))
        event = _event(event_node)
        if event is None or handler is None:
            app.block("the event is not written as a string")
            return
        if self._add_handler(app, event, handler):
            app.removals.append(replace_lines(statement, _comment_line(statement.trailing_whitespace)))

    def _add_handler(self, app: _App, event: str, handler: cst.BaseExpression) -> bool:
        function = self._functions.get(handler.value) if isinstance(handler, cst.Name) else None
        if function is None or function.decorators:
            shown = f"`{handler.value}`" if isinstance(handler, cst.Name) else "a handler"
            app.block(f"{shown} is not a plain function of this module")
            return False
        app.handlers[event].append(function)
        return True

    def _app_of(self, registered: cst.Call) -> _App | None:
        receiver = registered.func.value if isinstance(registered.func, cst.Attribute) else None
        return self.apps.get(receiver_name(receiver) or "")

    def _check(self, registration: Registration, includes: Sequence[tuple[str, str]]) -> None:
        app = self.apps.get(registration.root or "")
        if app is not None and id(registration.node) not in self._handled:
            if registration.in_function:
                app.block("a handler is registered inside a function")
            elif registration.direct_list:
                app.block("a handler is added to the handler list directly")
            else:
                app.block("a registration is written in a way the fix cannot follow")
        for includer, router in includes:
            if router == registration.root and includer in self.apps:
                self.apps[includer].block(f"it includes `{router}`, whose handlers would no longer run in order")

    # --- the fixes ------------------------------------------------------------------------
    def _build_fixes(self) -> dict[str, NodeFix]:
        fixes: dict[str, NodeFix] = {}
        taken: set[str] = set()
        for app in self.apps.values():
            if app.problem is None:
                fix = self._fix(app, taken)
                if fix is not None:
                    fixes[app.name] = fix
        return fixes

    def _fix(self, app: _App, taken: set[str]) -> NodeFix | None:
        edits: list[NodeEdit] = []
        decorator = self.imports.reference(CONTEXT_MANAGER)
        if decorator is None:
            if self.imports.is_bound("asynccontextmanager"):
                app.block("`asynccontextmanager` means something else in this module")
                return None
            edits.append(self.imports.add("from contextlib import asynccontextmanager"))
            decorator = "asynccontextmanager"
        name = next((n for n in ("lifespan", f"{app.name}_lifespan") if not self._is_taken(n, taken)), None)
        if name is None:
            app.block("there is no free name for the lifespan function")
            return None
        constructor = self._constructor_edits(app, name)
        if constructor is None:
            app.block("its constructor has comments where `lifespan=` would go")
            return None
        taken.add(name)
        edits.append(self._insert_function(app, decorator, name))
        edits.extend(constructor)
        edits.extend(app.removals)
        message = f"Move the startup and shutdown handlers into a `{name}` function"
        return NodeFix(message, tuple(edits), Applicability.UNSAFE)

    def _is_taken(self, name: str, taken: set[str]) -> bool:
        return name in taken or self.imports.is_bound(name)

    def _insert_function(self, app: _App, decorator: str, name: str) -> NodeEdit:
        indent = self.module.default_indent
        body = [_call(f) for f in app.handlers["startup"]]
        if app.handlers["shutdown"]:
            # As FastAPI's own default lifespan does, shutdown runs even when serving ends in an error.
            body += ["try:", f"{indent}yield", "finally:", *(indent + _call(f) for f in app.handlers["shutdown"])]
        else:
            body.append("yield")
        code = "".join(f"{line}\n" for line in [f"@{decorator}", f"async def {name}(_app):"])
        code += "".join(f"{indent}{line}\n" for line in body)
        leading = app.statement.leading_lines
        # Above the blank lines and comments that lead to the app, and as far from it.
        if leading:
            after = "" if leading[0].comment is None else "\n\n"
            return insert_lines_before(leading[0], f"\n\n{code}{after}")
        return insert_lines_before(app.statement, f"\n\n{code}\n\n")

    def _constructor_edits(self, app: _App, name: str) -> list[NodeEdit] | None:
        handler_args = [
            arg for arg in app.call.args
            if arg.keyword is not None and arg.keyword.value in HANDLER_KEYWORDS and not _is_none(arg.value)
        ]  # fmt: skip
        if not handler_args:
            added = add_argument(app.call, f"lifespan={name}")
            return None if added is None else [added]
        first, *others = handler_args
        assert first.keyword is not None
        return [
            NodeEdit(Place(first.keyword), Place(first.value, end=True), f"lifespan={name}"),
            *(remove_argument(app.call, arg) for arg in others),
        ]

    # --- answers --------------------------------------------------------------------------
    def outcome(self, app_name: str | None) -> tuple[NodeFix | None, str | None]:
        """The fix for a finding about the app `app_name`, or why there is none."""
        app = self.apps.get(app_name or "")
        if app is None:
            if app_name in self._routers:
                return None, "the fix moves the handlers of an app, not of a router"
            return None, "the app is not built at module level in this module"
        if app.problem is not None:
            return None, app.problem
        return self._fixes.get(app.name), None

    def name_of(self, constructor: cst.Call) -> str | None:
        """The module-level name an app or router built by `constructor` is assigned to."""
        return self._names_of_calls.get(id(constructor))


def _assignment_counts(module: cst.Module) -> Counter[str]:
    """How many module-level statements bind each name."""
    counts: Counter[str] = Counter()
    for statement in module.body:
        names: list[str] = []
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            names.append(statement.name.value)
        elif isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Assign):
                    names += [t.target.value for t in small.targets if isinstance(t.target, cst.Name)]
                elif isinstance(small, (cst.AnnAssign, cst.AugAssign)) and isinstance(small.target, cst.Name):
                    names.append(small.target.value)
        counts.update(names)
    return counts


def _on_event(node: cst.BaseExpression) -> cst.Call | None:
    """`node` itself when it is a call `<something>.on_event(...)`."""
    return node if isinstance(node, cst.Call) and _method(node) == "on_event" else None


def _method(call: cst.Call) -> str | None:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


def receiver_name(receiver: cst.BaseExpression | None) -> str | None:
    """`app` for `app` and `app.router`: the name handlers are registered through."""
    if isinstance(receiver, cst.Attribute) and receiver.attr.value == "router":
        receiver = receiver.value
    return receiver.value if isinstance(receiver, cst.Name) else None


def _event(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if value in EVENTS else None
    return None


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _call(function: cst.FunctionDef) -> str:
    call = f"{function.name.value}()"
    return f"await {call}" if function.asynchronous is not None else call


def _comment_line(whitespace: cst.TrailingWhitespace) -> str:
    """A removed line's comment, kept on a line of its own."""
    return "" if whitespace.comment is None else f"{whitespace.comment.value}\n"
