from asyncsafe_lint.handoff import FIX_SAFETY, HandOffRule
from asyncsafe_lint.rule import Invalid

_SQLITE = "use `aiosqlite`"
_POSTGRES = "use `asyncpg` or psycopg 3's `AsyncConnection`"
_MYSQL = "use `aiomysql` (or `asyncmy`)"
_REDIS = "use `redis.asyncio.Redis` and `await` the command"
_MONGO = "use pymongo's `AsyncMongoClient` (or `motor`)"
#: SQLAlchemy's ORM sessions: a `Session`, and a `scoped_session` (a proxy to one per thread).
_ORM_SESSIONS = ("sqlalchemy.orm.Session", "sqlalchemy.orm.scoped_session")
_ORM = "use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call"
_SQLMODEL = "use SQLModel's `AsyncSession` (`sqlmodel.ext.asyncio.session`) and `await` the call"
_CORE = "use `create_async_engine()` (`sqlalchemy.ext.asyncio`) and `await` the call"

# The default cursors of psycopg and PyMySQL read the whole result during `execute()`,
# so their `fetch*()` only copy rows out of memory; sqlite3 steps the query on each fetch.
_SQLITE_CURSOR = ("execute", "executemany", "executescript", "fetchone", "fetchmany", "fetchall")
_SQLITE_CONNECTION = (
    "execute", "executemany", "executescript", "commit", "rollback", "backup", "iterdump",
    "serialize", "deserialize",
)  # fmt: skip
_COLLECTION = (
    "find", "find_one", "find_one_and_delete", "find_one_and_replace", "find_one_and_update",
    "insert_one", "insert_many", "update_one", "update_many", "replace_one", "delete_one",
    "delete_many", "bulk_write", "count_documents", "estimated_document_count", "distinct",
    "aggregate", "watch", "create_index", "create_indexes", "drop_index", "drop_indexes",
    "list_indexes", "index_information", "rename", "drop",
)  # fmt: skip
_DATABASE = (
    "command", "create_collection", "drop_collection", "list_collection_names", "list_collections",
    "validate_collection", "watch",
)  # fmt: skip
_CLIENT = ("drop_database", "list_database_names", "list_databases", "server_info", "watch")

# SQLAlchemy's ORM session, from its documentation and source (2.0/2.1):
# - `execute()`, `scalar()`, `scalars()`, `get()`, `get_one()`, `refresh()`, `merge()` (it
#   loads the row it merges into), `merge_all()` and the `bulk_*()` methods run SQL;
# - `flush()` and `commit()` write what is pending (and `commit()` sends COMMIT);
# - `rollback()` sends ROLLBACK on the connection the transaction holds; `prepare()` is
#   the first phase of a two-phase commit;
# - `begin_nested()` flushes, then sends SAVEPOINT; `connection()` checks a connection
#   out of the pool, which may open a new one.
# Not flagged: `add()`, `add_all()`, `expire()`, `expunge()` and `query()` only change or
# build state in memory; `delete()` only marks the object (the DELETE is sent by the next
# flush or commit, which are flagged; it loads unloaded related rows only for a `delete`
# cascade, which the linter cannot see); `begin()` starts the session's transaction
# without SQL (the database work starts with the first statement); `close()` hands the
# connection back to the pool, like the drivers' `close()`, which are not flagged either.
_SESSION = (
    "execute", "scalar", "scalars", "get", "get_one", "refresh", "merge", "merge_all", "flush", "commit",
    "rollback", "prepare", "begin_nested", "connection", "bulk_save_objects", "bulk_insert_mappings",
    "bulk_update_mappings",
)  # fmt: skip
#: The methods of `Query` that run it; the others (`filter()`, `order_by()`...) build a new Query.
_QUERY = ("all", "first", "one", "one_or_none", "scalar", "count", "get", "delete", "update", "value", "values")
#: `Engine.connect()` and `begin()` check a connection out of the pool (and may open one);
#: `raw_connection()` too.  `execute()` and `scalar()` are SQLAlchemy 1.x's (removed in 2.0).
_ENGINE = ("connect", "begin", "raw_connection", "execute", "scalar")
#: `Connection.begin()` sends nothing (the driver begins with the first statement);
#: `get_isolation_level()` asks the database.
_CONNECTION = (
    "execute", "exec_driver_sql", "scalar", "scalars", "commit", "rollback", "begin_nested",
    "get_isolation_level",
)  # fmt: skip


