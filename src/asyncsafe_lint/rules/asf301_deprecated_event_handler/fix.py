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

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field

from asyncsafe_lint.changes import (
    add_argument,
    add_import,
    fix,
    insert_before,
    remove_argument,
    remove_decorator,
    remove_statement,
    replace_argument,
)
from asyncsafe_lint.diagnostics import Applicability, Change, Fix
from asyncsafe_lint.imports import OTHER, ModuleImports, binding_counts
from asyncsafe_lint.rule import is_none
from asyncsafe_lint.source import Source, first_row
from asyncsafe_lint.syntax import FunctionNode

EVENTS = ("startup", "shutdown")
HANDLER_KEYWORDS = {"on_startup": "startup", "on_shutdown": "shutdown"}
CONTEXT_MANAGER = "contextlib.asynccontextmanager"


@dataclass(frozen=True, slots=True)
class Registration:
    """A reported call that registers a handler."""

    node: ast.Call
    #: The name the app (or router) is reached through: `app` in `app.router.on_event(...)`.
    root: str | None
    in_function: bool
    #: True for `app.router.on_startup.append(f)` and the like.
    direct_list: bool


@dataclass
class _App:
    name: str
    statement: ast.Assign | ast.AnnAssign
    call: ast.Call
    handlers: dict[str, list[FunctionNode]] = field(default_factory=lambda: {event: [] for event in EVENTS})
    removals: list[Change] = field(default_factory=list)
    problem: str | None = None

    def block(self, problem: str) -> None:
        self.problem = self.problem or problem


