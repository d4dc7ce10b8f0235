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

A route's path is the composition of where it is registered and every router and app
that serve those routes in turn: `app.include_router(orders.router, prefix="/api")` in
`main.py`, `Mount("/api", routes=[...])`, `app.mount("/v1", sub_app)`.  Each module
records its routes against the router (or app, `Mount`, list of Starlette routes) they
are registered on, each router's own prefix, and which router serves which under what
prefix; `RoleIndex` composes the full paths over every module it is given.

A function can be registered after it is defined (`add_api_route`, a later route's
`Depends`), so roles are gathered during the walk and only read once it is over.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from asyncsafe_lint.frameworks import REGISTRIES, ROUTERS
from asyncsafe_lint.names import LOCAL, Names
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
_MOUNT = "starlette.routing.Mount"
#: The position of `routes` in the constructors that may be given it by position.
_ROUTES_POSITION = {"starlette.routing.Router": 0, "starlette.applications.Starlette": 1}
_BACKGROUND_TASK = "background task"
#: The methods of a middleware class that run on every request.
_MIDDLEWARE_METHODS = ("__call__", "dispatch")
#: What a path or prefix the code does not spell out shows as (`GET ?/items`).
_UNKNOWN = "?"
#: A string another name holds, within a path or prefix, until the project tells it
#: (`prefix=settings.API_V1_STR`): the name between two NULs, which no source text holds.
_NAMED = re.compile("\0([^\0]*)\0")
#: How many routers, apps and mounts around a route are followed, from the inside out.
_MAX_NESTING = 16


@dataclass(frozen=True, slots=True)
class RoleFacts:
    """What one module registers with the framework.  Every name is qualified: a
    function or class (`app.deps.get_db`), or a module-level variable such as a router
    or an `Annotated[..., Depends(f)]` alias (`app.deps.DbSession`).

    A router here is anything routes are registered on or listed in: an app, an
    `APIRouter` or Starlette `Router`, a `Mount`, a list of Starlette routes.  One the
    module does not bind to a variable is named by its position (`app.main.<12:4>`)."""

    #: (function, router, method, path): each registration of a route, with its path as
    #: the call spells it; the router is "" when it is not known.
    routes: tuple[tuple[str, str, str, str], ...] = ()
    #: (function, router, path): each registration of a websocket route.
    websockets: tuple[tuple[str, str, str], ...] = ()
    #: Functions with a role of their own -> that role (`lifespan`, `exception handler`,
    #: `middleware`, `background task`).
    single: tuple[tuple[str, str], ...] = ()
    dependencies: tuple[str, ...] = ()
    #: (user, used): a function or variable depends on what it names in `Depends(...)`,
    #: in its annotations and as the router its route is registered on.
    uses: tuple[tuple[str, str], ...] = ()
    middleware_classes: tuple[str, ...] = ()
    #: (router, prefix): what a router puts before the paths of every route it serves,
    #: its own included (`APIRouter(prefix="/orders")`, a `Mount`'s path).
    prefixes: tuple[tuple[str, str], ...] = ()
    #: (parent, child, prefix): the router `parent` serves the routes of `child` under
    #: `prefix` (`parent.include_router(child, prefix=...)`, `parent.mount(prefix, child)`,
    #: `child` listed in `parent`'s routes).
    includes: tuple[tuple[str, str, str], ...] = ()
    #: The strings its module-level names, its classes' attributes and the attributes of
    #: its module-level instances of them hold (`app.config.settings.API_V1_STR`).
    constants: tuple[tuple[str, str], ...] = ()


@dataclass
class _Tables:
    """The roles of `RoleFacts`, as tables to fill in and look up."""

    #: function -> (router, method, path) for each registration.
    routes: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)
    #: function -> (router, path) for each registration.
    websockets: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    single: dict[str, str] = field(default_factory=dict)
    dependencies: set[str] = field(default_factory=set)
    uses: dict[str, set[str]] = field(default_factory=dict)
    middleware_classes: set[str] = field(default_factory=set)
    prefixes: dict[str, str] = field(default_factory=dict)
    #: child -> (parent, prefix) for each router that serves its routes.
    includes: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    def use(self, user: str, used: str) -> None:
        self.uses.setdefault(user, set()).add(used)

    def include(self, parent: str, child: str, prefix: str) -> None:
        if parent != child:
            self.includes.setdefault(child, set()).add((parent, prefix))