class BlockingDatabaseCall(HandOffRule):
    code = "ASF106"
    name = "blocking-database-call"
    summary = (
        "A synchronous database driver (sqlite3, psycopg, PyMySQL, redis, pymongo) or SQLAlchemy/SQLModel "
        "session or engine in async code"
    )
    calls = {
        "sqlite3.connect": _SQLITE,
        **{f"sqlite3.Connection.{method}": _SQLITE for method in _SQLITE_CONNECTION},
        **{f"sqlite3.Cursor.{method}": _SQLITE for method in _SQLITE_CURSOR},
        "psycopg2.connect": _POSTGRES,
        "psycopg2.extras.execute_batch": _POSTGRES,
        "psycopg2.extras.execute_values": _POSTGRES,
        **{f"psycopg2.extensions.connection.{method}": _POSTGRES for method in ("commit", "rollback", "reset")},
        **{
            f"psycopg2.extensions.cursor.{method}": _POSTGRES
            for method in ("execute", "executemany", "callproc", "copy_from", "copy_to", "copy_expert")
        },
        "psycopg.connect": _POSTGRES,
        "psycopg.Connection.connect": _POSTGRES,
        **{f"psycopg.Connection.{method}": _POSTGRES for method in ("execute", "commit", "rollback")},
        **{f"psycopg.Cursor.{method}": _POSTGRES for method in ("execute", "executemany", "copy", "stream")},
        "pymysql.connect": _MYSQL,
        "pymysql.Connect": _MYSQL,
        **{
            f"pymysql.connections.Connection.{method}": _MYSQL
            for method in ("begin", "commit", "rollback", "ping", "select_db", "query")
        },
        **{f"pymysql.cursors.Cursor.{method}": _MYSQL for method in ("execute", "executemany", "callproc")},
        "redis.client.Pipeline.execute": _REDIS,
        **{f"pymongo.collection.Collection.{method}": _MONGO for method in _COLLECTION},
        **{f"pymongo.database.Database.{method}": _MONGO for method in _DATABASE},
        **{f"pymongo.MongoClient.{method}": _MONGO for method in _CLIENT},
        **{f"{session}.{method}": _ORM for session in _ORM_SESSIONS for method in _SESSION},
        **{f"sqlmodel.Session.{method}": _SQLMODEL for method in ("exec", *_SESSION)},
        **{f"sqlalchemy.orm.Query.{method}": _ORM for method in _QUERY},
        # A session's transaction: `commit()` and `rollback()` end it in the database.
        **{f"sqlalchemy.orm.SessionTransaction.{method}": _ORM for method in ("commit", "rollback")},
        **{f"sqlalchemy.Engine.{method}": _CORE for method in _ENGINE},
        **{f"sqlalchemy.Connection.{method}": _CORE for method in _CONNECTION},
        # COMMIT/ROLLBACK, and RELEASE/ROLLBACK TO SAVEPOINT.
        **{
            f"sqlalchemy.{transaction}.{method}": _CORE
            for transaction in ("RootTransaction", "NestedTransaction")
            for method in ("commit", "rollback")
        },
        # DDL against the database (and its catalogue, to know what exists).
        **{f"sqlalchemy.MetaData.{method}": _CORE for method in ("create_all", "drop_all", "reflect")},
        **{f"sqlmodel.SQLModel.metadata.{method}": _CORE for method in ("create_all", "drop_all")},
    }
    # Every Redis command is a round trip to the server.
    any_method_of = {"redis.Redis": _REDIS}
    # Those that only build a helper object (or a client) locally.
    harmless_methods = frozenset({
        "pipeline", "pubsub", "lock", "register_script", "from_url", "from_pool", "client", "close",
        "get_encoder", "get_connection_kwargs", "get_retry", "set_retry", "set_response_callback",
        "load_external_module", "json", "ft", "ts", "bf", "cf", "cms", "topk", "tdigest", "graph",
    })  # fmt: skip
    docs = (
        """
## What it does
Flags, directly in the body of an `async def`, calls into synchronous database drivers
that talk to the database: `sqlite3.connect()` and the `Connection` and `Cursor`
methods that run or fetch queries; `psycopg2` and psycopg 3 (`psycopg.connect()`,
`execute()`, `commit()`, `copy...()`) and `psycopg2.extras.execute_values()`;
`pymysql.connect()` and its `execute()`, `commit()`, `ping()`...; every command of a
`redis.Redis` client (and `pipeline().execute()`); and the `pymongo` collection,
database and client methods that reach the server (`find_one()`, `insert_one()`,
`aggregate()`, `command()`...), whether the collection is reached as
`client.db.users` or `client["db"]["users"]`.

SQLAlchemy's synchronous API is flagged where it talks to the database.  On an ORM
`Session` (and a `scoped_session`, and SQLModel's `Session`, whose `exec()` is
flagged too): `execute()`, `scalar()`, `scalars()`, `get()`, `get_one()`,
`refresh()`, `merge()`, `flush()`, `commit()`, `rollback()`, `begin_nested()`,
`connection()` and the `bulk_*()` methods; on a `session.query(...)`, whatever its
chain of `filter()`, `join()`, `order_by()`..., the calls that run it: `all()`,
`first()`, `one()`, `one_or_none()`, `scalar()`, `count()`, `get()`, and the bulk
`delete()` and `update()`.  On the Core side: `Engine.connect()`, `begin()` and
`raw_connection()` (they check out a pooled connection, opening one if the pool has
none), `Connection.execute()`, `exec_driver_sql()`, `scalar()`, `scalars()`,
`commit()`, `rollback()` and `begin_nested()`, a transaction's `commit()` and
`rollback()`, and `MetaData.create_all()`, `drop_all()` and `reflect()` (also as
`SQLModel.metadata.create_all()`).  A session is recognised when made by `Session(...)`,
by calling a `sessionmaker` (`db = SessionLocal()`) or by `sessionmaker.begin()`,
annotated (`db: Session = Depends(get_db)`, `Annotated[Session, Depends(get_db)]`) or
kept on `self`; an engine when made by `create_engine()` (SQLAlchemy's or SQLModel's)
or annotated.  A `sessionmaker(class_=...)` may make async sessions: what it makes is
not guessed.

Not flagged: `create_engine()` (it connects on first use), `session.add()`,
`add_all()`, `expire()`, `expunge()` and building a query, which only change state in
memory; `session.delete()`, which only marks the object (the DELETE goes out with the
next flush or commit, which are flagged); `begin()`, which sends nothing until the
first statement; `close()`, like the drivers' `close()`; reading rows from a result
that `execute()` returned; and everything of `sqlalchemy.ext.asyncio` (`AsyncSession`,
`AsyncEngine`), which is awaited.

Calls that do no I/O are left alone: `conn.cursor()`, `redis.pipeline()`,
`redis.lock()`, `client.get_database()`.  The `fetch*()` methods of psycopg and
PyMySQL's default cursors are not flagged either: those cursors read the whole result
during `execute()` (which is flagged), so fetching only copies rows from memory.
`collection.find()` is flagged although it is lazy, because its cursor is read where
it is iterated, which is on the event loop.

No ruff or flake8-async rule covers database drivers or SQLAlchemy: their blocking-call rules
(ASYNC210 to ASYNC251) stop at HTTP clients, processes, files, `input()` and
`time.sleep()`; flake8-async's ASYNC200 can only be configured by hand, call by call.

## Why is this bad?
Every query is a network round trip (or, for SQLite, a disk read and a file lock)
made on the thread that runs the event loop.  A slow query, a lock wait or a
connection pool at its limit then freezes every request on the worker, not just the
one that asked.

## Example
```python
import sqlite3

@app.get("/users/{user_id}")
async def get_user(user_id: int):
    conn = sqlite3.connect("app.db")
    return conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
```

## Use instead
```python
import aiosqlite

@app.get("/users/{user_id}")
async def get_user(user_id: int):
    async with aiosqlite.connect("app.db") as conn:
        cursor = await conn.execute("SELECT * FROM users WHERE id = ?", (user_id,))
        return await cursor.fetchone()
```
Or declare the route with a plain `def`, which FastAPI runs in its thread pool.  With
SQLAlchemy, make the engine with `create_async_engine()` and the sessions with
`async_sessionmaker()`, and `await session.execute(...)`; a block of synchronous ORM
code can run in `await session.run_sync(function)`.

## Fix safety
"""
        + FIX_SAFETY
        + """
Database connections are the case in point: a `sqlite3` connection refuses every
thread but the one that made it, and most drivers' connections, like SQLAlchemy
sessions, must not be used by two threads at once.  Where a function opens a
connection and works with it, make the function a plain `def` (the fix does, for a
route or a dependency), or move that work into one function handed off whole.
"""
    )
    valid = (
        "from sqlalchemy.ext.asyncio import AsyncSession\nfrom sqlalchemy.orm import sessionmaker\n"
        "SessionLocal = sessionmaker(bind=engine, class_=AsyncSession)\nasync def f():\n"
        "    async with SessionLocal() as db:\n        await db.commit()\n"
        "    async with SessionLocal.begin() as db:\n        await db.execute('SELECT 1')\n",
        "import aiosqlite\nasync def f():\n    async with aiosqlite.connect('db') as conn:\n"
        "        await conn.execute('SELECT 1')\n",
        "import sqlite3\ndef f():\n    return sqlite3.connect('db').execute('SELECT 1').fetchall()\n",
        "import sqlite3\nasync def f(conn: sqlite3.Connection):\n    return conn.cursor()\n",
        "import redis.asyncio\nasync def f():\n    r = redis.asyncio.Redis()\n    await r.get('k')\n",
        "import redis\nr = redis.Redis()\nasync def f():\n    return r.pipeline(), r.lock('k')\n",
        "import psycopg2\nasync def f(conn: psycopg2.extensions.connection):\n"
        "    cur = conn.cursor()\n    return cur.fetchall()\n",
        "from pymongo import MongoClient\nclient = MongoClient()\nasync def f():\n"
        "    return client.get_database('app').get_collection('users')\n",
        "from pymongo import AsyncMongoClient\nclient = AsyncMongoClient()\nasync def f():\n"
        "    await client.app.users.find_one({})\n",
        "import sqlite3\nfrom fastapi.concurrency import run_in_threadpool\nasync def f(conn: sqlite3.Connection):\n"
        "    await run_in_threadpool(conn.execute, 'SELECT 1')\n",
        "import sqlite3\nasync def f():\n    sqlite3.connect('db')  # noqa: ASF106\n",
        # SQLAlchemy: the same code without async, the asyncio API, what does no I/O.
        "from sqlalchemy import create_engine, select\nfrom sqlalchemy.orm import Session\n"
        "engine = create_engine('sqlite://')\ndef f():\n    with Session(engine) as session:\n"
        "        session.add(object())\n        session.commit()\n        return session.scalars(select(1)).all()\n",
        "from fastapi import Depends\nfrom sqlalchemy.orm import Session\n"
        "def f(db: Session = Depends(get_db)):\n    return db.query(User).filter(User.id == 1).first()\n",
        "from sqlalchemy import select\nfrom sqlalchemy.ext.asyncio import AsyncSession, create_async_engine\n"
        "engine = create_async_engine('postgresql+asyncpg://db')\n"
        "async def f(session: AsyncSession):\n    await session.execute(select(1))\n    await session.commit()\n"
        "    async with engine.begin() as conn:\n        await conn.execute(select(1))\n",
        "from sqlalchemy.ext.asyncio import AsyncSession\nasync def f(session: AsyncSession):\n"
        "    return await session.run_sync(lambda sync: sync.query(User).all())\n",
        "from sqlalchemy import create_engine\nfrom sqlalchemy.orm import Session\n"
        "async def f(session: Session, user):\n    engine = create_engine('sqlite://')\n"
        "    query = session.query(User).filter_by(name='x').order_by(User.id).limit(5)\n"
        "    session.add(user)\n    session.delete(user)\n    session.expire(user)\n    return engine, query\n",
        "from sqlmodel import SQLModel, select\nfrom sqlmodel.ext.asyncio.session import AsyncSession\n"
        "async def f(session: AsyncSession, engine):\n    await session.exec(select(Hero))\n"
        "    async with engine.begin() as conn:\n        await conn.run_sync(SQLModel.metadata.create_all)\n",
    )
    invalid = (
        Invalid(
            "import sqlite3\nasync def f():\n    conn = sqlite3.connect('db')  # expect: ASF106\n"
            "    cur = conn.cursor()\n    cur.execute('SELECT 1')  # expect: ASF106\n"
            "    cur.fetchall()  # expect: ASF106\n",
            "Blocking call `sqlite3.connect()` in async function `f`: use `aiosqlite`",
            "Blocking call `sqlite3.Cursor.execute()` in async function `f`: use `aiosqlite`",
            "Blocking call `sqlite3.Cursor.fetchall()` in async function `f`: use `aiosqlite`",
            fixed="import sqlite3\nimport anyio\nasync def f():\n"
            "    conn = await anyio.to_thread.run_sync(sqlite3.connect, 'db')  # expect: ASF106\n"
            "    cur = conn.cursor()\n    await anyio.to_thread.run_sync(cur.execute, 'SELECT 1')  # expect: ASF106\n"
            "    await anyio.to_thread.run_sync(cur.fetchall)  # expect: ASF106\n",
        ),
        Invalid(
            "import sqlite3\nfrom typing import Annotated\nfrom fastapi import Depends\n"
            "async def f(db: Annotated[sqlite3.Connection, Depends(get_db)]):\n"
            "    db.execute('DELETE FROM t')  # expect: ASF106\n    db.commit()  # expect: ASF106\n",
            "Blocking call `sqlite3.Connection.execute()` in async function `f`: use `aiosqlite`",
            "Blocking call `sqlite3.Connection.commit()` in async function `f`: use `aiosqlite`",
            fixed="import sqlite3\nfrom typing import Annotated\nfrom fastapi import Depends\nimport anyio\n"
            "async def f(db: Annotated[sqlite3.Connection, Depends(get_db)]):\n"
            "    await anyio.to_thread.run_sync(db.execute, 'DELETE FROM t')  # expect: ASF106\n"
            "    await anyio.to_thread.run_sync(db.commit)  # expect: ASF106\n",
        ),
        Invalid(
            "import psycopg2\nasync def f():\n    conn = psycopg2.connect('dsn')  # expect: ASF106\n"
            "    with conn.cursor() as cur:\n        cur.execute('SELECT 1')  # expect: ASF106\n",
            "Blocking call `psycopg2.connect()` in async function `f`: use `asyncpg` or psycopg 3's `AsyncConnection`",
            "Blocking call `psycopg2.extensions.cursor.execute()` in async function `f`: use `asyncpg` or psycopg 3's `AsyncConnection`",
            fixed="import psycopg2\nimport anyio\nasync def f():\n"
            "    conn = await anyio.to_thread.run_sync(psycopg2.connect, 'dsn')  # expect: ASF106\n"
            "    with conn.cursor() as cur:\n        cur.execute('SELECT 1')  # expect: ASF106\n",
        ),
        Invalid(
            "import psycopg\nasync def f():\n    with psycopg.connect('dsn') as conn:  # expect: ASF106\n"
            "        conn.execute('SELECT 1')  # expect: ASF106\n",
            "Blocking call `psycopg.connect()` in async function `f`: use `asyncpg` or psycopg 3's `AsyncConnection`",
            "Blocking call `psycopg.Connection.execute()` in async function `f`: use `asyncpg` or psycopg 3's `AsyncConnection`",
        ),
        Invalid(
            "import pymysql\nasync def f():\n    conn = pymysql.connect(host='h')  # expect: ASF106\n"
            "    conn.cursor().execute('SELECT 1')  # expect: ASF106\n",
            "Blocking call `pymysql.connect()` in async function `f`: use `aiomysql` (or `asyncmy`)",
            "Blocking call `pymysql.cursors.Cursor.execute()` in async function `f`: use `aiomysql` (or `asyncmy`)",
            fixed="import pymysql\nimport anyio\nimport functools\nasync def f():\n"
            "    conn = await anyio.to_thread.run_sync(functools.partial(pymysql.connect, host='h'))  # expect: ASF106\n"
            "    await anyio.to_thread.run_sync(conn.cursor().execute, 'SELECT 1')  # expect: ASF106\n",
        ),
        Invalid(
            "import redis\nclass Cache:\n    def __init__(self):\n        self.redis = redis.StrictRedis()\n"
            "    async def get(self, key):\n        return self.redis.get(key)  # expect: ASF106\n",
            "Blocking call `redis.Redis.get()` in async function `Cache.get`: use `redis.asyncio.Redis` and `await` the command",
            fixed="import redis\nimport anyio\nclass Cache:\n    def __init__(self):\n"
            "        self.redis = redis.StrictRedis()\n    async def get(self, key):\n"
            "        return await anyio.to_thread.run_sync(self.redis.get, key)  # expect: ASF106\n",
        ),
        Invalid(
            "from typing import Optional\nfrom redis import Redis\nasync def f(r: Optional[Redis]):\n"
            "    pipe = r.pipeline()\n    pipe.incr('hits')\n    pipe.execute()  # expect: ASF106\n",
            "Blocking call `redis.client.Pipeline.execute()` in async function `f`: use `redis.asyncio.Redis` and `await` the command",
            fixed="from typing import Optional\nfrom redis import Redis\nimport anyio\n"
            "async def f(r: Optional[Redis]):\n    pipe = r.pipeline()\n    pipe.incr('hits')\n"
            "    await anyio.to_thread.run_sync(pipe.execute)  # expect: ASF106\n",
        ),
        Invalid(
            "from pymongo import MongoClient\nclient = MongoClient()\nasync def f():\n"
            "    client.app.users.find_one({'_id': 1})  # expect: ASF106\n"
            "    client['app']['users'].insert_one({})  # expect: ASF106\n",
            "Blocking call `pymongo.collection.Collection.find_one()` in async function `f`: use pymongo's `AsyncMongoClient` (or `motor`)",
            "Blocking call `pymongo.collection.Collection.insert_one()` in async function `f`: use pymongo's `AsyncMongoClient` (or `motor`)",
            fixed="from pymongo import MongoClient\nimport anyio\nclient = MongoClient()\nasync def f():\n"
            "    await anyio.to_thread.run_sync(client.app.users.find_one, {'_id': 1})  # expect: ASF106\n"
            "    await anyio.to_thread.run_sync(client['app']['users'].insert_one, {})  # expect: ASF106\n",
        ),
        Invalid(
            "import pymongo\nasync def f(client: pymongo.MongoClient):\n"
            "    db = client.get_database('app')\n    db.command('ping')  # expect: ASF106\n"
            "    db.get_collection('users').delete_many({})  # expect: ASF106\n",
            "Blocking call `pymongo.database.Database.command()` in async function `f`: use pymongo's `AsyncMongoClient` (or `motor`)",
            "Blocking call `pymongo.collection.Collection.delete_many()` in async function `f`: use pymongo's `AsyncMongoClient` (or `motor`)",
            fixed="import pymongo\nimport anyio\nasync def f(client: pymongo.MongoClient):\n"
            "    db = client.get_database('app')\n"
            "    await anyio.to_thread.run_sync(db.command, 'ping')  # expect: ASF106\n"
            "    await anyio.to_thread.run_sync(db.get_collection('users').delete_many, {})  # expect: ASF106\n",
        ),
        Invalid(
            "from fastapi import Depends\nfrom sqlalchemy.orm import Session\n"
            "async def read_user(user_id: int, db: Session = Depends(get_db)):\n"
            "    return db.query(User).filter(User.id == user_id).first()  # expect: ASF106\n",
            "Blocking call `sqlalchemy.orm.Query.first()` in async function `read_user`: use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call",
            fixed="from fastapi import Depends\nfrom sqlalchemy.orm import Session\nimport anyio\n"
            "async def read_user(user_id: int, db: Session = Depends(get_db)):\n"
            "    return await anyio.to_thread.run_sync(db.query(User).filter(User.id == user_id).first)  # expect: ASF106\n",
        ),
        Invalid(
            "from typing import Annotated\nfrom fastapi import Depends\nfrom sqlalchemy import select\n"
            "from sqlalchemy.orm import Session\n"
            "async def f(db: Annotated[Session, Depends(get_db)], user):\n"
            "    db.add(user)\n    db.commit()  # expect: ASF106\n    db.refresh(user)  # expect: ASF106\n"
            "    return db.scalars(select(User)).all()  # expect: ASF106\n",
            "Blocking call `sqlalchemy.orm.Session.commit()` in async function `f`: use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call",
            "Blocking call `sqlalchemy.orm.Session.refresh()` in async function `f`: use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call",
            "Blocking call `sqlalchemy.orm.Session.scalars()` in async function `f`: use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call",
            fixed="from typing import Annotated\nfrom fastapi import Depends\nfrom sqlalchemy import select\n"
            "from sqlalchemy.orm import Session\nimport anyio\n"
            "async def f(db: Annotated[Session, Depends(get_db)], user):\n    db.add(user)\n"
            "    await anyio.to_thread.run_sync(db.commit)  # expect: ASF106\n"
            "    await anyio.to_thread.run_sync(db.refresh, user)  # expect: ASF106\n"
            "    return (await anyio.to_thread.run_sync(db.scalars, select(User))).all()  # expect: ASF106\n",
        ),
        Invalid(
            "import sqlalchemy as sa\nfrom sqlalchemy.orm import sessionmaker\n"
            "engine = sa.create_engine('postgresql://db')\nSessionLocal = sessionmaker(bind=engine)\n"
            "async def f():\n    with SessionLocal.begin() as session:\n"
            "        session.execute(sa.text('SELECT 1'))  # expect: ASF106\n"
            "    db = SessionLocal()\n    db.commit()  # expect: ASF106\n"
            "    with engine.connect() as conn:  # expect: ASF106\n"
            "        conn.execute(sa.text('SELECT 1'))  # expect: ASF106\n        conn.commit()  # expect: ASF106\n",
            "Blocking call `sqlalchemy.orm.Session.execute()` in async function `f`: use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call",
            "Blocking call `sqlalchemy.orm.Session.commit()` in async function `f`: use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call",
            "Blocking call `sqlalchemy.Engine.connect()` in async function `f`: use `create_async_engine()` (`sqlalchemy.ext.asyncio`) and `await` the call",
            "Blocking call `sqlalchemy.Connection.execute()` in async function `f`: use `create_async_engine()` (`sqlalchemy.ext.asyncio`) and `await` the call",
            "Blocking call `sqlalchemy.Connection.commit()` in async function `f`: use `create_async_engine()` (`sqlalchemy.ext.asyncio`) and `await` the call",
            fixed="import sqlalchemy as sa\nfrom sqlalchemy.orm import sessionmaker\nimport anyio\n"
            "engine = sa.create_engine('postgresql://db')\nSessionLocal = sessionmaker(bind=engine)\nasync def f():\n"
            "    with SessionLocal.begin() as session:\n"
            "        session.execute(sa.text('SELECT 1'))  # expect: ASF106\n    db = SessionLocal()\n"
            "    await anyio.to_thread.run_sync(db.commit)  # expect: ASF106\n"
            "    with engine.connect() as conn:  # expect: ASF106\n"
            "        conn.execute(sa.text('SELECT 1'))  # expect: ASF106\n        conn.commit()  # expect: ASF106\n",
        ),
        Invalid(
            "from sqlalchemy.orm import scoped_session, sessionmaker\n"
            "db_session = scoped_session(sessionmaker(bind=engine))\nasync def f():\n"
            "    users = db_session.query(User).all()  # expect: ASF106\n    db_session.commit()  # expect: ASF106\n",
            "Blocking call `sqlalchemy.orm.Query.all()` in async function `f`",
            "Blocking call `sqlalchemy.orm.scoped_session.commit()` in async function `f`: use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call",
            fixed="from sqlalchemy.orm import scoped_session, sessionmaker\nimport anyio\n"
            "db_session = scoped_session(sessionmaker(bind=engine))\nasync def f():\n"
            "    users = await anyio.to_thread.run_sync(db_session.query(User).all)  # expect: ASF106\n"
            "    await anyio.to_thread.run_sync(db_session.commit)  # expect: ASF106\n",
        ),
        Invalid(
            "from sqlalchemy.engine.base import Engine\nfrom sqlalchemy.orm.session import Session\n"
            "class Repo:\n    def __init__(self, engine: Engine):\n        self.session = Session(engine)\n"
            "    async def count(self):\n"
            "        return self.session.query(User).join(Team).count()  # expect: ASF106\n"
            "    async def save(self):\n        self.session.flush()  # expect: ASF106\n"
            "        self.session.rollback()  # expect: ASF106\n",
            "Blocking call `sqlalchemy.orm.Query.count()` in async function `Repo.count`: use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call",
            "Blocking call `sqlalchemy.orm.Session.flush()` in async function `Repo.save`: use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call",
            "Blocking call `sqlalchemy.orm.Session.rollback()` in async function `Repo.save`: use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call",
            fixed="from sqlalchemy.engine.base import Engine\nfrom sqlalchemy.orm.session import Session\n"
            "import anyio\nclass Repo:\n    def __init__(self, engine: Engine):\n"
            "        self.session = Session(engine)\n    async def count(self):\n"
            "        return await anyio.to_thread.run_sync(self.session.query(User).join(Team).count)  # expect: ASF106\n"
            "    async def save(self):\n"
            "        await anyio.to_thread.run_sync(self.session.flush)  # expect: ASF106\n"
            "        await anyio.to_thread.run_sync(self.session.rollback)  # expect: ASF106\n",
        ),
        Invalid(
            "from sqlalchemy import Engine, MetaData\nmetadata = MetaData()\n"
            "async def startup(engine: Engine):\n    metadata.create_all(engine)  # expect: ASF106\n"
            "    conn = engine.connect()  # expect: ASF106\n    trans = conn.begin()\n"
            "    conn.exec_driver_sql('SELECT 1')  # expect: ASF106\n    trans.commit()  # expect: ASF106\n",
            "Blocking call `sqlalchemy.MetaData.create_all()` in async function `startup`: use `create_async_engine()` (`sqlalchemy.ext.asyncio`) and `await` the call",
            "Blocking call `sqlalchemy.Engine.connect()` in async function `startup`",
            "Blocking call `sqlalchemy.Connection.exec_driver_sql()` in async function `startup`",
            "Blocking call `sqlalchemy.RootTransaction.commit()` in async function `startup`",
            fixed="from sqlalchemy import Engine, MetaData\nimport anyio\nmetadata = MetaData()\n"
            "async def startup(engine: Engine):\n"
            "    await anyio.to_thread.run_sync(metadata.create_all, engine)  # expect: ASF106\n"
            "    conn = await anyio.to_thread.run_sync(engine.connect)  # expect: ASF106\n    trans = conn.begin()\n"
            "    await anyio.to_thread.run_sync(conn.exec_driver_sql, 'SELECT 1')  # expect: ASF106\n"
            "    await anyio.to_thread.run_sync(trans.commit)  # expect: ASF106\n",
        ),
        Invalid(
            "from sqlmodel import Session, SQLModel, create_engine, select\n"
            "engine = create_engine('sqlite:///db.sqlite')\n"
            "async def lifespan(app):\n    SQLModel.metadata.create_all(engine)  # expect: ASF106\n    yield\n"
            "async def list_heroes():\n    with Session(engine) as session:\n"
            "        return session.exec(select(Hero)).all()  # expect: ASF106\n",
            "Blocking call `sqlmodel.SQLModel.metadata.create_all()` in async function `lifespan`: use `create_async_engine()` (`sqlalchemy.ext.asyncio`) and `await` the call",
            "Blocking call `sqlmodel.Session.exec()` in async function `list_heroes`: use SQLModel's `AsyncSession` (`sqlmodel.ext.asyncio.session`) and `await` the call",
            fixed="from sqlmodel import Session, SQLModel, create_engine, select\nimport anyio\n"
            "engine = create_engine('sqlite:///db.sqlite')\nasync def lifespan(app):\n"
            "    await anyio.to_thread.run_sync(SQLModel.metadata.create_all, engine)  # expect: ASF106\n    yield\n"
            "async def list_heroes():\n    with Session(engine) as session:\n"
            "        return session.exec(select(Hero)).all()  # expect: ASF106\n",
        ),
        Invalid(
            "import sqlite3\nasync def f():\n    sqlite3.connect('db')  # noqa: ASF105  # expect: ASF106\n",
            "Blocking call `sqlite3.connect()` in async function `f`: use `aiosqlite`",
            fixed="import sqlite3\nimport anyio\nasync def f():\n"
            "    await anyio.to_thread.run_sync(sqlite3.connect, 'db')  # noqa: ASF105  # expect: ASF106\n",
        ),
    )