class LifespanPlan:
    """Which apps of one module the fix can rewrite, and how."""

    def __init__(
        self,
        tree: ast.Module,
        source: Source,
        app_calls: Sequence[ast.Call],
        router_calls: Sequence[ast.Call],
        registrations: Sequence[Registration],
        includes: Sequence[tuple[str, str]],
    ) -> None:
        self.tree = tree
        self.source = source
        self.imports = ModuleImports(tree)
        self._assigned = binding_counts(tree.body)
        #: The module-level statements with lines of their own (no `;` neighbours).
        self._alone = _alone(tree.body)
        #: The module's functions whose name is bound once, by their `def`.
        self._functions = {
            node.name: node
            for node in tree.body
            if isinstance(node, FunctionNode)
            and self._assigned[node.name] == 1
            and self.imports.names.get(node.name) == {OTHER}
        }
        apps, routers = self._built(app_calls), self._built(router_calls)
        self.apps = {name: _App(name, *built) for name, built in apps.items()}
        for app in self.apps.values():
            if self._assigned[app.name] > 1:
                app.block(f"`{app.name}` is assigned more than once")
        self._routers = set(routers)
        self._names_of_calls = {id(call): name for name, (_, call) in [*routers.items(), *apps.items()]}
        self._handled: set[int] = set()
        for app in self.apps.values():
            self._constructor_handlers(app)
        self._registration_statements()
        for registration in registrations:
            self._check(registration, includes)
        self._fixes = self._build_fixes()

    # --- what the module does -------------------------------------------------------------
    def _built(self, calls: Sequence[ast.Call]) -> dict[str, tuple[ast.Assign | ast.AnnAssign, ast.Call]]:
        """The module-level names assigned one of `calls`: `app = FastAPI()`."""
        wanted = {id(call) for call in calls}
        built: dict[str, tuple[ast.Assign | ast.AnnAssign, ast.Call]] = {}
        for statement in self._alone:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target, value = statement.targets[0], statement.value
            elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                target, value = statement.target, statement.value
            else:
                continue
            if isinstance(target, ast.Name) and isinstance(value, ast.Call) and id(value) in wanted:
                built[target.id] = (statement, value)
        return built

    def _constructor_handlers(self, app: _App) -> None:
        if any(isinstance(arg, ast.Starred) for arg in app.call.args):
            app.block("its constructor takes `**kwargs`")
        for arg in app.call.keywords:
            if arg.arg is None:
                app.block("its constructor takes `**kwargs`")
            elif arg.arg == "lifespan" and not is_none(arg.value):
                app.block("the app already has a `lifespan=`; move the handlers into it")
            elif arg.arg in HANDLER_KEYWORDS and not is_none(arg.value):
                event = HANDLER_KEYWORDS[arg.arg]
                if not isinstance(arg.value, (ast.List, ast.Tuple)):
                    app.block(f"`{arg.arg}=` is not a list written out")
                    continue
                for element in arg.value.elts:
                    self._add_handler(app, event, element)

    def _registration_statements(self) -> None:
        """`@app.on_event(...)` on a function, `app.on_event(...)(f)` and
        `app.add_event_handler(..., f)` statements, in the order the module runs them."""
        alone = {id(statement) for statement in self._alone}
        for statement in self.tree.body:
            if isinstance(statement, FunctionNode):
                for decorator in statement.decorator_list:
                    registered = _on_event(decorator)
                    if registered is None:
                        continue
                    call, app = registered, self._app_of(registered)
                    if app is None:
                        continue
                    self._handled.add(id(call))
                    if len(statement.decorator_list) > 1:
                        app.block(f"the handler `{statement.name}` has other decorators")
                    if self._functions.get(statement.name) is not statement:
                        app.block(f"`{statement.name}` is bound to something else too")
                    event = event_of(call.args[0] if call.args else None)
                    if event is None:
                        app.block("the event is not written as a string")
                        continue
                    app.handlers[event].append(statement)
                    app.removals.append(remove_decorator(self.source, decorator))
            elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call) and id(statement) in alone:
                self._registration_call(statement, statement.value)

    def _registration_call(self, statement: ast.Expr, call: ast.Call) -> None:
        if isinstance(call.func, ast.Call) and _on_event(call.func) is not None:
            registered, event_node = call.func, call.func.args[0] if call.func.args else None
            handler = call.args[0] if len(call.args) == 1 and not call.keywords else None
        elif _method(call) == "add_event_handler" and len(call.args) == 2 and not call.keywords:
            registered, event_node, handler = call, call.args[0], call.args[1]
        else:
            return
        app = self._app_of(registered)
        if app is None:
            return
        self._handled.add(id(registered))
        event = event_of(event_node)
        if event is None or handler is None:
            app.block("the event is not written as a string")
            return
        if self._add_handler(app, event, handler):
            app.removals.append(remove_statement(self.source, statement))

    def _add_handler(self, app: _App, event: str, handler: ast.expr) -> bool:
        function = self._functions.get(handler.id) if isinstance(handler, ast.Name) else None
        if function is None or function.decorator_list:
            shown = f"`{handler.id}`" if isinstance(handler, ast.Name) else "a handler"
            app.block(f"{shown} is not a plain function of this module")
            return False
        app.handlers[event].append(function)
        return True

    def _app_of(self, registered: ast.Call) -> _App | None:
        receiver = registered.func.value if isinstance(registered.func, ast.Attribute) else None
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
    def _build_fixes(self) -> dict[str, Fix]:
        fixes: dict[str, Fix] = {}
        taken: set[str] = set()
        for app in self.apps.values():
            if app.problem is None:
                fix = self._fix(app, taken)
                if fix is not None:
                    fixes[app.name] = fix
        return fixes

    def _fix(self, app: _App, taken: set[str]) -> Fix | None:
        changes: list[Change] = []
        decorator = self.imports.reference(CONTEXT_MANAGER)
        if decorator is None:
            if self.imports.is_bound("asynccontextmanager"):
                app.block("`asynccontextmanager` means something else in this module")
                return None
            changes.append(add_import("from contextlib import asynccontextmanager"))
            decorator = "asynccontextmanager"
        name = next((n for n in ("lifespan", f"{app.name}_lifespan") if not self._is_taken(n, taken)), None)
        if name is None:
            app.block("there is no free name for the lifespan function")
            return None
        taken.add(name)
        changes.append(insert_before(self.source, app.statement, _lifespan(app, decorator, name)))
        changes.extend(self._constructor_changes(app, name))
        changes.extend(app.removals)
        message = f"Move the startup and shutdown handlers into a `{name}` function"
        return fix(message, changes, Applicability.UNSAFE)

    def _is_taken(self, name: str, taken: set[str]) -> bool:
        return name in taken or self.imports.is_bound(name)

    def _constructor_changes(self, app: _App, name: str) -> list[Change]:
        # The handler lists go, and so does a `lifespan=None` (any other lifespan blocks
        # the fix): the first of them becomes `lifespan=`, which must not be passed twice.
        replaced = [
            arg.arg
            for arg in app.call.keywords
            if arg.arg is not None
            and (arg.arg == "lifespan" or (arg.arg in HANDLER_KEYWORDS and not is_none(arg.value)))
        ]
        if not replaced:
            return [add_argument(self.source, app.call, f"lifespan={name}")]
        first, *others = replaced
        return [
            replace_argument(self.source, app.call, first, f"lifespan={name}"),
            *(remove_argument(self.source, app.call, keyword) for keyword in others),
        ]

    # --- answers --------------------------------------------------------------------------
    def outcome(self, app_name: str | None) -> tuple[Fix | None, str | None]:
        """The fix for a finding about the app `app_name`, or why there is none."""
        app = self.apps.get(app_name or "")
        if app is None:
            if app_name in self._routers:
                return None, "the fix moves the handlers of an app, not of a router"
            return None, "the app is not built at module level in this module"
        if app.problem is not None:
            return None, app.problem
        return self._fixes.get(app.name), None

    def name_of(self, constructor: ast.Call) -> str | None:
        """The module-level name an app or router built by `constructor` is assigned to."""
        return self._names_of_calls.get(id(constructor))


