"""Where a piece of code runs: on the event loop, or somewhere else, and in which role.

Only the body of an `async def` runs on the loop.  A nested `def` or `lambda` is a
new function that runs wherever it is eventually called - often a thread handed it
through `run_in_threadpool`, `asyncio.to_thread` or `BackgroundTasks.add_task` - so
its body is not loop code, and neither is any plain `def`.

`Roles` knows what FastAPI and Starlette do with the functions of a module: which are
routes, dependencies, middleware, lifespans, exception handlers and background tasks.
A function can be registered after it is defined (`add_api_route`, a later route's
`Depends`), so roles are gathered during the walk and only read once it is over.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

from asyncsafe_lint.names import LOCAL, Names, Symbol

_APPS = ("fastapi.FastAPI", "fastapi.applications.FastAPI", "starlette.applications.Starlette")
_ROUTERS = ("fastapi.APIRouter", "fastapi.routing.APIRouter", "starlette.routing.Router")
#: Everything routes, middleware and handlers are registered on.
_REGISTRIES = (*_APPS, *_ROUTERS)
_HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")
_DEPENDS = frozenset({
    f"fastapi.{module}{function}"
    for module in ("", "params.", "param_functions.")
    for function in ("Depends", "Security")
})  # fmt: skip
_BACKGROUND = frozenset({
    "fastapi.BackgroundTasks.add_task", "fastapi.background.BackgroundTasks.add_task",
    "starlette.background.BackgroundTasks.add_task", "starlette.background.BackgroundTask",
})  # fmt: skip
_MIDDLEWARE_WRAPPERS = frozenset({"starlette.middleware.Middleware", "fastapi.middleware.Middleware"})
_BASE_HTTP_MIDDLEWARE = "starlette.middleware.base.BaseHTTPMiddleware"
_STARLETTE_ROUTES = {"starlette.routing.Route": "route", "starlette.routing.WebSocketRoute": "websocket"}


#: A `def` or `async def` statement.
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True, slots=True)
class Function:
    """A function (or lambda) whose body is being walked."""

    name: str
    is_async: bool
    node: FunctionNode | ast.Lambda
    class_name: str | None = None
    #: Its dotted path in the module, as Python spells `__qualname__` (`Repo.load`,
    #: `outer.<locals>.inner`).
    qualname: str = ""

    @property
    def display_name(self) -> str:
        return f"{self.class_name}.{self.name}" if self.class_name else self.name

    @property
    def key(self) -> str:
        """The qualified name calls to it resolve to (see `names.LOCAL`)."""
        return LOCAL + self.qualname


class Contexts:
    """The stack of functions and classes around the node being walked, and the roles
    the framework gives the module's functions."""

    def __init__(self, names: Names) -> None:
        self._stack: list[Function | str] = []
        self.roles = Roles(names)

    def enter_function(self, function: Function) -> None:
        self._stack.append(function)

    def enter_class(self, name: str) -> None:
        self._stack.append(name)

    def leave(self) -> None:
        self._stack.pop()

    def qualname(self, name: str) -> str:
        """The `__qualname__` a function or class named `name` defined here gets."""
        parts = [f"{frame.name}.<locals>" if isinstance(frame, Function) else frame for frame in self._stack]
        return ".".join([*parts, name])

    @property
    def function(self) -> Function | None:
        """The innermost enclosing function; class bodies are transparent."""
        for frame in reversed(self._stack):
            if isinstance(frame, Function):
                return frame
        return None

    @property
    def class_name(self) -> str | None:
        """The class whose body directly holds the code being walked."""
        return self._stack[-1] if self._stack and isinstance(self._stack[-1], str) else None

    @property
    def on_loop(self) -> bool:
        function = self.function
        return function is not None and function.is_async

    def where(self, function: Function) -> str:
        """Where an async function runs, for messages: `in async route GET /items`."""
        return self.roles.where(function)


