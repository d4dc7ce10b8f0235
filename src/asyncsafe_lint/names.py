"""What a name in a module refers to: imports, aliases and the types of variables.

The linter never imports user code, so it follows what a reader would: import
statements, assignments (`client = httpx.Client()`) and annotations
(`f: io.TextIOWrapper`, `x: httpx.Client | None`).  A name with no binding in the
file is taken to be the module of that name (`time.sleep` without `import time`).
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

from asyncsafe_lint.source import parse_expression

#: Prefix of the qualified names of functions and classes defined in the file itself.
LOCAL = "<module>."

_BUILTINS = frozenset(dir(builtins))

#: What a call returns, when that is not an instance of the class being called.
RETURNS: dict[str, str] = {
    "builtins.open": "io.TextIOWrapper",
    "io.open": "io.TextIOWrapper",
    "os.fdopen": "io.TextIOWrapper",
    "pathlib.Path.open": "io.TextIOWrapper",
    "codecs.open": "io.TextIOWrapper",
    "gzip.open": "io.TextIOWrapper",
    "bz2.open": "io.TextIOWrapper",
    "lzma.open": "io.TextIOWrapper",
    "tempfile.TemporaryFile": "io.TextIOWrapper",
    "tempfile.NamedTemporaryFile": "io.TextIOWrapper",
    "socket.socket": "socket.socket",
    "socket.create_connection": "socket.socket",
    "socket.create_server": "socket.socket",
    "socket.socket.accept": "tuple",
    "socket.socket.dup": "socket.socket",
    "requests.session": "requests.Session",
    "urllib.request.build_opener": "urllib.request.OpenerDirector",
    "urllib3.connection_from_url": "urllib3.HTTPConnectionPool",
    "urllib3.PoolManager.connection_from_url": "urllib3.HTTPConnectionPool",
    "http.client.HTTPConnection.getresponse": "http.client.HTTPResponse",
    "http.client.HTTPSConnection.getresponse": "http.client.HTTPResponse",
    "sqlite3.connect": "sqlite3.Connection",
    "sqlite3.Connection.cursor": "sqlite3.Cursor",
    "sqlite3.Connection.execute": "sqlite3.Cursor",
    "psycopg2.connect": "psycopg2.extensions.connection",
    "psycopg2.extensions.connection.cursor": "psycopg2.extensions.cursor",
    "pymysql.connect": "pymysql.connections.Connection",
    "pymysql.Connect": "pymysql.connections.Connection",
    "pymysql.connections.Connection.cursor": "pymysql.cursors.Cursor",
    "psycopg.connect": "psycopg.Connection",
    "psycopg.Connection.connect": "psycopg.Connection",
    "psycopg.Connection.cursor": "psycopg.Cursor",
    "psycopg.Connection.execute": "psycopg.Cursor",
    "redis.from_url": "redis.Redis",
    "redis.Redis.from_url": "redis.Redis",
    "redis.StrictRedis.from_url": "redis.Redis",
    "redis.Redis.pipeline": "redis.client.Pipeline",
    "pymongo.MongoClient.get_database": "pymongo.database.Database",
    "pymongo.MongoClient.get_default_database": "pymongo.database.Database",
    "pymongo.database.Database.get_collection": "pymongo.collection.Collection",
    "pymongo.database.Database.create_collection": "pymongo.collection.Collection",
    "concurrent.futures.ThreadPoolExecutor.submit": "concurrent.futures.Future",
    "concurrent.futures.ProcessPoolExecutor.submit": "concurrent.futures.Future",
    "pathlib.Path.cwd": "pathlib.Path",
    "pathlib.Path.home": "pathlib.Path",
    "pathlib.Path.resolve": "pathlib.Path",
    "pathlib.Path.absolute": "pathlib.Path",
    "pathlib.Path.expanduser": "pathlib.Path",
    "pathlib.Path.joinpath": "pathlib.Path",
    "pathlib.Path.with_name": "pathlib.Path",
    "pathlib.Path.with_suffix": "pathlib.Path",
    "pathlib.Path.with_stem": "pathlib.Path",
    "pathlib.Path.relative_to": "pathlib.Path",
    # Coroutine functions: what awaiting their call gives (see `Names.resolve`).
    "asyncio.create_subprocess_exec": "asyncio.subprocess.Process",
    "asyncio.create_subprocess_shell": "asyncio.subprocess.Process",
    "asyncio.subprocess.create_subprocess_exec": "asyncio.subprocess.Process",
    "asyncio.subprocess.create_subprocess_shell": "asyncio.subprocess.Process",
}

#: The type of any attribute or item of an instance of these types (`client.db.users`).
MEMBER_TYPES: dict[str, str] = {
    "pymongo.MongoClient": "pymongo.database.Database",
    "pymongo.database.Database": "pymongo.collection.Collection",
}

#: The methods of the types in MEMBER_TYPES: attributes that are not members (`db.command`).
MEMBER_TYPE_METHODS: dict[str, frozenset[str]] = {
    "pymongo.MongoClient": frozenset(
        {
            "close",
            "drop_database",
            "get_database",
            "get_default_database",
            "list_database_names",
            "list_databases",
            "server_info",
            "start_session",
            "watch",
        }
    ),
    "pymongo.database.Database": frozenset(
        {
            "command",
            "create_collection",
            "drop_collection",
            "get_collection",
            "list_collection_names",
            "list_collections",
            "validate_collection",
            "watch",
        }
    ),
}

#: Attributes of these types that hold instances of another known type.
ATTRIBUTE_TYPES: dict[str, str] = {
    "pathlib.Path.parent": "pathlib.Path",
}

#: Different spellings of one type, mapped to the name the rules use.
CANONICAL: dict[str, str] = {
    "pathlib.PosixPath": "pathlib.Path",
    "pathlib.WindowsPath": "pathlib.Path",
    "redis.StrictRedis": "redis.Redis",
    "redis.client.Redis": "redis.Redis",
    "redis.client.StrictRedis": "redis.Redis",
    "requests.sessions.Session": "requests.Session",
    "urllib3.poolmanager.PoolManager": "urllib3.PoolManager",
    "urllib3.connectionpool.HTTPConnectionPool": "urllib3.HTTPConnectionPool",
    "urllib3.connectionpool.HTTPSConnectionPool": "urllib3.HTTPSConnectionPool",
    "pymongo.mongo_client.MongoClient": "pymongo.MongoClient",
    "concurrent.futures._base.Future": "concurrent.futures.Future",
    "typing.IO": "io.TextIOWrapper",
    "typing.TextIO": "io.TextIOWrapper",
    "typing.BinaryIO": "io.TextIOWrapper",
    "io.BufferedReader": "io.TextIOWrapper",
    "io.BufferedWriter": "io.TextIOWrapper",
    "io.BufferedRandom": "io.TextIOWrapper",
    "io.FileIO": "io.TextIOWrapper",
    "io.TextIOBase": "io.TextIOWrapper",
    "io.BufferedIOBase": "io.TextIOWrapper",
    "io.RawIOBase": "io.TextIOWrapper",
    "io.IOBase": "io.TextIOWrapper",
}

_WRAPPERS = frozenset({"typing.Optional", "typing.Annotated", "typing.Final", "typing.ClassVar"})


@dataclass(frozen=True, slots=True)
class Symbol:
    """What an expression stands for: a module, class or function (`instance=False`),
    or an instance of the class `qualname`."""

    qualname: str
    instance: bool = False


def canonical(qualname: str) -> str:
    return CANONICAL.get(qualname, qualname)


def dotted(node: ast.expr) -> str | None:
    """`a.b.c` as a string, or None when the expression is not a plain dotted name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


