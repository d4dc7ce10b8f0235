from asyncsafe_lint.rule import BlockingCallRule, Invalid

_SQLITE = "use `aiosqlite`"
_POSTGRES = "use `asyncpg` or psycopg 3's `AsyncConnection`"
_MYSQL = "use `aiomysql` (or `asyncmy`)"
_REDIS = "use `redis.asyncio.Redis` and `await` the command"
_MONGO = "use pymongo's `AsyncMongoClient` (or `motor`)"

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


class BlockingDatabaseCall(BlockingCallRule):
    code = "ASF106"
    name = "blocking-database-call"
    summary = "A synchronous database driver (sqlite3, psycopg, PyMySQL, redis, pymongo) in async code"
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
    }
    # Every Redis command is a round trip to the server.
    any_method_of = {"redis.Redis": _REDIS}
    # Those that only build a helper object (or a client) locally.
    harmless_methods = frozenset({
        "pipeline", "pubsub", "lock", "register_script", "from_url", "from_pool", "client", "close",
        "get_encoder", "get_connection_kwargs", "get_retry", "set_retry", "set_response_callback",
        "load_external_module", "json", "ft", "ts", "bf", "cf", "cms", "topk", "tdigest", "graph",
    })  # fmt: skip
    docs = """
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

Calls that do no I/O are left alone: `conn.cursor()`, `redis.pipeline()`,
`redis.lock()`, `client.get_database()`.  The `fetch*()` methods of psycopg and
PyMySQL's default cursors are not flagged either: those cursors read the whole result
during `execute()` (which is flagged), so fetching only copies rows from memory.
`collection.find()` is flagged although it is lazy, because its cursor is read where
it is iterated, which is on the event loop.

No ruff or flake8-async rule covers database drivers: their blocking-call rules
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
Or declare the route with a plain `def`, which FastAPI runs in its thread pool.

## Fix safety
There is no automatic fix.
"""
    valid = (
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
    )
    invalid = (
        Invalid(
            "import sqlite3\nasync def f():\n    conn = sqlite3.connect('db')  # expect: ASF106\n"
            "    cur = conn.cursor()\n    cur.execute('SELECT 1')  # expect: ASF106\n"
            "    cur.fetchall()  # expect: ASF106\n",
            "Blocking call `sqlite3.connect()` in async function `f`: use `aiosqlite`",
            "Blocking call `sqlite3.Cursor.execute()` in async function `f`: use `aiosqlite`",
            "Blocking call `sqlite3.Cursor.fetchall()` in async function `f`: use `aiosqlite`",
        ),
        Invalid(
            "import sqlite3\nfrom typing import Annotated\nfrom fastapi import Depends\n"
            "async def f(db: Annotated[sqlite3.Connection, Depends(get_db)]):\n"
            "    db.execute('DELETE FROM t')  # expect: ASF106\n    db.commit()  # expect: ASF106\n",
            "Blocking call `sqlite3.Connection.execute()` in async function `f`: use `aiosqlite`",
            "Blocking call `sqlite3.Connection.commit()` in async function `f`: use `aiosqlite`",
        ),
        Invalid(
            "import psycopg2\nasync def f():\n    conn = psycopg2.connect('dsn')  # expect: ASF106\n"
            "    with conn.cursor() as cur:\n        cur.execute('SELECT 1')  # expect: ASF106\n",
            "Blocking call `psycopg2.connect()` in async function `f`: use `asyncpg` or psycopg 3's `AsyncConnection`",
            "Blocking call `psycopg2.extensions.cursor.execute()` in async function `f`: use `asyncpg` or psycopg 3's `AsyncConnection`",
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
        ),
        Invalid(
            "import redis\nclass Cache:\n    def __init__(self):\n        self.redis = redis.StrictRedis()\n"
            "    async def get(self, key):\n        return self.redis.get(key)  # expect: ASF106\n",
            "Blocking call `redis.Redis.get()` in async function `Cache.get`: use `redis.asyncio.Redis` and `await` the command",
        ),
        Invalid(
            "from typing import Optional\nfrom redis import Redis\nasync def f(r: Optional[Redis]):\n"
            "    pipe = r.pipeline()\n    pipe.incr('hits')\n    pipe.execute()  # expect: ASF106\n",
            "Blocking call `redis.client.Pipeline.execute()` in async function `f`: use `redis.asyncio.Redis` and `await` the command",
        ),
        Invalid(
            "from pymongo import MongoClient\nclient = MongoClient()\nasync def f():\n"
            "    client.app.users.find_one({'_id': 1})  # expect: ASF106\n"
            "    client['app']['users'].insert_one({})  # expect: ASF106\n",
            "Blocking call `pymongo.collection.Collection.find_one()` in async function `f`: use pymongo's `AsyncMongoClient` (or `motor`)",
            "Blocking call `pymongo.collection.Collection.insert_one()` in async function `f`: use pymongo's `AsyncMongoClient` (or `motor`)",
        ),
        Invalid(
            "import pymongo\nasync def f(client: pymongo.MongoClient):\n"
            "    db = client.get_database('app')\n    db.command('ping')  # expect: ASF106\n"
            "    db.get_collection('users').delete_many({})  # expect: ASF106\n",
            "Blocking call `pymongo.database.Database.command()` in async function `f`: use pymongo's `AsyncMongoClient` (or `motor`)",
            "Blocking call `pymongo.collection.Collection.delete_many()` in async function `f`: use pymongo's `AsyncMongoClient` (or `motor`)",
        ),
        Invalid(
            "import sqlite3\nasync def f():\n    sqlite3.connect('db')  # noqa: ASF105  # expect: ASF106\n",
            "Blocking call `sqlite3.connect()` in async function `f`: use `aiosqlite`",
        ),
    )