class Roles:
    """What the framework does with each function of one module, keyed by the qualified
    name calls to it resolve to."""

    def __init__(self, names: Names) -> None:
        self._names = names
        self._routes: dict[str, list[str]] = {}
        self._websockets: dict[str, list[str]] = {}
        self._single: dict[str, str] = {}
        self._dependencies: set[str] = set()
        #: Who depends on what: a function, or `=name` for a module-level name (an
        #: `Annotated[..., Depends(f)]` alias, a router with `dependencies=[...]`).
        self._uses: dict[str, set[str]] = {}
        self._middleware_classes: set[str] = set()
        self._prefixes: dict[str, str] = {}
        #: The function whose decorators and signature are being walked, or the
        #: module-level name being assigned.
        self.owner: str | None = None
        #: What each route depends on, directly or not; computed on first use.
        self._reached: list[set[str]] | None = None

    # --- gathering -------------------------------------------------------------------------
    def assign(self, target: ast.expr, value: ast.expr, symbol: Symbol | None) -> None:
        """A module-level `target = value`: a router's prefix, an alias that may hold `Depends`."""
        if not isinstance(target, ast.Name):
            return
        self.owner = "=" + target.id
        if symbol is not None and symbol.instance and symbol.qualname in _ROUTERS and isinstance(value, ast.Call):
            prefix = _string(argument(value, "prefix", None))
            if prefix:
                self._prefixes[target.id] = prefix

    def signature(self, function: Function, node: FunctionNode) -> None:
        """A function's header is about to be walked: its decorators and parameters."""
        self.owner = function.key
        for param in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
            if isinstance(param.annotation, ast.Name):
                self._use(function.key, "=" + param.annotation.id)

    def call(self, node: ast.Call, name: str | None) -> None:
        """Every call in the module, with what it resolves to."""
        if name is None:
            return
        owner, _, method = name.rpartition(".")
        if name in _DEPENDS:
            self._depends(node)
        elif name in _BACKGROUND:
            self._give(argument(node, "func", 0), "background task")
        elif name in _MIDDLEWARE_WRAPPERS:
            self._middleware_class(argument(node, "cls", 0))
        elif name in _STARLETTE_ROUTES:
            self._route(argument(node, "endpoint", 1), node, _STARLETTE_ROUTES[name], None)
        elif owner in _REGISTRIES:
            self._registry_call(node, method)
        elif name in _REGISTRIES:
            self._give(argument(node, "lifespan", None), "lifespan")
            handlers = argument(node, "exception_handlers", None)
            if isinstance(handlers, ast.Dict):
                for value in handlers.values:
                    self._give(value, "exception handler")

    def base_classes(self, class_name: str, bases: Sequence[ast.expr]) -> None:
        for base in bases:
            symbol = self._names.resolve(base)
            if symbol is not None and not symbol.instance and symbol.qualname == _BASE_HTTP_MIDDLEWARE:
                self._middleware_classes.add(LOCAL + class_name)

    def _registry_call(self, node: ast.Call, method: str) -> None:
        decorated = self.owner if self.owner is not None and not self.owner.startswith("=") else None
        receiver = node.func.value.id if isinstance(node.func, ast.Attribute) and isinstance(
            node.func.value, ast.Name) else None  # fmt: skip
        if method in (*_HTTP_METHODS, "api_route", "websocket") and decorated is not None:
            kind = "websocket" if method == "websocket" else "route"
            self._add_route(decorated, node, kind, method, receiver)
        elif method in ("add_api_route", "add_route"):
            self._route(argument(node, "endpoint", 1), node, "route", receiver)
        elif method in ("add_api_websocket_route", "add_websocket_route"):
            self._route(argument(node, "endpoint", 1), node, "websocket", receiver)
        elif method == "middleware" and decorated is not None:
            self._single.setdefault(decorated, "middleware")
        elif method == "exception_handler" and decorated is not None:
            self._single.setdefault(decorated, "exception handler")
        elif method == "add_exception_handler":
            self._give(argument(node, "handler", 1), "exception handler")
        elif method == "add_middleware":
            self._middleware_class(argument(node, "middleware_class", 0))

    def _route(self, endpoint: ast.expr | None, node: ast.Call, kind: str, receiver: str | None) -> None:
        key = self._key(endpoint)
        if key is not None:
            self._add_route(key, node, kind, None, receiver)

    def _add_route(self, key: str, node: ast.Call, kind: str, method: str | None, receiver: str | None) -> None:
        path = _string(argument(node, "path", 0))
        path = self._prefixes.get(receiver or "", "") + ("?" if path is None else path)
        if receiver is not None:
            self._use(key, "=" + receiver)
        if kind == "websocket":
            self._websockets.setdefault(key, []).append(path)
            return
        if method in _HTTP_METHODS:
            methods = [method.upper()]
        else:
            listed = argument(node, "methods", None)
            methods = _strings(listed) or ["GET"]
        self._routes.setdefault(key, []).extend(f"{m} {path}" for m in methods)

    def _depends(self, node: ast.Call) -> None:
        key = self._key(argument(node, "dependency", 0))
        if key is not None:
            self._dependencies.add(key)
            if self.owner is not None:
                self._use(self.owner, key)

    def _middleware_class(self, arg: ast.expr | None) -> None:
        key = self._key(arg)
        if key is not None:
            self._middleware_classes.add(key)

    def _give(self, arg: ast.expr | None, role: str) -> None:
        key = self._key(arg)
        if key is not None:
            self._single.setdefault(key, role)

    def _use(self, user: str, used: str) -> None:
        self._uses.setdefault(user, set()).add(used)

    def _key(self, arg: ast.expr | None) -> str | None:
        if arg is None:
            return None
        symbol = self._names.resolve(arg)
        return None if symbol is None or symbol.instance else symbol.qualname

    # --- reading -------------------------------------------------------------------------
    def where(self, function: Function) -> str:
        key = function.key
        if key in self._routes:
            return f"in async route {', '.join(self._routes[key])}"
        if key in self._websockets:
            return f"in async websocket route {', '.join(self._websockets[key])}"
        if function.class_name is not None and LOCAL + function.class_name in self._middleware_classes:
            if function.name in ("__call__", "dispatch"):
                return f"in middleware `{function.display_name}`"
        if key in self._single and self._single[key] != "background task":
            return f"in {self._single[key]} `{function.display_name}`"
        if key in self._dependencies:
            routes = self._routes_using(key)
            used_by = f" used by {routes} route{'s' if routes != 1 else ''}" if routes else ""
            return f"in async dependency `{function.display_name}`{used_by}"
        if key in self._single:
            return f"in background task `{function.display_name}`"
        return f"in async function `{function.display_name}`"

    def _routes_using(self, dependency: str) -> int:
        if self._reached is None:
            self._reached = [self._reachable(route) for route in {**self._routes, **self._websockets}]
        return sum(1 for reached in self._reached if dependency in reached)

    def _reachable(self, user: str) -> set[str]:
        seen: set[str] = set()
        pending = [user]
        while pending:
            for used in self._uses.get(pending.pop(), ()):
                if used not in seen:
                    seen.add(used)
                    pending.append(used)
        return seen


def argument(call: ast.Call, keyword: str, position: int | None) -> ast.expr | None:
    """The value passed as `keyword=` or, when `position` is given, in that position
    (not counting `*args`)."""
    for passed in call.keywords:
        if passed.arg == keyword:
            return passed.value
    if position is not None:
        positional = [value for value in call.args if not isinstance(value, ast.Starred)]
        if position < len(positional):
            return positional[position]
    return None


def _string(value: ast.expr | None) -> str | None:
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    return None


def _strings(value: ast.expr | None) -> list[str]:
    if not isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        return []
    return [s for element in value.elts if (s := _string(element)) is not None]