@dataclass
class Scope:
    """The bindings of one module, class or function body; `parent` is where lookups continue."""

    parent: Scope | None = None
    is_class: bool = False
    #: The scope that was current when this one was opened (and is again once it closes).
    outer: Scope | None = None
    bindings: dict[str, Symbol | None] = field(default_factory=dict)

    def lookup(self, name: str) -> tuple[bool, Symbol | None]:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.bindings:
                return True, scope.bindings[name]
            scope = scope.parent
        return False, None


class Names:
    """Resolves expressions to symbols through the scopes the walker maintains."""

    def __init__(self) -> None:
        self.scope = Scope()
        #: Instance attribute types per class, from `self.x = ...` and class-level annotations.
        self.class_attributes: dict[str, dict[str, Symbol | None]] = {}

    # --- scopes -------------------------------------------------------------------------
    def push(self, *, is_class: bool = False) -> None:
        """Open the scope of a function or class body nested in the current one."""
        parent: Scope | None = self.scope
        if not is_class:
            # A function body does not see the names of the class bodies around it.
            while parent is not None and parent.is_class:
                parent = parent.parent
        self.scope = Scope(parent=parent, is_class=is_class, outer=self.scope)

    def pop(self) -> None:
        assert self.scope.outer is not None
        self.scope = self.scope.outer

    def bind(self, name: str, symbol: Symbol | None) -> None:
        self.scope.bindings[name] = symbol

    # --- statements that bind -----------------------------------------------------------
    def bind_import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname is not None:
                self.bind(alias.asname, Symbol(alias.name))
            else:
                top = alias.name.split(".", 1)[0]
                self.bind(top, Symbol(top))

    def bind_import_from(self, node: ast.ImportFrom) -> None:
        prefix = "." * node.level + (node.module or "")
        joiner = "" if prefix.endswith(".") or not prefix else "."
        for alias in node.names:
            if alias.name != "*":
                self.bind(alias.asname or alias.name, Symbol(canonical(f"{prefix}{joiner}{alias.name}")))

    def bind_target(self, target: ast.expr, symbol: Symbol | None) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, symbol)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind_target(element, None)
        elif isinstance(target, ast.Starred):
            self.bind_target(target.value, None)
        elif isinstance(target, ast.Attribute) and self._is_self(target.value):
            owner = self.resolve(target.value)
            if owner is not None and owner.instance:
                self.class_attributes.setdefault(owner.qualname, {})[target.attr] = symbol

    def _is_self(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id in ("self", "cls")

    # --- resolution ---------------------------------------------------------------------
    def resolve(self, node: ast.expr) -> Symbol | None:
        """The symbol an expression stands for, or None when it cannot be known statically."""
        if isinstance(node, ast.Name):
            return self._resolve_name(node.id)
        if isinstance(node, ast.Attribute):
            return self._member(self.resolve(node.value), node.attr)
        if isinstance(node, ast.Call):
            return self.returned(self.resolve(node.func))
        if isinstance(node, ast.Await):
            # `await asyncio.create_subprocess_exec(...)`: what the coroutine returns.
            return self.resolve(node.value)
        if isinstance(node, ast.Subscript):
            base = self.resolve(node.value)
            if base is not None and base.instance and base.qualname in MEMBER_TYPES:
                return Symbol(MEMBER_TYPES[base.qualname], instance=True)
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = self.resolve(node.left)
            return left if left == Symbol("pathlib.Path", instance=True) else None
        return None

    def _resolve_name(self, name: str) -> Symbol | None:
        found, symbol = self.scope.lookup(name)
        if found:
            return symbol
        return Symbol(f"builtins.{name}" if name in _BUILTINS else name)

    def _member(self, base: Symbol | None, attr: str) -> Symbol | None:
        if base is None:
            return None
        if not base.instance:
            return Symbol(canonical(f"{base.qualname}.{attr}"))
        known = self.class_attributes.get(base.qualname, {})
        if attr in known:
            return known[attr]
        member = f"{base.qualname}.{attr}"
        if member in ATTRIBUTE_TYPES:
            return Symbol(ATTRIBUTE_TYPES[member], instance=True)
        if attr in MEMBER_TYPE_METHODS.get(base.qualname, ()):
            return Symbol(member)
        if base.qualname in MEMBER_TYPES and not attr.startswith("_"):
            return Symbol(MEMBER_TYPES[base.qualname], instance=True)
        return Symbol(member)

    def returned(self, callee: Symbol | None) -> Symbol | None:
        """What calling `callee` gives: a known return type, or an instance of a class."""
        if callee is None or callee.instance:
            return None
        name = callee.qualname
        if name in RETURNS:
            return Symbol(RETURNS[name], instance=True)
        last = name.rsplit(".", 1)[-1]
        if last[:1].isupper():
            return Symbol(canonical(name), instance=True)
        return None

    def annotation(self, node: ast.expr) -> Symbol | None:
        """The instance type an annotation declares: `httpx.Client | None`, `Optional[IO]`,
        `Annotated[sqlite3.Connection, Depends(...)]`, `"httpx.Client"`."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                expression = parse_expression(node.value.strip())
            except SyntaxError:
                return None
            return self.annotation(expression)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._first_known(node.left, node.right)
        if isinstance(node, ast.Subscript):
            outer = self.resolve(node.value)
            if outer is None or outer.instance:
                return None
            inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if outer.qualname in _WRAPPERS and inner:
                return self.annotation(inner[0])
            if outer.qualname == "typing.Union":
                return self._first_known(*inner)
            return self.annotation(node.value)
        symbol = self.resolve(node)
        if symbol is None or symbol.instance or symbol.qualname in ("builtins.None", "None"):
            return None
        return Symbol(canonical(symbol.qualname), instance=True)

    def _first_known(self, *nodes: ast.expr) -> Symbol | None:
        for node in nodes:
            symbol = self.annotation(node)
            if symbol is not None:
                return symbol
        return None
