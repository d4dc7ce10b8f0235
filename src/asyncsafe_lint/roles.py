"""What FastAPI and Starlette do with a project's functions: which are routes,
dependencies, middleware, lifespans, exception handlers and background tasks, and so
where an async function runs (`in async route GET /items`, `in async dependency
`get_db` used by 3 routes`).

A function is often registered in another module than its own: the dependencies of
`app/dependencies.py` are named by `Depends(...)` in `app/routes/*.py`, the lifespan
and the middleware by `FastAPI(...)` in `app/main.py`.  So `Roles` gathers, during the
engine's walk of one module, what that module registers, and hands it on as
`RoleFacts` (plain data keyed by qualified names, for the cache).  `RoleIndex` reads
them: over one module for the findings of a file on its own, and over every module of
the project in the project pass, which corrects the messages of findings in functions
registered elsewhere.

A function can be registered after it is defined (`add_api_route`, a later route's
`Depends`), so roles are gathered during the walk and only read once it is over.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from asyncsafe_lint.frameworks import REGISTRIES, ROUTERS
from asyncsafe_lint.names import LOCAL, Names, Symbol
from asyncsafe_lint.syntax import Function, FunctionNode, argument

_HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")
_DEPENDS = frozenset(
    {
        f"fastapi.{module}{function}"
        for module in ("", "params.", "param_functions.")
        for function in ("Depends", "Security")
    }
)
_BACKGROUND = frozenset(
    {
        "fastapi.BackgroundTasks.add_task",
        "fastapi.background.BackgroundTasks.add_task",
        "starlette.background.BackgroundTasks.add_task",
        "starlette.background.BackgroundTask",
    }
)
_MIDDLEWARE_WRAPPERS = frozenset({"starlette.middleware.Middleware", "fastapi.middleware.Middleware"})
_BASE_HTTP_MIDDLEWARE = "starlette.middleware.base.BaseHTTPMiddleware"
_STARLETTE_ROUTES = {"starlette.routing.Route": "route", "starlette.routing.WebSocketRoute": "websocket"}
_BACKGROUND_TASK = "background task"
#: The methods of a middleware class that run on every request.
_MIDDLEWARE_METHODS = ("__call__", "dispatch")


@dataclass(frozen=True, slots=True)
class RoleFacts:
    """What one module registers with the framework.  Every name is qualified: a
    function or class (`app.deps.get_db`), or a module-level variable such as a router
    or an `Annotated[..., Depends(f)]` alias (`app.deps.DbSession`)."""

    #: Each route's function -> its methods and paths (`GET /items`).
    routes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Each websocket route's function -> its paths.
    websockets: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Functions with a role of their own -> that role (`lifespan`, `exception handler`,
    #: `middleware`, `background task`).
    single: tuple[tuple[str, str], ...] = ()
    dependencies: tuple[str, ...] = ()
    #: (user, used): a function or variable depends on what it names in `Depends(...)`,
    #: in its annotations and as the router its route is registered on.
    uses: tuple[tuple[str, str], ...] = ()
    middleware_classes: tuple[str, ...] = ()


@dataclass
class _Tables:
    """The roles of `RoleFacts`, as tables to fill in and look up."""

    routes: dict[str, list[str]] = field(default_factory=dict)
    websockets: dict[str, list[str]] = field(default_factory=dict)
    single: dict[str, str] = field(default_factory=dict)
    dependencies: set[str] = field(default_factory=set)
    uses: dict[str, set[str]] = field(default_factory=dict)
    middleware_classes: set[str] = field(default_factory=set)

    def use(self, user: str, used: str) -> None:
        self.uses.setdefault(user, set()).add(used)


class Roles:
    """Gathers what the framework does with the functions of one module.

    Keys are qualified names as the module's imports spell them: its own functions and
    classes as `names.LOCAL` + qualname, imported ones by what they were imported as,
    and module-level variables as `=name`."""

    def __init__(self, names: Names) -> None:
        self._names = names
        self._tables = _Tables()
        self._prefixes: dict[str, str] = {}
        #: The function whose decorators and signature are being walked, or the
        #: module-level name being assigned (see `header` and `assignment`).
        self._owner: str | None = None
        #: The module's own roles, read once the walk is over.
        self._index: RoleIndex | None = None

    # --- gathering -------------------------------------------------------------------------
    @contextmanager
    def assignment(self, target: ast.expr, value: ast.expr, symbol: Symbol | None) -> Iterator[None]:
        """A module-level `target = value`, walked inside: a router's prefix, an alias
        that may hold `Depends`."""
        if not isinstance(target, ast.Name):
            yield
            return
        if symbol is not None and symbol.instance and symbol.qualname in ROUTERS and isinstance(value, ast.Call):
            prefix = _string(argument(value, "prefix", None))
            if prefix:
                self._prefixes[target.id] = prefix
        with self._owned_by("=" + target.id):
            yield

    @contextmanager
    def header(self, function: Function, node: FunctionNode) -> Iterator[None]:
        """A function's header, walked inside: its decorators and parameters."""
        for param in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
            if isinstance(param.annotation, ast.Name):
                self._tables.use(function.key, "=" + param.annotation.id)
        with self._owned_by(function.key):
            yield

    @contextmanager
    def _owned_by(self, owner: str) -> Iterator[None]:
        # The calls walked meanwhile (a decorator, a `Depends` default) belong to `owner`.
        self._owner = owner
        try:
            yield
        finally:
            self._owner = None

    def call(self, node: ast.Call, name: str | None) -> None:
        """Every call in the module, with what it resolves to."""
        if name is None:
            return
        owner, _, method = name.rpartition(".")
        if name in _DEPENDS:
            self._depends(node)
        elif name in _BACKGROUND:
            self._give(argument(node, "func", 0), _BACKGROUND_TASK)
        elif name in _MIDDLEWARE_WRAPPERS:
            self._middleware_class(argument(node, "cls", 0))
        elif name in _STARLETTE_ROUTES:
            self._route(argument(node, "endpoint", 1), node, _STARLETTE_ROUTES[name], None)
        elif owner in REGISTRIES:
            self._registry_call(node, method)
        elif name in REGISTRIES:
            self._give(argument(node, "lifespan", None), "lifespan")
            handlers = argument(node, "exception_handlers", None)
            if isinstance(handlers, ast.Dict):
                for value in handlers.values:
                    self._give(value, "exception handler")

    def base_classes(self, class_key: str, bases: Sequence[ast.expr]) -> None:
        for base in bases:
            symbol = self._names.resolve(base)
            if symbol is not None and not symbol.instance and symbol.qualname == _BASE_HTTP_MIDDLEWARE:
                self._tables.middleware_classes.add(class_key)

    def _registry_call(self, node: ast.Call, method: str) -> None:
        decorated = self._owner if self._owner is not None and not self._owner.startswith("=") else None
        receiver = (
            node.func.value.id
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
            else None
        )
        if method in (*_HTTP_METHODS, "api_route", "websocket") and decorated is not None:
            kind = "websocket" if method == "websocket" else "route"
            self._add_route(decorated, node, kind, method, receiver)
        elif method in ("add_api_route", "add_route"):
            self._route(argument(node, "endpoint", 1), node, "route", receiver)
        elif method in ("add_api_websocket_route", "add_websocket_route"):
            self._route(argument(node, "endpoint", 1), node, "websocket", receiver)
        elif method == "middleware" and decorated is not None:
            self._tables.single.setdefault(decorated, "middleware")
        elif method == "exception_handler" and decorated is not None:
            self._tables.single.setdefault(decorated, "exception handler")
        elif method == "add_exception_handler":
            self._give(argument(node, "handler", 1), "exception handler")
        elif method == "add_middleware":
            self._middleware_class(argument(node, "middleware_class", 0))
        elif method == "include_router":
            self._include_router(node, receiver)

    def _route(self, endpoint: ast.expr | None, node: ast.Call, kind: str, receiver: str | None) -> None:
        key = self._key(endpoint)
        if key is not None:
            self._add_route(key, node, kind, None, receiver)

    def _add_route(self, key: str, node: ast.Call, kind: str, method: str | None, receiver: str | None) -> None:
        path = _string(argument(node, "path", 0))
        path = self._prefixes.get(receiver or "", "") + ("?" if path is None else path)
        if receiver is not None:
            self._tables.use(key, "=" + receiver)
        if kind == "websocket":
            self._tables.websockets.setdefault(key, []).append(path)
            return
        if method in _HTTP_METHODS:
            methods = [method.upper()]
        else:
            listed = argument(node, "methods", None)
            methods = _strings(listed) or ["GET"]
        self._tables.routes.setdefault(key, []).extend(f"{m} {path}" for m in methods)

    def _include_router(self, node: ast.Call, receiver: str | None) -> None:
        """`app.include_router(router, dependencies=[...])`: the router's routes depend on
        what the app (or outer router) and this call name."""
        router = argument(node, "router", 0)
        key = "=" + router.id if isinstance(router, ast.Name) else self._key(router)
        if key is None:
            return
        if receiver is not None:
            self._tables.use(key, "=" + receiver)
        listed = argument(node, "dependencies", None)
        for element in listed.elts if isinstance(listed, (ast.List, ast.Tuple)) else ():
            if isinstance(element, ast.Call) and self._is_depends(element):
                dependency = self._dependency(element)
                if dependency is not None:
                    self._tables.use(key, dependency)

    def _is_depends(self, node: ast.Call) -> bool:
        symbol = self._names.resolve(node.func)
        return symbol is not None and not symbol.instance and symbol.qualname in _DEPENDS

    def _depends(self, node: ast.Call) -> None:
        key = self._dependency(node)
        if key is not None:
            self._tables.dependencies.add(key)
            if self._owner is not None:
                self._tables.use(self._owner, key)

    def _dependency(self, depends: ast.Call) -> str | None:
        """The function a `Depends(...)` call names."""
        return self._key(argument(depends, "dependency", 0))

    def _middleware_class(self, arg: ast.expr | None) -> None:
        key = self._key(arg)
        if key is not None:
            self._tables.middleware_classes.add(key)

    def _give(self, arg: ast.expr | None, role: str) -> None:
        key = self._key(arg)
        if key is not None:
            self._tables.single.setdefault(key, role)

    def _key(self, arg: ast.expr | None) -> str | None:
        if arg is None:
            return None
        symbol = self._names.resolve(arg)
        if symbol is None or symbol.origin is not None:
            return None if symbol is None else symbol.origin
        return None if symbol.instance else symbol.qualname

    # --- handing on ----------------------------------------------------------------------
    def facts(self, qualify: Callable[[str], str]) -> RoleFacts:
        """What the module registers, with every key made absolute by `qualify` (which
        is given `names.LOCAL` + name for the module's own names)."""

        def key(name: str) -> str:
            return qualify(LOCAL + name[1:] if name.startswith("=") else name)

        def labelled(table: dict[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
            return tuple(sorted((key(name), tuple(labels)) for name, labels in table.items()))

        tables = self._tables
        return RoleFacts(
            routes=labelled(tables.routes),
            websockets=labelled(tables.websockets),
            single=tuple((key(name), role) for name, role in tables.single.items()),
            dependencies=tuple(sorted(map(key, tables.dependencies))),
            uses=tuple(sorted((key(user), key(used)) for user, names in tables.uses.items() for used in names)),
            middleware_classes=tuple(sorted(map(key, tables.middleware_classes))),
        )

    def where(self, function: Function) -> str:
        """Where an async function runs, as far as its own module tells."""
        if self._index is None:
            self._index = RoleIndex([self.facts(_same)])
        return self._index.where(function.key, function.display_name)


def _same(name: str) -> str:
    return name


class RoleIndex:
    """The roles the framework gives functions, gathered from one module or many."""

    def __init__(self, modules: Iterable[RoleFacts], canonical: Callable[[str], str] = _same) -> None:
        """`canonical`: the name a key stands for (another module may have imported the
        function under another name, or through a package that re-exports it)."""
        tables = self._tables = _Tables()
        for facts in modules:
            for name, labels in facts.routes:
                tables.routes.setdefault(canonical(name), []).extend(labels)
            for name, labels in facts.websockets:
                tables.websockets.setdefault(canonical(name), []).extend(labels)
            for name, role in facts.single:
                tables.single.setdefault(canonical(name), role)
            tables.dependencies.update(map(canonical, facts.dependencies))
            for user, used in facts.uses:
                tables.use(canonical(user), canonical(used))
            tables.middleware_classes.update(map(canonical, facts.middleware_classes))
        #: What each route depends on, directly or not; computed on first use.
        self._reached: list[set[str]] | None = None

    def where(self, key: str, display_name: str) -> str:
        """Where the async function `key` runs, for messages: `in async route GET /items`."""
        tables = self._tables
        if key in tables.routes:
            return f"in async route {', '.join(tables.routes[key])}"
        if key in tables.websockets:
            return f"in async websocket route {', '.join(tables.websockets[key])}"
        owner, _, name = key.rpartition(".")
        if owner in tables.middleware_classes and name in _MIDDLEWARE_METHODS:
            return f"in middleware `{display_name}`"
        role = tables.single.get(key)
        if role is not None and role != _BACKGROUND_TASK:
            return f"in {role} `{display_name}`"
        if key in tables.dependencies:
            routes = self._routes_using(key)
            used_by = f" used by {routes} route{'s' if routes != 1 else ''}" if routes else ""
            return f"in async dependency `{display_name}`{used_by}"
        if role is not None:
            return f"in {role} `{display_name}`"
        return f"in async function `{display_name}`"

    def _routes_using(self, dependency: str) -> int:
        if self._reached is None:
            routes = {**self._tables.routes, **self._tables.websockets}
            self._reached = [self._reachable(route) for route in routes]
        return sum(1 for reached in self._reached if dependency in reached)

    def _reachable(self, user: str) -> set[str]:
        seen: set[str] = set()
        pending = [user]
        while pending:
            for used in self._tables.uses.get(pending.pop(), ()):
                if used not in seen:
                    seen.add(used)
                    pending.append(used)
        return seen


def _string(value: ast.expr | None) -> str | None:
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    return None


def _strings(value: ast.expr | None) -> list[str]:
    if not isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        return []
    return [s for element in value.elts if (s := _string(element)) is not None]
