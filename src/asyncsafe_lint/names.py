"""What a name in a module refers to: imports, aliases and the types of variables.

The linter never imports user code, so it follows what a reader would: import
statements, assignments (`client = httpx.Client()`), annotations
(`f: io.TextIOWrapper`, `x: httpx.Client | None`), type aliases
(`DbSession = Annotated[Session, Depends(get_db)]`) and the return annotations of the
module's functions (`def get_client() -> httpx.Client`).  A name with no binding in the
file is taken to be the module of that name (`time.sleep` without `import time`).

What the names a module imports from the project's other modules stand for (a client
created in `app/clients.py`, a function's return type there) is for the project pass to
tell (`Imported`): one file is analysed on its own first.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field, replace

from asyncsafe_lint.source import parse_expression

#: Prefix of the qualified names of functions and classes defined in the file itself.
LOCAL = "<module>."

_BUILTINS = frozenset(dir(builtins))

#: The methods of `sqlalchemy.orm.Query` that return a new Query (the query is built,
#: not run); the ones that run it (`all()`, `first()`...) are the blocking calls.
_QUERY_BUILDERS = (
    "filter", "filter_by", "where", "order_by", "group_by", "having", "join", "outerjoin",
    "select_from", "options", "limit", "offset", "slice", "distinct", "with_entities",
    "add_columns", "add_entity", "correlate", "execution_options", "params", "populate_existing",
    "with_for_update", "yield_per", "autoflush", "enable_eagerloads", "enable_assertions",
    "union", "union_all", "intersect", "intersect_all", "except_", "except_all", "from_statement",
    "with_parent", "with_session", "set_label_style", "tuples", "only_return_tuples", "reset_joinpoint",
)  # fmt: skip

#: The sessions of SQLAlchemy's ORM: a `Session`, the thread-local proxy to one, and
#: SQLModel's subclass (which adds `exec()`).
_SESSIONS = ("sqlalchemy.orm.Session", "sqlalchemy.orm.scoped_session", "sqlmodel.Session")

#: The sub-resources a boto3 resource makes from identifiers (`s3.Bucket("b")`,
#: `bucket.Object("k")`, `dynamodb.Table("t")`): the names of the resources and of their
#: `has` relations in the resource models boto3 ships (S3, DynamoDB, SQS, SNS, EC2, IAM,
#: CloudFormation, CloudWatch, Glacier).  Every boto3 resource is an instance of
#: `boto3.resources.base.ServiceResource`.
_BOTO3_SUBRESOURCES = (
    "AccessKey", "AccessKeyPair", "Account", "AccountPasswordPolicy", "AccountSummary", "Acl", "Alarm",
    "Archive", "AssumeRolePolicy", "Bucket", "BucketAcl", "BucketCors", "BucketLifecycle",
    "BucketLifecycleConfiguration", "BucketLogging", "BucketNotification", "BucketPolicy",
    "BucketRequestPayment", "BucketTagging", "BucketVersioning", "BucketWebsite", "ClassicAddress",
    "Cors", "CurrentUser", "DhcpOptions", "Event", "Group", "GroupPolicy", "Image", "Instance",
    "InstanceProfile", "InternetGateway", "Job", "KeyPair", "KeyPairInfo", "Lifecycle",
    "LifecycleConfiguration", "Logging", "LoginProfile", "Message", "Metric", "MfaDevice",
    "MultipartUpload", "MultipartUploadPart", "NetworkAcl", "NetworkInterface",
    "NetworkInterfaceAssociation", "Notification", "Object", "ObjectAcl", "ObjectSummary",
    "ObjectVersion", "Part", "PlacementGroup", "PlatformApplication", "PlatformEndpoint", "Policy",
    "PolicyVersion", "Queue", "RequestPayment", "Resource", "Role", "RolePolicy", "Route", "RouteTable",
    "RouteTableAssociation", "SamlProvider", "SecurityGroup", "ServerCertificate", "SigningCertificate",
    "Snapshot", "Stack", "StackResource", "StackResourceSummary", "Subnet", "Subscription", "Table",
    "Tag", "Tagging", "Topic", "User", "UserPolicy", "Vault", "Version", "Versioning",
    "VirtualMfaDevice", "Volume", "Vpc", "VpcAddress", "VpcPeeringConnection", "Website",
)  # fmt: skip

#: The classes of the boto3 type stubs (mypy-boto3-* and types-boto3-*) for the clients
#: and resources of S3, DynamoDB and SQS: service -> (prefix of its class names, the
#: sub-resources).  The async stubs (types-aiobotocore-*) are not among them.
_BOTO3_STUBS = {
    "s3": ("S3", ("Bucket", "Object", "ObjectSummary")),
    "dynamodb": ("DynamoDB", ("Table",)),
    "sqs": ("SQS", ("Queue", "Message")),
}

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
    "urllib3.proxy_from_url": "urllib3.ProxyManager",
    **{
        f"urllib3.{manager}.{method}": "urllib3.HTTPConnectionPool"
        for manager in ("PoolManager", "ProxyManager")
        for method in ("connection_from_url", "connection_from_host")
    },
    # SQLAlchemy: `create_engine()` connects lazily; `engine.begin()` and
    # `sessionmaker.begin()` are context managers giving a Connection and a Session.
    "sqlalchemy.create_engine": "sqlalchemy.Engine",
    "sqlalchemy.Engine.connect": "sqlalchemy.Connection",
    "sqlalchemy.Engine.begin": "sqlalchemy.Connection",
    "sqlalchemy.Connection.begin": "sqlalchemy.RootTransaction",
    "sqlalchemy.Connection.begin_nested": "sqlalchemy.NestedTransaction",
    "sqlalchemy.orm.sessionmaker": "sqlalchemy.orm.sessionmaker",
    "sqlalchemy.orm.sessionmaker.begin": "sqlalchemy.orm.Session",
    "sqlalchemy.orm.sessionmaker.__call__": "sqlalchemy.orm.Session",
    "sqlalchemy.orm.scoped_session": "sqlalchemy.orm.scoped_session",
    **{f"{session}.query": "sqlalchemy.orm.Query" for session in _SESSIONS},
    **{f"{session}.connection": "sqlalchemy.Connection" for session in _SESSIONS},
    **{f"{session}.begin": "sqlalchemy.orm.SessionTransaction" for session in _SESSIONS},
    **{f"{session}.begin_nested": "sqlalchemy.orm.SessionTransaction" for session in _SESSIONS},
    **{f"sqlalchemy.orm.Query.{method}": "sqlalchemy.orm.Query" for method in _QUERY_BUILDERS},
    # boto3 and botocore
    "boto3.client": "botocore.client.BaseClient",
    "boto3.Session.client": "botocore.client.BaseClient",
    "botocore.session.get_session": "botocore.session.Session",
    "botocore.session.Session.create_client": "botocore.client.BaseClient",
    "botocore.client.BaseClient.get_paginator": "botocore.paginate.Paginator",
    "botocore.paginate.Paginator.paginate": "botocore.paginate.PageIterator",
    "botocore.client.BaseClient.get_waiter": "botocore.waiter.Waiter",
    "boto3.resource": "boto3.resources.base.ServiceResource",
    "boto3.Session.resource": "boto3.resources.base.ServiceResource",
    **{
        f"boto3.resources.base.ServiceResource.{name}": "boto3.resources.base.ServiceResource"
        for name in _BOTO3_SUBRESOURCES
    },
    # Clients of other protocols
    "paramiko.SSHClient.open_sftp": "paramiko.SFTPClient",
    "paramiko.SFTPClient.from_transport": "paramiko.SFTPClient",
    "pika.BlockingConnection.channel": "pika.adapters.blocking_connection.BlockingChannel",
    "kafka.KafkaProducer.send": "kafka.producer.future.FutureRecordMetadata",
    # Coroutine functions: what awaiting their call gives (see `Names.resolve`).
    "asyncio.create_subprocess_exec": "asyncio.subprocess.Process",
    "asyncio.create_subprocess_shell": "asyncio.subprocess.Process",
    "asyncio.subprocess.create_subprocess_exec": "asyncio.subprocess.Process",
    "asyncio.subprocess.create_subprocess_shell": "asyncio.subprocess.Process",
}

#: Calls whose result is another type when given this keyword: a `sessionmaker(class_=AsyncSession)`
#: makes async sessions.
OTHER_CLASS: dict[str, str] = {"sqlalchemy.orm.sessionmaker": "class_"}

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
    # `s3.meta.client`: the low-level client a boto3 resource calls.
    "boto3.resources.base.ServiceResource.meta": "boto3.resources.base.ResourceMeta",
    "boto3.resources.base.ResourceMeta.client": "botocore.client.BaseClient",
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
    "urllib3.poolmanager.ProxyManager": "urllib3.ProxyManager",
    "urllib3.poolmanager.proxy_from_url": "urllib3.proxy_from_url",
    "urllib3.connectionpool.connection_from_url": "urllib3.connection_from_url",
    # SQLAlchemy (the module paths of 1.4 and 2.x) and SQLModel, which re-exports its engine
    "sqlalchemy.engine.create_engine": "sqlalchemy.create_engine",
    "sqlalchemy.engine.create.create_engine": "sqlalchemy.create_engine",
    "sqlmodel.create_engine": "sqlalchemy.create_engine",
    "sqlalchemy.engine.Engine": "sqlalchemy.Engine",
    "sqlalchemy.engine.base.Engine": "sqlalchemy.Engine",
    "sqlalchemy.engine.Connection": "sqlalchemy.Connection",
    "sqlalchemy.engine.base.Connection": "sqlalchemy.Connection",
    "sqlalchemy.engine.RootTransaction": "sqlalchemy.RootTransaction",
    "sqlalchemy.engine.base.RootTransaction": "sqlalchemy.RootTransaction",
    "sqlalchemy.engine.NestedTransaction": "sqlalchemy.NestedTransaction",
    "sqlalchemy.engine.base.NestedTransaction": "sqlalchemy.NestedTransaction",
    "sqlalchemy.schema.MetaData": "sqlalchemy.MetaData",
    "sqlalchemy.sql.schema.MetaData": "sqlalchemy.MetaData",
    "sqlalchemy.orm.session.Session": "sqlalchemy.orm.Session",
    "sqlalchemy.orm.session.sessionmaker": "sqlalchemy.orm.sessionmaker",
    "sqlalchemy.orm.session.SessionTransaction": "sqlalchemy.orm.SessionTransaction",
    "sqlalchemy.orm.scoping.scoped_session": "sqlalchemy.orm.scoped_session",
    "sqlalchemy.orm.query.Query": "sqlalchemy.orm.Query",
    "sqlmodel.orm.session.Session": "sqlmodel.Session",
    "sqlmodel.main.SQLModel": "sqlmodel.SQLModel",
    # boto3 and botocore
    "boto3.session.Session": "boto3.Session",
    **{
        f"{stubs}_{service}.{module}{prefix}{kind}": target
        for stubs in ("mypy_boto3", "types_boto3")
        for service, (prefix, _) in _BOTO3_STUBS.items()
        for module, kind, target in (
            ("", "Client", "botocore.client.BaseClient"),
            ("client.", "Client", "botocore.client.BaseClient"),
            ("", "ServiceResource", "boto3.resources.base.ServiceResource"),
            ("service_resource.", "ServiceResource", "boto3.resources.base.ServiceResource"),
        )
    },
    **{
        f"{stubs}_{service}.service_resource.{name}": "boto3.resources.base.ServiceResource"
        for stubs in ("mypy_boto3", "types_boto3")
        for service, (_, names) in _BOTO3_STUBS.items()
        for name in names
    },
    # Clients of other protocols
    "paramiko.client.SSHClient": "paramiko.SSHClient",
    "paramiko.SFTP": "paramiko.SFTPClient",
    "paramiko.sftp_client.SFTP": "paramiko.SFTPClient",
    "paramiko.sftp_client.SFTPClient": "paramiko.SFTPClient",
    "pika.adapters.BlockingConnection": "pika.BlockingConnection",
    "pika.adapters.blocking_connection.BlockingConnection": "pika.BlockingConnection",
    "kafka.producer.KafkaProducer": "kafka.KafkaProducer",
    "kafka.producer.kafka.KafkaProducer": "kafka.KafkaProducer",
    "kafka.consumer.KafkaConsumer": "kafka.KafkaConsumer",
    "kafka.consumer.group.KafkaConsumer": "kafka.KafkaConsumer",
}

_WRAPPERS = frozenset({"typing.Optional", "typing.Annotated", "typing.Final", "typing.ClassVar"})
#: Subscripted, these make a type alias of what they wrap (`Annotated[Session, Depends(f)]`).
_ALIASING = frozenset({*_WRAPPERS, "typing.Union"})


@dataclass(frozen=True, slots=True)
class Symbol:
    """What an expression stands for: a module, class or function (`instance=False`),
    or an instance of the class `qualname`."""

    qualname: str
    instance: bool = False
    #: For a name of another module that the project pass typed (see `Imported`): that
    #: name (`app.clients.http`), which the framework's registrations are keyed by.
    origin: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Imported:
    """What names of the project's other modules stand for, as the project pass learns
    from those modules' facts: keyed by qualified name (`app.clients.http`)."""

    #: Module-level variables and type aliases -> an instance, or the aliased class.
    names: dict[str, Symbol] = field(default_factory=dict)
    #: Functions -> the instance their return annotation declares.
    returns: dict[str, Symbol] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.names or self.returns)


