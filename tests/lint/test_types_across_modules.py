"""Types the linter follows beyond a plain assignment: a client created in one module and
used in another, return annotations, type aliases, FastAPI's injected parameters,
properties, annotated names without a value, and lambdas called by name.  Each case
is checked with only the using file named, as pre-commit names files, and with the
whole project."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncsafe_lint import check_paths, load
from asyncsafe_lint.engine import check_source

from .test_call_graph import laid_out, write

HTTPX = "use `await client.get()` on an `httpx.AsyncClient`"

PROJECT = {
    "pyproject.toml": "[tool.asyncsafe]\n",
    "app/__init__.py": "from .clients import http as shared_http\n",
    "app/clients.py": (
        "import threading\n"
        "from typing import Annotated\n\n"
        "import httpx\n"
        "from fastapi import Depends\n\n"
        "http = httpx.Client()\n"
        "cache: httpx.Client = httpx.Client(base_url='http://cache')\n"
        "lock = threading.Lock()\n"
        "settings = {'retries': 3}\n\n\n"
        "def get_client() -> httpx.Client:\n"
        "    return httpx.Client()\n\n\n"
        "def get_async_client() -> httpx.AsyncClient:\n"
        "    return httpx.AsyncClient()\n\n\n"
        "HttpDep = Annotated[httpx.Client, Depends(get_client)]\n"
    ),
    "app/routes.py": (
        "from fastapi import APIRouter, Depends\n\n"
        "from app import clients, shared_http\n"
        "from app.clients import HttpDep, get_async_client, get_client, http, lock\n\n"
        "router = APIRouter()\n\n\n"
        "@router.get('/a')\n"
        "async def a(injected: HttpDep):\n"
        "    http.get('/x')\n"  # 11
        "    clients.cache.get('/y')\n"
        "    get_client().get('/z')\n"
        "    injected.get('/w')\n"
        "    shared_http.get('/v')\n"
        "    with lock:\n"  # 16
        "        pass\n"
        "    await get_async_client().get('/fine')\n"
        "    return clients.settings.get('retries')\n"
    ),
}

ROUTE_FINDINGS = [
    ("ASF102", 11, f"Blocking call `httpx.Client.get()` in async route GET /a: {HTTPX}"),
    ("ASF102", 12, f"Blocking call `httpx.Client.get()` in async route GET /a: {HTTPX}"),
    ("ASF102", 13, f"Blocking call `httpx.Client.get()` in async route GET /a: {HTTPX}"),
    ("ASF102", 14, f"Blocking call `httpx.Client.get()` in async route GET /a: {HTTPX}"),
    ("ASF102", 15, f"Blocking call `httpx.Client.get()` in async route GET /a: {HTTPX}"),
    (
        "ASF107",
        16,
        "Blocking call `threading.Lock.__enter__()` in async route GET /a: use an `asyncio.Lock` "
        "(or `anyio.Lock`) and `async with` it",
    ),
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return laid_out(tmp_path, monkeypatch, PROJECT)


def found(*paths: str, cache: Path | None = None) -> list[tuple[str, int, str]]:
    result = check_paths(list(paths), load(), cache_dir=cache)
    assert result.crashes == {}
    return [(d.code, d.location.row, d.message) for d in result.diagnostics]


@pytest.mark.parametrize("named", [["app/routes.py"], ["app"], ["app/routes.py", "app/clients.py"]])
def test_clients_imported_from_another_module_are_typed(project: Path, named: list[str]) -> None:
    assert found(*named) == ROUTE_FINDINGS


def test_with_the_cache_an_edit_to_the_exporting_module_changes_the_finding(project: Path) -> None:
    cache = project / ".cache"
    assert found("app/routes.py", cache=cache) == ROUTE_FINDINGS
    assert found("app/routes.py", cache=cache) == ROUTE_FINDINGS
    clients = project / "app" / "clients.py"
    clients.write_text(clients.read_text().replace("http = httpx.Client()", "http = httpx.AsyncClient()"))
    # `http`, and `shared_http` which the package re-exports it as.
    still_blocking = [finding for finding in ROUTE_FINDINGS if finding[1] not in (11, 15)]
    assert found("app/routes.py", cache=cache) == still_blocking
    assert found("app/routes.py") == still_blocking


def test_a_sync_helper_using_an_imported_client_is_a_chain(project: Path) -> None:
    write(
        project,
        {
            "app/service.py": "from app.clients import http\n\n\ndef fetch():\n    return http.get('/x')\n",
            "app/api.py": ("from app.service import fetch\n\n\nasync def handler():\n    return fetch()\n"),
        },
    )
    assert found("app/api.py") == [
        (
            "ASF110",
            5,
            "Call to sync helper `service.fetch()` in async function `handler` reaches a blocking call: "
            "handler -> service.fetch -> httpx.Client.get (app/service.py:5)",
        )
    ]


def test_an_injected_sqlite_connection_and_a_typed_alias_in_one_module() -> None:
    # Checked alone: the module's own aliases, return annotations and properties.
    source = (
        "import sqlite3\nfrom typing import Annotated, Optional\nfrom fastapi import Depends\n\n"
        "def get_db() -> sqlite3.Connection:\n    return sqlite3.connect('app.db')\n\n"
        "Db = Annotated[sqlite3.Connection, Depends(get_db)]\nMaybeDb = Optional[sqlite3.Connection]\n\n"
        "class Repo:\n"
        "    @property\n    def conn(self) -> sqlite3.Connection:\n        return get_db()\n\n"
        "    def cursor_source(self) -> sqlite3.Connection:\n        return get_db()\n\n"
        "    async def load(self):\n"
        "        self.conn.execute('SELECT 1')\n"  # 20
        "        self.cursor_source().commit()\n\n"
        "async def route(db: Db, other: MaybeDb, third: sqlite3.Connection = Depends(get_db)):\n"
        "    db.execute('SELECT 1')\n"  # 24
        "    other.commit()\n"
        "    third.rollback()\n"
        "    get_db().execute('SELECT 2')\n"
        "    late: sqlite3.Connection\n"
        "    late.commit()\n"  # 29
    )
    settings = load()
    diagnostics = check_source(source.encode(), "single.py", settings, settings.rules)
    # (`get_db()` blocks too, so calling it is also an ASF110 chain: not what is tested here.)
    found_here = [(d.location.row, d.message.split(" in ")[0]) for d in diagnostics if d.code == "ASF106"]
    assert found_here == [
        (20, "Blocking call `sqlite3.Connection.execute()`"),
        (21, "Blocking call `sqlite3.Connection.commit()`"),
        (24, "Blocking call `sqlite3.Connection.execute()`"),
        (25, "Blocking call `sqlite3.Connection.commit()`"),
        (26, "Blocking call `sqlite3.Connection.rollback()`"),
        (27, "Blocking call `sqlite3.Connection.execute()`"),
        (29, "Blocking call `sqlite3.Connection.commit()`"),
    ]


def test_the_same_code_without_async_is_not_flagged(project: Path) -> None:
    routes = project / "app" / "routes.py"
    text = routes.read_text().replace("async def a", "def a").replace("await get_async_client()", "get_async_client()")
    routes.write_text(text)
    assert found("app/routes.py") == []


def test_a_lambda_called_by_name_is_a_helper(project: Path) -> None:
    write(
        project,
        {
            "app/prompt.py": (
                "async def ask():\n"
                "    get = lambda: input('name? ')\n"
                "    later = lambda: input('never called')\n"
                "    return get()\n"
            )
        },
    )
    assert found("app/prompt.py") == [
        (
            "ASF110",
            4,
            "Call to sync helper `prompt.ask.<locals>.get()` in async function `ask` reaches a blocking call: "
            "ask -> prompt.ask.<locals>.get -> builtins.input (app/prompt.py:2)",
        )
    ]


def test_a_tuple_of_values_types_a_tuple_of_names_one_by_one() -> None:
    source = (
        "from pathlib import Path\n\n"
        "async def f():\n"
        "    (p1, p2) = (Path('foo'), Path('bar'))\n"
        "    p2.read_text()\n"
        "    f1, count = open('log'), 3\n"
        "    f1.read()\n"
        "    count.read()\n"
        "    *rest, last = open('a'), open('b')\n"
        "    last.read()\n"
    )
    settings = load()
    diagnostics = check_source(source.encode(), "tuples.py", settings, settings.rules)
    assert [(d.location.row, d.message.split(" in ")[0]) for d in diagnostics] == [
        (5, "Blocking call `pathlib.Path.read_text()`"),
        (6, "Blocking call `builtins.open()`"),
        (7, "Blocking call `io.TextIOWrapper.read()`"),
        (9, "Blocking call `builtins.open()`"),
        (9, "Blocking call `builtins.open()`"),
    ]


SESSION_ADVICE = "use SQLAlchemy's `AsyncSession` (`sqlalchemy.ext.asyncio`) and `await` the call"


def test_an_injected_session_from_another_module_with_the_route_file_named_alone(project: Path) -> None:
    write(
        project,
        {
            "app/db.py": (
                "from collections.abc import Iterator\nfrom typing import Annotated\n\n"
                "from fastapi import Depends\nfrom sqlalchemy import create_engine\n"
                "from sqlalchemy.orm import Session, sessionmaker\n\n"
                "engine = create_engine('sqlite:///app.db')\nSessionLocal = sessionmaker(bind=engine)\n\n\n"
                "def get_db() -> Iterator[Session]:\n    with SessionLocal() as session:\n        yield session\n\n\n"
                "SessionDep = Annotated[Session, Depends(get_db)]\n"
            ),
            "app/users.py": (
                "from fastapi import APIRouter, Depends\nfrom sqlalchemy.orm import Session\n\n"
                "from app.db import SessionDep, SessionLocal, get_db\n\nrouter = APIRouter()\n\n\n"
                "@router.get('/users')\nasync def users(db: SessionDep, other: Session = Depends(get_db)):\n"
                "    db.execute('SELECT 1')\n"  # 11
                "    other.commit()\n"
                "    with SessionLocal() as mine:\n"
                "        mine.flush()\n"
                "    return []\n\n\n"
                "@router.get('/users/sync')\ndef users_sync(db: SessionDep):\n    db.execute('SELECT 1')\n"
            ),
        },
    )
    where = "in async route GET /users"
    assert found("app/users.py") == [
        ("ASF106", 11, f"Blocking call `sqlalchemy.orm.Session.execute()` {where}: {SESSION_ADVICE}"),
        ("ASF106", 12, f"Blocking call `sqlalchemy.orm.Session.commit()` {where}: {SESSION_ADVICE}"),
        ("ASF106", 14, f"Blocking call `sqlalchemy.orm.Session.flush()` {where}: {SESSION_ADVICE}"),
    ]


def test_a_method_of_a_project_instance_imported_from_another_module_is_a_chain(project: Path) -> None:
    write(
        project,
        {
            "app/repo.py": (
                "import time\n\n\nclass Repo:\n    def load(self):\n        time.sleep(1)\n\n"
                "    def name(self):\n        return 'repo'\n\n\nrepo = Repo()\n\n\n"
                "def get_repo() -> Repo:\n    return repo\n"
            ),
            "app/service.py": (
                "from app.repo import get_repo, repo\n\n\nasync def handler():\n"
                "    repo.name()\n    repo.load()\n    return get_repo().load()\n"
            ),
        },
    )
    chain = "reaches a blocking call: handler -> repo.Repo.load -> time.sleep (app/repo.py:6)"
    assert found("app/service.py") == [
        ("ASF110", 6, f"Call to sync helper `repo.Repo.load()` in async function `handler` {chain}"),
        ("ASF110", 7, f"Call to sync helper `repo.Repo.load()` in async function `handler` {chain}"),
    ]


def test_a_client_typed_through_a_third_module(project: Path) -> None:
    write(
        project,
        {
            "app/factory.py": "import httpx\n\n\ndef make_client() -> httpx.Client:\n    return httpx.Client()\n",
            "app/shared.py": "from app.factory import make_client\n\nhttp = make_client()\n",
            "app/use.py": "from app.shared import http\n\n\nasync def f():\n    return http.get('/x')\n",
        },
    )
    assert found("app/use.py") == [
        ("ASF102", 5, f"Blocking call `httpx.Client.get()` in async function `f`: {HTTPX}"),
    ]