class Roles:
    """Gathers what the framework does with the functions of one module.

    Keys are qualified names as the module's imports spell them: its own functions and
    classes as `names.LOCAL` + qualname, imported ones by what they were imported as,
    and module-level variables as `=name` (a router the module does not bind to a
    variable as `=<row:column>`, where its call is)."""

    def __init__(self, names: Names) -> None:
        self._names = names
        self._tables = _Tables()
        #: The module-level strings (`API_PREFIX = "/api/v1"`), for paths and prefixes.
        self._strings: dict[str, str] = {}
        #: The string attributes of the module's classes, by class key.
        self._class_strings: dict[str, dict[str, str]] = {}
        #: The key of each router expression seen (a call, or a list of routes) by `id`:
        #: the variable it is assigned to, or where it is.
        self._routers: dict[int, str] = {}
        #: The router each call listed in a router's routes is listed in, by `id`.
        self._listed: dict[int, str] = {}
        #: The function whose decorators and signature are being walked, or the
        #: module-level name being assigned (see `header` and `assignment`).
        self._owner: str | None = None
        #: The module's own roles, read once the walk is over.
        self._index: RoleIndex | None = None

    # --- gathering -------------------------------------------------------------------------
    def class_attribute(self, class_key: str, target: ast.expr, value: ast.expr | None) -> None:
        """`name = "..."` in a class body: what its instances' attribute holds, unless
        they are given another (a settings class's default `API_V1_STR`)."""
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant) and isinstance(value.value, str):
            self._class_strings.setdefault(class_key, {})[target.id] = value.value

    @contextmanager
    def assignment(self, target: ast.expr, value: ast.expr) -> Iterator[None]:
        """A module-level `target = value`, walked inside: a router or a list of
        routes, a string a path may name, an alias that may hold `Depends`."""
        if not isinstance(target, ast.Name):
            yield
            return
        variable = "=" + target.id
        text = self._text(value)
        if text is not None:
            self._strings[target.id] = text
        else:
            self._strings.pop(target.id, None)
        if isinstance(value, ast.Call) or _is_list(value):
            self._routers[id(value)] = variable
        if _is_list(value):
            self._list(variable, value)
        with self._owned_by(variable):
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
            # Listed in a router's routes, or assigned to a variable listed in one later.
            router = self._listed.get(id(node), self._routers.get(id(node)))
            self._route(argument(node, "endpoint", 1), node, _STARLETTE_ROUTES[name], router)
        elif name == _MOUNT:
            self._mount(node)
        elif owner in REGISTRIES:
            self._registry_call(node, method)
        elif name in REGISTRIES:
            self._registry(node, name)

    def base_classes(self, class_key: str, bases: Sequence[ast.expr]) -> None:
        for base in bases:
            symbol = self._names.resolve(base)
            if symbol is not None and not symbol.instance and symbol.qualname == _BASE_HTTP_MIDDLEWARE:
                self._tables.middleware_classes.add(class_key)

    def _registry(self, node: ast.Call, name: str) -> None:
        """`FastAPI(...)`, `APIRouter(...)`, `Starlette(...)`, `Router(...)`."""
        self._give(argument(node, "lifespan", None), "lifespan")
        handlers = argument(node, "exception_handlers", None)
        if isinstance(handlers, ast.Dict):
            for value in handlers.values:
                self._give(value, "exception handler")
        router = self._router(node)
        if name in ROUTERS:
            prefix = self._prefix(argument(node, "prefix", None))
            if prefix:
                self._tables.prefixes[router] = prefix
        self._list(router, argument(node, "routes", _ROUTES_POSITION.get(name)))

    def _registry_call(self, node: ast.Call, method: str) -> None:
        decorated = self._owner if self._owner is not None and not self._owner.startswith("=") else None
        receiver = self._reference(node.func.value) if isinstance(node.func, ast.Attribute) else None
        if method in (*_HTTP_METHODS, "api_route", "websocket") and decorated is not None:
            kind = "websocket" if method == "websocket" else "route"
            self._add_route(decorated, node, kind, method, receiver)
            if receiver is not None:
                self._tables.use(decorated, receiver)
        elif method in ("add_api_route", "add_route"):
            self._route(argument(node, "endpoint", 1), node, "route", receiver, uses_router=True)
        elif method in ("add_api_websocket_route", "add_websocket_route"):
            self._route(argument(node, "endpoint", 1), node, "websocket", receiver, uses_router=True)
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
        elif method == "mount" and receiver is not None:
            mounted = self._reference(argument(node, "app", 1))
            if mounted is not None:
                self._tables.include(receiver, mounted, self._mount_path(argument(node, "path", 0)))

    def _route(
        self, endpoint: ast.expr | None, node: ast.Call, kind: str, router: str | None, *, uses_router: bool = False
    ) -> None:
        key = self._key(endpoint)
        if key is not None:
            self._add_route(key, node, kind, None, router)
            if uses_router and router is not None:
                self._tables.use(key, router)

    def _add_route(self, key: str, node: ast.Call, kind: str, method: str | None, router: str | None) -> None:
        path = self._text(argument(node, "path", 0))
        path = _UNKNOWN if path is None else path
        if kind == "websocket":
            self._tables.websockets.setdefault(key, set()).add((router or "", path))
            return
        if method in _HTTP_METHODS:
            methods = [method.upper()]
        else:
            listed = argument(node, "methods", None)
            methods = _strings(listed) or ["GET"]
        self._tables.routes.setdefault(key, set()).update((router or "", m, path) for m in methods)

    def _mount(self, node: ast.Call) -> None:
        """`Mount(path, app=...)` or `Mount(path, routes=[...])`: a router of its own,
        whose prefix is its path."""
        mount = self._router(node)
        parent = self._listed.get(id(node))
        if parent is not None:
            self._tables.include(parent, mount, "")
        path = self._mount_path(argument(node, "path", 0))
        if path:
            self._tables.prefixes[mount] = path
        self._list(mount, argument(node, "routes", 2))
        mounted = self._reference(argument(node, "app", 1))
        if mounted is not None:
            self._tables.include(mount, mounted, "")

    def _list(self, router: str, routes: ast.expr | None) -> None:
        """`router` serves `routes`: a list of routes (`[Route(...), Mount(...)]`), or a
        name, a concatenation or an unpacking (`*orders.routes`) of lists."""
        if isinstance(routes, (ast.List, ast.Tuple)):
            for element in routes.elts:
                self._list(router, element)
        elif isinstance(routes, ast.Starred):
            self._list(router, routes.value)
        elif isinstance(routes, ast.BinOp) and isinstance(routes.op, ast.Add):
            self._list(router, routes.left)
            self._list(router, routes.right)
        elif isinstance(routes, ast.Call):
            # Its own call is walked later: a `Route` or `Mount` there reads it.
            self._listed[id(routes)] = router
        elif routes is not None:
            listed = self._reference(routes)
            if listed is not None:
                self._tables.include(router, listed, "")

    def _include_router(self, node: ast.Call, receiver: str | None) -> None:
        """`app.include_router(router, prefix=..., dependencies=[...])`: the app (or
        outer router) serves the router's routes under the prefix, and they depend on
        what the app and this call name."""
        router = self._reference(argument(node, "router", 0))
        if router is None:
            return
        if receiver is not None:
            self._tables.use(router, receiver)
            self._tables.include(receiver, router, self._prefix(argument(node, "prefix", None)))
        listed = argument(node, "dependencies", None)
        for element in listed.elts if isinstance(listed, (ast.List, ast.Tuple)) else ():
            if isinstance(element, ast.Call) and self._is_depends(element):
                dependency = self._dependency(element)
                if dependency is not None:
                    self._tables.use(router, dependency)

    def _router(self, node: ast.Call) -> str:
        """The key of a router's call: the variable it is assigned to, or where it is."""
        return self._routers.setdefault(id(node), f"=<{node.lineno}:{node.col_offset}>")

    def _reference(self, node: ast.expr | None) -> str | None:
        """The key of the router (or list of routes) an expression names: a variable of
        the module or one it imports (`=router`), a module's (`app.routes.orders.router`),
        or a call.  Only the module an attribute is read from is resolved, so that the
        key stays the variable's whatever type it is known to have."""
        if isinstance(node, ast.Name):
            return "=" + node.id
        if isinstance(node, ast.Attribute):
            base = self._names.resolve(node.value)
            return f"{base.qualname}.{node.attr}" if base is not None and not base.instance else None
        if isinstance(node, ast.Call):
            return self._router(node)
        return None

    def _prefix(self, node: ast.expr | None) -> str:
        """A `prefix=`: "" when none is given, `_UNKNOWN` when the code does not spell it out."""
        if node is None:
            return ""
        text = self._text(node)
        return _UNKNOWN if text is None else text

    def _mount_path(self, node: ast.expr | None) -> str:
        # Starlette drops a mount path's trailing slash: `Mount("/", ...)` adds nothing.
        return self._prefix(node).rstrip("/") if node is not None else _UNKNOWN

    def _text(self, node: ast.expr | None) -> str | None:
        """The string an expression spells out: a literal, a module-level string, or an
        f-string or `+` of them."""
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.Name) and node.id in self._strings:
            return self._strings[node.id]
        if isinstance(node, (ast.Name, ast.Attribute)):
            # Another module's (or a settings object's) string: the project pass may know it.
            symbol = self._names.resolve(node)
            if symbol is None or symbol.instance:
                return None
            return f"\0{symbol.origin or symbol.qualname}\0"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self._text(node.left), self._text(node.right)
            return None if left is None or right is None else left + right
        if isinstance(node, ast.JoinedStr):
            parts = [self._text(_formatted(value)) for value in node.values]
            return "".join(part for part in parts if part is not None) if None not in parts else None
        return None

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
            if not name:
                return name  # an unknown router
            return qualify(LOCAL + name[1:] if name.startswith("=") else name)

        def text(spelled: str) -> str:
            return _NAMED.sub(lambda named: f"\0{key(named[1])}\0", spelled)

        tables = self._tables
        return RoleFacts(
            routes=tuple(
                sorted(
                    (key(name), key(router), method, text(path))
                    for name, registered in tables.routes.items()
                    for router, method, path in registered
                )
            ),
            websockets=tuple(
                sorted(
                    (key(name), key(router), text(path))
                    for name, registered in tables.websockets.items()
                    for router, path in registered
                )
            ),
            single=tuple((key(name), role) for name, role in tables.single.items()),
            dependencies=tuple(sorted(map(key, tables.dependencies))),
            uses=tuple(sorted((key(user), key(used)) for user, names in tables.uses.items() for used in names)),
            middleware_classes=tuple(sorted(map(key, tables.middleware_classes))),
            prefixes=tuple(sorted((key(router), text(prefix)) for router, prefix in tables.prefixes.items())),
            includes=tuple(
                sorted(
                    (key(parent), key(child), text(prefix))
                    for child, parents in tables.includes.items()
                    for parent, prefix in parents
                )
            ),
            constants=tuple(sorted((key(name), value) for name, value in self._constants())),
        )

    def _constants(self) -> Iterator[tuple[str, str]]:
        """The strings the module's names hold, keyed as `facts` keys names."""
        for name, value in self._strings.items():
            if _NAMED.search(value) is None:
                yield "=" + name, value
        for class_key, attributes in self._class_strings.items():
            for attribute, value in attributes.items():
                yield f"{class_key}.{attribute}", value
        # The walk is over: the current scope is the module's.
        for name, symbol in self._names.scope.bindings.items():
            if symbol is not None and symbol.instance and symbol.qualname in self._class_strings:
                for attribute, value in self._class_strings[symbol.qualname].items():
                    yield f"={name}.{attribute}", value

    def where(self, function: Function) -> str:
        """Where an async function runs, as far as its own module tells."""
        return self._own().where(function.key, function.display_name)

    def threaded_when_sync(self, function: Function) -> bool:
        """True when the framework would run `function` in its thread pool were it a plain
        `def`, as far as its own module tells: an HTTP route or a FastAPI dependency."""
        return self._own().threaded_when_sync(function.key)

    def _own(self) -> RoleIndex:
        if self._index is None:
            self._index = RoleIndex([self.facts(_same)])
        return self._index