def _alone(body: list[ast.stmt]) -> list[ast.stmt]:
    return [
        statement
        for index, statement in enumerate(body)
        if (index == 0 or (body[index - 1].end_lineno or 0) < first_row(statement))
        and (index + 1 == len(body) or (statement.end_lineno or 0) < first_row(body[index + 1]))
    ]


def _on_event(node: ast.expr) -> ast.Call | None:
    """`node` itself when it is a call `<something>.on_event(...)`."""
    return node if isinstance(node, ast.Call) and _method(node) == "on_event" else None


def _method(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def receiver_name(receiver: ast.expr | None) -> str | None:
    """`app` for `app` and `app.router`: the name handlers are registered through."""
    if isinstance(receiver, ast.Attribute) and receiver.attr == "router":
        receiver = receiver.value
    return receiver.id if isinstance(receiver, ast.Name) else None


def event_of(node: ast.expr | None) -> str | None:
    """`startup` or `shutdown`, when `node` is that string written out."""
    if isinstance(node, ast.Constant) and node.value in EVENTS:
        return node.value
    return None


def _lifespan(app: _App, decorator: str, name: str) -> str:
    """The lifespan function that calls `app`'s handlers: indented by four spaces here,
    by the module's own unit once inserted (libcst indents a block as its module does)."""
    body = [_call(f) for f in app.handlers["startup"]]
    if app.handlers["shutdown"]:
        # As FastAPI's own default lifespan does, shutdown runs even when serving ends in an error.
        body += ["try:", "    yield", "finally:", *(f"    {_call(f)}" for f in app.handlers["shutdown"])]
    else:
        body.append("yield")
    return "".join(
        f"{line}\n" for line in [f"@{decorator}", f"async def {name}(_app):", *(f"    {line}" for line in body)]
    )


def _call(function: FunctionNode) -> str:
    call = f"{function.name}()"
    return f"await {call}" if isinstance(function, ast.AsyncFunctionDef) else call