def absolute(name: str, module: str, is_package: bool) -> str:
    """A name a relative import spells (`..db.fetch`) as an absolute one, for the module
    `module` (a package's `__init__` when `is_package`)."""
    if not name.startswith("."):
        return name
    rest = name.lstrip(".")
    level = len(name) - len(rest)
    parts = module.split(".") if is_package else module.split(".")[:-1]
    base = ".".join(parts[: len(parts) - (level - 1)] if level > 1 else parts)
    return f"{base}.{rest}" if base and rest else base or rest


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

    def __init__(self, module: str = "", is_package: bool = False, imported: Imported | None = None) -> None:
        """`module`: the dotted name of the module analysed (a package's `__init__` when
        `is_package`), which its relative imports are resolved against."""
        self.module = module
        self.is_package = is_package
        self.imported = imported if imported is not None else Imported()
        self.scope = Scope()
        #: Instance attribute types per class, from `self.x = ...` and class-level annotations.
        self.class_attributes: dict[str, dict[str, Symbol | None]] = {}
        #: What the module's own functions return, by their `LOCAL` key, as annotated.
        self.returns: dict[str, Symbol] = {}
        #: Every name an annotation of the module names (`app.deps.SessionDep`).
        self.annotated: set[str] = set()

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
                name = absolute(f"{prefix}{joiner}{alias.name}", self.module, self.is_package)
                self.bind(alias.asname or alias.name, Symbol(canonical(name)))

    def bind_value(self, target: ast.expr, value: ast.expr) -> None:
        """`target = value`; a tuple of names takes a tuple of values one by one
        (`p1, p2 = Path("a"), Path("b")`)."""
        if (
            isinstance(target, (ast.Tuple, ast.List))
            and isinstance(value, (ast.Tuple, ast.List))
            and len(target.elts) == len(value.elts)
            and not any(isinstance(element, ast.Starred) for element in (*target.elts, *value.elts))
        ):
            for each_target, each_value in zip(target.elts, value.elts, strict=True):
                self.bind_value(each_target, each_value)
        else:
            self.bind_target(target, self.resolve(value))

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
            callee = self.resolve(node.func)
            other_class = OTHER_CLASS.get(callee.qualname) if callee is not None else None
            if other_class is not None and any(keyword.arg in (other_class, None) for keyword in node.keywords):
                return None  # given another class, or `**kwargs` that may hold one
            return self.returned(callee)
        if isinstance(node, ast.Await):
            # `await asyncio.create_subprocess_exec(...)`: what the coroutine returns.
            return self.resolve(node.value)
        if isinstance(node, ast.Subscript):
            base = self.resolve(node.value)
            if base is not None and base.instance and base.qualname in MEMBER_TYPES:
                return Symbol(MEMBER_TYPES[base.qualname], instance=True)
            if base is not None and not base.instance and base.qualname in _ALIASING:
                aliased = self.annotation(node)
                return Symbol(aliased.qualname) if aliased is not None else None
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = self.resolve(node.left)
            return left if left == Symbol("pathlib.Path", instance=True) else None
        return None

    def _resolve_name(self, name: str) -> Symbol | None:
        found, symbol = self.scope.lookup(name)
        if found:
            return self._imported(symbol)
        return Symbol(f"builtins.{name}" if name in _BUILTINS else name)

    def _imported(self, symbol: Symbol | None) -> Symbol | None:
        """What a name of another module of the project stands for, when the project pass told."""
        if symbol is None or symbol.instance or not self.imported.names:
            return symbol
        typed = self.imported.names.get(symbol.qualname)
        return symbol if typed is None else replace(typed, origin=symbol.qualname)

    def _member(self, base: Symbol | None, attr: str) -> Symbol | None:
        if base is None:
            return None
        if not base.instance:
            return self._imported(Symbol(canonical(f"{base.qualname}.{attr}")))
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
        """What calling `callee` gives: a known return type, or an instance of a class;
        for an instance, what its `__call__` returns (`SessionLocal()`)."""
        if callee is None:
            return None
        if callee.instance:
            made = RETURNS.get(f"{callee.qualname}.__call__")
            return Symbol(made, instance=True) if made is not None else None
        name = callee.qualname
        declared = self.returns.get(name) or self.imported.returns.get(name)
        if declared is not None:
            return declared
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
        self.annotated.add(symbol.origin or symbol.qualname)
        return Symbol(canonical(symbol.qualname), instance=True)

    def _first_known(self, *nodes: ast.expr) -> Symbol | None:
        for node in nodes:
            symbol = self.annotation(node)
            if symbol is not None:
                return symbol
        return None