def _same(name: str) -> str:
    return name


class RoleIndex:
    """The roles the framework gives functions, gathered from one module or many."""

    def __init__(self, modules: Iterable[RoleFacts], canonical: Callable[[str], str] = _same) -> None:
        """`canonical`: the name a key stands for (another module may have imported the
        function or router under another name, or through a package that re-exports it)."""
        tables = self._tables = _Tables()
        self._canonical = canonical
        #: The strings names hold, for the paths that name them.
        self._constants: dict[str, str] = {}
        for facts in modules:
            for name, router, method, path in facts.routes:
                tables.routes.setdefault(canonical(name), set()).add((canonical(router), method, path))
            for name, router, path in facts.websockets:
                tables.websockets.setdefault(canonical(name), set()).add((canonical(router), path))
            for name, role in facts.single:
                tables.single.setdefault(canonical(name), role)
            tables.dependencies.update(map(canonical, facts.dependencies))
            for user, used in facts.uses:
                tables.use(canonical(user), canonical(used))
            tables.middleware_classes.update(map(canonical, facts.middleware_classes))
            for router, prefix in facts.prefixes:
                tables.prefixes.setdefault(canonical(router), prefix)
            for parent, child, prefix in facts.includes:
                tables.include(canonical(parent), canonical(child), prefix)
            self._constants.update((canonical(name), value) for name, value in facts.constants)
        #: What each route depends on, directly or not; computed on first use.
        self._reached: list[set[str]] | None = None
        #: Each router asked about -> the prefixes its routes are served under.
        self._served: dict[str, set[str]] = {}

    def where(self, key: str, display_name: str) -> str:
        """Where the async function `key` runs, for messages: `in async route GET /items`."""
        tables = self._tables
        if key in tables.routes:
            labels = {
                f"{method} {self._spelled(prefix + path)}"
                for router, method, path in tables.routes[key]
                for prefix in self._prefixes(router)
            }
            return f"in async route {', '.join(sorted(labels))}"
        if key in tables.websockets:
            paths = {
                self._spelled(prefix + path)
                for router, path in tables.websockets[key]
                for prefix in self._prefixes(router)
            }
            return f"in async websocket route {', '.join(sorted(paths))}"
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

    def threaded_when_sync(self, key: str) -> bool:
        """True for an HTTP route or a FastAPI dependency: FastAPI (and Starlette, for a
        route) runs a plain `def` one in its thread pool.  One that is also a websocket
        route, a lifespan, middleware or an exception handler must stay a coroutine."""
        tables = self._tables
        in_other_role = key in tables.websockets or key in tables.single
        return (key in tables.routes or key in tables.dependencies) and not in_other_role

    def _spelled(self, path: str) -> str:
        """`path` with each string named elsewhere put in, or `?` where none is known."""
        return _NAMED.sub(lambda named: self._constants.get(self._canonical(named[1]), _UNKNOWN), path)

    def _prefixes(self, router: str) -> set[str]:
        """What comes before the path of a route registered on `router`: the prefixes of
        every chain of routers and apps that serve it, its own prefix last.  A router
        nothing is known to serve has its own prefix only."""
        if router not in self._served:
            self._served[router] = self._served_under(router, (router,))
        return self._served[router]

    def _served_under(self, router: str, chain: tuple[str, ...]) -> set[str]:
        # `chain`: the routers from `router` outwards, so that a cycle ends where it closes.
        own = self._tables.prefixes.get(router, "")
        outer: set[str] = set()
        if len(chain) < _MAX_NESTING:
            for parent, prefix in self._tables.includes.get(router, ()):
                if parent not in chain:
                    outer.update(above + prefix for above in self._served_under(parent, (*chain, parent)))
        return {above + own for above in outer} if outer else {own}

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


def _is_list(value: ast.expr) -> bool:
    """A list or tuple display, or a concatenation with one (`base + [Route(...)]`)."""
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add):
        return _is_list(value.left) or _is_list(value.right)
    return isinstance(value, (ast.List, ast.Tuple))


def _formatted(value: ast.expr) -> ast.expr | None:
    """A part of an f-string: its text, or what a plain `{...}` formats (None for one
    with a conversion or a format spec)."""
    if not isinstance(value, ast.FormattedValue):
        return value
    return value.value if value.conversion == -1 and value.format_spec is None else None


def _strings(value: ast.expr | None) -> list[str]:
    if not isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        return []
    return [
        element.value for element in value.elts if isinstance(element, ast.Constant) and isinstance(element.value, str)
    ]
