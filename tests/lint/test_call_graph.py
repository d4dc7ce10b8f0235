"""Where code runs (FastAPI/Starlette roles in the messages) and ASF110: blocking calls
reached through sync helpers, across modules, whichever files are named."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from asyncsafe_lint import Diagnostic, Settings, check_paths, commands, load
from asyncsafe_lint.cli import main
from asyncsafe_lint.engine import check_source

SLEEP_INSTEAD = "use `await asyncio.sleep()` (or `await anyio.sleep()`)"

DB = """\
import requests


def fetch(url):
    return requests.get(url, timeout=5).json()
"""

SERVICES = """\
from app import db


def load():
    return db.fetch("http://inventory/items")
"""

ROUTES = """\
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

import app.services as s

router = APIRouter(prefix="/items")


@router.get("")
async def list_items():
    return s.load()


@router.get("/sync")
def list_items_sync():
    return s.load()


@router.get("/offloaded")
async def list_items_offloaded():
    return await run_in_threadpool(s.load)
"""

CHAIN = (
    "ASF110",
    11,
    12,
    "Call to sync helper `services.load()` in async route GET /items reaches a blocking call: "
    "list_items -> services.load -> db.fetch -> requests.get (app/db.py:5)",
)


#: A project whose route reaches `requests.get` two modules down (`CHAIN`).
CHAIN_PROJECT = {
    "pyproject.toml": "[tool.asyncsafe]\n",
    "app/__init__.py": "",
    "app/db.py": DB,
    "app/services.py": SERVICES,
    "app/routes.py": ROUTES,
}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def laid_out(root: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> Path:
    """A project of `files` under `root`, made the current directory (findings name
    files relative to it, as a user's run does)."""
    write(root, files)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return laid_out(tmp_path, monkeypatch, CHAIN_PROJECT)


def findings(*paths: str, settings: Settings | None = None, code: str = "ASF110") -> list[tuple[str, int, int, str]]:
    result = check_paths(list(paths), settings or load())
    assert result.crashes == {}
    return [(d.code, d.location.row, d.location.column, d.message) for d in result.diagnostics if d.code == code]


def test_a_blocking_call_two_modules_down_is_reported_at_the_call_in_the_route(project: Path) -> None:
    result = check_paths(["app"], load())
    helper = [d for d in result.diagnostics if d.code == "ASF110"]
    assert [(d.filename, d.location.row, d.location.column, d.end_location.column) for d in helper] == [
        ("app/routes.py", 11, 12, 20)
    ]
    assert findings("app") == [CHAIN]


def test_the_same_chain_is_found_when_only_the_route_file_is_named(project: Path) -> None:
    assert findings("app/routes.py") == [CHAIN]


def test_naming_only_a_helper_reports_nothing_in_the_routes(project: Path) -> None:
    assert findings("app/services.py") == []


def test_editing_the_callee_changes_the_finding_in_the_caller(project: Path) -> None:
    assert findings("app/routes.py") == [CHAIN]
    (project / "app/db.py").write_text("def fetch(url):\n    return {}\n")
    assert findings("app/routes.py") == []


def test_relative_imports_and_a_package_re_export_are_followed(project: Path) -> None:
    write(project, {
        "app/__init__.py": "from .services import load\n",
        "app/services.py": "from . import db\n\n\ndef load():\n    return db.fetch('x')\n",
        "app/routes.py": "from app import load\n\n\nasync def handler():\n    return load()\n",
    })  # fmt: skip
    assert findings("app/routes.py") == [(
        "ASF110", 5, 12,
        "Call to sync helper `services.load()` in async function `handler` reaches a blocking call: "
        "handler -> services.load -> db.fetch -> requests.get (app/db.py:5)",
    )]  # fmt: skip


def test_a_module_of_the_same_package_leads_into_another_package_of_the_project(project: Path) -> None:
    write(project, {
        "common/__init__.py": "",
        "common/db.py": DB,
        "app/services.py": "from common import db\n\n\ndef load():\n    return db.fetch('x')\n",
    })  # fmt: skip
    (project / "app/db.py").unlink()
    assert findings("app/routes.py") == [(
        "ASF110", 11, 12,
        "Call to sync helper `services.load()` in async route GET /items reaches a blocking call: "
        "list_items -> services.load -> db.fetch -> requests.get (common/db.py:5)",
    )]  # fmt: skip


@pytest.mark.parametrize("outer", ["class Outer:", "def make():"])
def test_a_method_of_a_nested_class_is_followed_through_self(outer: str) -> None:
    source = (
        f"import time\n{outer}\n    class Inner:\n        def pause(self):\n            time.sleep(1)\n\n"
        "        async def run(self):\n            self.pause()\n"
    )
    inner = "Outer.Inner" if outer.startswith("class") else "make.<locals>.Inner"
    diagnostics = check_source(source.encode(), "app.py", Settings(), Settings().rules)
    assert [(d.code, d.location.row, d.location.column, d.message) for d in diagnostics] == [(
        "ASF110", 8, 13,
        f"Call to sync helper `app.{inner}.pause()` in async function `Inner.run` reaches a blocking call: "
        f"Inner.run -> app.{inner}.pause -> time.sleep (app.py:5)",
    )]  # fmt: skip


def test_a_method_via_self_and_a_class_whose_init_blocks(project: Path) -> None:
    write(project, {
        "app/store.py": (
            "import sqlite3\n\n\nclass Store:\n    def __init__(self, path):\n        self.db = self._open(path)\n\n"
            "    def _open(self, path):\n        return sqlite3.connect(path)\n"
        ),
        "app/routes.py": (
            "from app.store import Store\n\n\nclass Handler:\n    def _pause(self):\n        import time\n"
            "        time.sleep(1)\n\n    async def get(self):\n        self._pause()\n        return Store('x.db')\n"
        ),
    })  # fmt: skip
    assert findings("app/routes.py") == [
        ("ASF110", 10, 9,
         "Call to sync helper `routes.Handler._pause()` in async function `Handler.get` reaches a blocking call: "
         "Handler.get -> routes.Handler._pause -> time.sleep (app/routes.py:7)"),
        ("ASF110", 11, 16,
         "Call to sync helper `store.Store()` in async function `Handler.get` reaches a blocking call: "
         "Handler.get -> store.Store.__init__ -> store.Store._open -> sqlite3.connect (app/store.py:9)"),
    ]  # fmt: skip


def test_sync_routes_and_threadpool_hand_offs_produce_nothing(project: Path) -> None:
    write(project, {
        "app/routes.py": (
            "import asyncio\n\nimport anyio.to_thread\nfrom fastapi import FastAPI\nfrom starlette.concurrency import "
            "run_in_threadpool\n\nfrom app.services import load\n\napp = FastAPI()\n\n\n@app.get('/a')\ndef a():\n"
            "    return load()\n\n\n@app.get('/b')\nasync def b():\n    await run_in_threadpool(load)\n"
            "    await asyncio.to_thread(load)\n    await anyio.to_thread.run_sync(load)\n"
            "    await asyncio.get_running_loop().run_in_executor(None, load)\n"
            "    await asyncio.to_thread(lambda: load())\n\n\n"
            "@app.get('/c')\nasync def c():\n    return load()\n"
        ),
    })  # fmt: skip
    # Only the control, the call made on the loop, is reported.
    assert findings("app") == [(
        "ASF110", 28, 12,
        "Call to sync helper `services.load()` in async route GET /c reaches a blocking call: "
        "c -> services.load -> db.fetch -> requests.get (app/db.py:5)",
    )]  # fmt: skip


def test_cycles_and_recursion_across_modules_terminate(project: Path) -> None:
    write(project, {
        "app/a.py": "from app import b\n\n\ndef ping(n):\n    return b.pong(n - 1) if n else 0\n",
        "app/b.py": "import time\nfrom app import a\n\n\ndef pong(n):\n    return a.ping(n) if n else time.sleep(1)\n",
        "app/routes.py": "from app.a import ping\n\n\nasync def handler():\n    return ping(3)\n",
    })  # fmt: skip
    assert findings("app/routes.py") == [(
        "ASF110", 5, 12,
        "Call to sync helper `a.ping()` in async function `handler` reaches a blocking call: "
        "handler -> a.ping -> b.pong -> time.sleep (app/b.py:6)",
    )]  # fmt: skip


def test_max_depth_cuts_the_chain(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # list_items -> services.load -> db.fetch: two sync functions deep.
    assert main(["check", "app", "--select", "ASF110", "--max-depth", "1"]) == 0
    assert capsys.readouterr().out == "All checks passed!\n"
    assert main(["check", "app", "--select", "ASF110", "--max-depth", "2", "--output-format", "concise"]) == 1
    # A check does not work out the chain's fix (`--fix` does): nothing is said of one.
    assert capsys.readouterr().out == f"app/routes.py:11:12: ASF110 {CHAIN[3]}\nFound 1 error.\n"
    (project / "pyproject.toml").write_text("[tool.asyncsafe]\nmax-depth = 1\n")
    assert findings("app") == []


def test_a_bad_max_depth_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text("[tool.asyncsafe]\nmax-depth = 0\n")
    assert main(["check", "app"]) == 2
    assert capsys.readouterr().err == (
        f"asyncsafe-lint: error: {project / 'pyproject.toml'}: `max-depth` must be a positive integer, not 0\n"
    )


def test_a_direct_blocking_call_stays_asf1xx_and_is_not_reported_twice(project: Path) -> None:
    write(project, {"app/routes.py": "import requests\n\n\nasync def handler():\n    return requests.get('x')\n"})
    found = check_paths(["app/routes.py"], load()).diagnostics
    assert [(d.code, d.location.row, d.location.column) for d in found] == [("ASF102", 5, 12), ("ASF201", 5, 12)]


# --- where the code runs -----------------------------------------------------------------------


def phrase(message: str) -> str:
    """The `in ...` phrase of an ASF101 message about `time.sleep()`."""
    return message.removeprefix("Blocking call `time.sleep()` ").removesuffix(f": {SLEEP_INSTEAD}")


def where(source: str) -> list[str]:
    """The `in ...` phrase of every ASF101 finding in `source`."""
    diagnostics = check_source(source.encode(), "app.py", Settings(), Settings().rules)
    return [phrase(d.message) for d in diagnostics if d.code == "ASF101"]


HEADER = "import time\nfrom typing import Annotated\nfrom fastapi import APIRouter, BackgroundTasks, Depends, FastAPI\n"


def test_a_plain_coroutine_keeps_its_name() -> None:
    assert where("import time\nclass S:\n    async def run(self):\n        time.sleep(1)\n") == [
        "in async function `S.run`"
    ]


def test_routes_with_router_prefixes_methods_and_websockets() -> None:
    source = HEADER + (
        "app = FastAPI()\nrouter = APIRouter(prefix='/items')\n"
        "@router.get('')\nasync def list_items():\n    time.sleep(1)\n"
        "@app.api_route('/sync', methods=['POST', 'PUT'])\nasync def sync():\n    time.sleep(1)\n"
        "@app.websocket('/ws')\nasync def feed(ws):\n    time.sleep(1)\n"
        "async def late():\n    time.sleep(1)\n"
        "app.add_api_route('/late', late, methods=['DELETE'])\n"
    )
    assert where(source) == [
        "in async route GET /items",
        "in async route POST /sync, PUT /sync",
        "in async websocket route /ws",
        "in async route DELETE /late",
    ]


def test_dependencies_say_how_many_routes_use_them() -> None:
    source = HEADER + (
        "async def get_db():\n    time.sleep(1)\n"
        "async def get_user(db=Depends(get_db)):\n    time.sleep(1)\n"
        "async def audit():\n    time.sleep(1)\n"
        "DB = Annotated[object, Depends(get_db)]\n"
        "router = APIRouter(dependencies=[Depends(audit)])\n"
        "@router.get('/a')\nasync def a(db: DB):\n    pass\n"
        "@router.post('/b')\nasync def b(user: Annotated[object, Depends(get_user)]):\n    pass\n"
        "@router.get('/c', dependencies=[Depends(get_db)])\nasync def c():\n    pass\n"
    )
    assert where(source) == [
        "in async dependency `get_db` used by 3 routes",
        "in async dependency `get_user` used by 1 route",
        "in async dependency `audit` used by 3 routes",
    ]


def test_an_apps_dependencies_reach_the_routes_of_routers_mounted_at_any_depth() -> None:
    source = HEADER + (
        "async def request_id():\n    time.sleep(1)\n"
        "app = FastAPI(dependencies=[Depends(request_id)])\ninner = APIRouter()\nouter = APIRouter()\n"
        "@inner.get('/a')\nasync def a():\n    pass\n"
        "@outer.get('/b')\nasync def b():\n    pass\n"
        "@APIRouter().get('/c')\nasync def c():\n    pass\n"
        "outer.include_router(inner)\napp.include_router(outer)\n"
    )
    assert where(source) == ["in async dependency `request_id` used by 2 routes"]


def test_middleware_lifespan_exception_handlers_and_background_tasks() -> None:
    source = HEADER + (
        "from starlette.middleware.base import BaseHTTPMiddleware\n"
        "async def lifespan(app):\n    time.sleep(1)\n    yield\n"
        "app = FastAPI(lifespan=lifespan)\n"
        "@app.middleware('http')\nasync def timing(request, call_next):\n    time.sleep(1)\n"
        "class Timing(BaseHTTPMiddleware):\n    async def dispatch(self, request, call_next):\n        time.sleep(1)\n"
        "class Raw:\n    async def __call__(self, scope, receive, send):\n        time.sleep(1)\n"
        "app.add_middleware(Raw)\n"
        "@app.exception_handler(ValueError)\nasync def bad_value(request, exc):\n    time.sleep(1)\n"
        "async def record(sku):\n    time.sleep(1)\n"
        "@app.post('/buy')\nasync def buy(tasks: BackgroundTasks):\n    tasks.add_task(record, 'x')\n"
    )
    assert where(source) == [
        "in lifespan `lifespan`",
        "in middleware `timing`",
        "in middleware `Timing.dispatch`",
        "in middleware `Raw.__call__`",
        "in exception handler `bad_value`",
        "in background task `record`",
    ]


def test_helper_findings_say_where_the_caller_runs() -> None:
    source = HEADER + (
        "def pause():\n    time.sleep(1)\n"
        "async def get_db():\n    pause()\n"
        "app = FastAPI()\n"
        "@app.get('/items')\nasync def items(db=Depends(get_db)):\n    pause()\n"
    )
    diagnostics = check_source(source.encode(), "app.py", Settings(), Settings().rules)
    assert [(d.location.row, d.message) for d in diagnostics] == [
        (7, "Call to sync helper `app.pause()` in async dependency `get_db` used by 1 route reaches a blocking "
            "call: get_db -> app.pause -> time.sleep (app.py:5)"),
        (11, "Call to sync helper `app.pause()` in async route GET /items reaches a blocking call: "
             "items -> app.pause -> time.sleep (app.py:5)"),
    ]  # fmt: skip


# --- roles registered in other modules ---------------------------------------------------------
SERVICE = {
    "pyproject.toml": "[tool.asyncsafe]\n",
    "svc/__init__.py": "from .deps import get_settings\n",
    "svc/deps.py": (
        "import time\nfrom typing import Annotated\n\nfrom fastapi import Depends\n\n\n"
        "async def get_db():\n    time.sleep(1)\n\n\n"
        "DbSession = Annotated[object, Depends(get_db)]\n\n\n"
        "async def get_user(db: DbSession):\n    time.sleep(1)\n\n\n"
        "async def verify_key():\n    time.sleep(1)\n\n\n"
        "async def get_settings():\n    time.sleep(1)\n\n\n"
        "async def unused():\n    time.sleep(1)\n\n\n"
        "async def request_id():\n    time.sleep(1)\n\n\n"
        "async def require_admin():\n    time.sleep(1)\n"
    ),
    "svc/routes/__init__.py": "",
    "svc/routes/items.py": (
        "from typing import Annotated\n\nfrom fastapi import APIRouter, Depends\n\n"
        "from svc import get_settings\nfrom svc.deps import DbSession, get_user\n\n"
        "router = APIRouter(prefix='/items')\n\n\n"
        "@router.get('')\nasync def list_items(db: DbSession):\n    return []\n\n\n"
        "@router.get('/{id}')\nasync def get_item(user: Annotated[object, Depends(get_user)]):\n    return {}\n\n\n"
        "@router.post('', dependencies=[Depends(get_settings)])\nasync def create_item():\n    return {}\n"
    ),
    "svc/routes/admin.py": (
        "from fastapi import APIRouter, Depends\n\nfrom .. import deps\n\n"
        "router = APIRouter(prefix='/admin', dependencies=[Depends(deps.verify_key)])\n\n\n"
        "@router.get('/stats')\nasync def stats():\n    return {}\n\n\n"
        "@router.delete('/cache')\nasync def clear():\n    return None\n"
    ),
    "svc/middleware.py": (
        "import time\n\n\nclass Timing:\n    def __init__(self, app):\n        self.app = app\n\n"
        "    async def __call__(self, scope, receive, send):\n        time.sleep(1)\n\n\n"
        "async def on_error(request, exc):\n    time.sleep(1)\n"
    ),
    "svc/lifecycle.py": (
        "import time\nfrom contextlib import asynccontextmanager\n\n\n"
        "def warm_cache():\n    time.sleep(1)\n\n\n"
        "@asynccontextmanager\nasync def lifespan(app):\n    warm_cache()\n    yield\n"
    ),
    "main.py": (
        "from fastapi import Depends, FastAPI\n\n"
        "from svc import deps\nfrom svc.lifecycle import lifespan\nfrom svc.middleware import Timing, on_error\n"
        "from svc.routes import admin, items\n\n"
        "app = FastAPI(lifespan=lifespan, dependencies=[Depends(deps.request_id)])\napp.add_middleware(Timing)\n"
        "app.add_exception_handler(ValueError, on_error)\n"
        "app.include_router(items.router)\n"
        "app.include_router(admin.router, dependencies=[Depends(deps.require_admin)])\n"
    ),
}

#: Where each function with a blocking call in `SERVICE` runs: only the other modules tell.
SERVICE_PLACES = [
    ("svc/deps.py", 8, "in async dependency `get_db` used by 2 routes"),
    ("svc/deps.py", 15, "in async dependency `get_user` used by 1 route"),
    ("svc/deps.py", 19, "in async dependency `verify_key` used by 2 routes"),
    ("svc/deps.py", 23, "in async dependency `get_settings` used by 1 route"),
    ("svc/deps.py", 27, "in async function `unused`"),
    ("svc/deps.py", 31, "in async dependency `request_id` used by 5 routes"),
    ("svc/deps.py", 35, "in async dependency `require_admin` used by 2 routes"),
    ("svc/middleware.py", 9, "in middleware `Timing.__call__`"),
    ("svc/middleware.py", 13, "in exception handler `on_error`"),
]

LIFESPAN_CHAIN = (
    "svc/lifecycle.py", 11,
    (
        "Call to sync helper `lifecycle.warm_cache()` in lifespan `lifespan` reaches a blocking call: "
        "lifespan -> lifecycle.warm_cache -> time.sleep (svc/lifecycle.py:6)"
    ),
)  # fmt: skip


def places(diagnostics: list[Diagnostic]) -> list[tuple[str, int, str]]:
    """(file, row, where) of every ASF101 finding, and (file, row, message) of every ASF110."""
    return [
        (d.filename, d.location.row, phrase(d.message) if d.code == "ASF101" else d.message)
        for d in diagnostics if d.code in ("ASF101", "ASF110")
    ]  # fmt: skip


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return laid_out(tmp_path, monkeypatch, SERVICE)


@pytest.mark.parametrize("named", [
    ["svc", "main.py"], ["svc/deps.py", "svc/middleware.py", "svc/lifecycle.py"], ["svc/deps.py"],
    ["svc/middleware.py"], ["svc/lifecycle.py"],
])  # fmt: skip
def test_roles_given_in_other_modules_are_named_whichever_files_are_named(service: Path, named: list[str]) -> None:
    result = check_paths(named, load())
    assert result.crashes == {}
    everything = sorted([*SERVICE_PLACES, LIFESPAN_CHAIN])
    expected = [place for place in everything if any(place[0].startswith(name) for name in named)]
    assert places(result.diagnostics) == expected


def test_a_file_checked_alone_knows_only_its_own_roles(service: Path) -> None:
    deps = check_source((service / "svc/deps.py").read_bytes(), "svc/deps.py", Settings(), Settings().rules)
    assert places(deps) == [
        ("svc/deps.py", 8, "in async dependency `get_db`"),
        ("svc/deps.py", 15, "in async function `get_user`"),
        ("svc/deps.py", 19, "in async function `verify_key`"),
        ("svc/deps.py", 23, "in async function `get_settings`"),
        ("svc/deps.py", 27, "in async function `unused`"),
        ("svc/deps.py", 31, "in async function `request_id`"),
        ("svc/deps.py", 35, "in async function `require_admin`"),
    ]


def run(*arguments: str, capsys: pytest.CaptureFixture[str]) -> list[tuple[int, str]]:
    """(row, where) of every ASF101 finding the command line prints for `svc/deps.py`."""
    assert main(["check", *arguments, "--select", "ASF101", "--output-format", "concise", "--exit-zero"]) == 0
    rows = []
    for line in capsys.readouterr().out.splitlines()[:-2]:  # less the totals
        place, _, message = line.partition(" ASF101 [*] ")
        file, row, _ = place.split(":", 2)
        assert file == "svc/deps.py"
        rows.append((int(row), phrase(message)))
    return rows


def test_registrations_edited_elsewhere_change_the_message_with_the_cache_and_replay(
    service: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[Sequence[str]] = []
    real = commands.run
    monkeypatch.setattr(
        commands, "run", lambda arguments, notes=(): checked.append(arguments) or real(arguments, notes)
    )
    first = run("svc/deps.py", capsys=capsys)
    assert first == [(row, where) for file, row, where in SERVICE_PLACES if file == "svc/deps.py"]
    assert (run("svc/deps.py", capsys=capsys), len(checked)) == (first, 1)  # replayed
    # The router no longer depends on it; a new module's route does.
    admin = service / "svc/routes/admin.py"
    admin.write_text(admin.read_text().replace(", dependencies=[Depends(deps.verify_key)]", ""))
    edited = run("svc/deps.py", capsys=capsys)
    assert edited == [(19, "in async function `verify_key`") if row == 19 else (row, where) for row, where in first]
    write(service, {"svc/routes/orders.py": (
        "from fastapi import APIRouter, Depends\n\nfrom svc.deps import get_user, verify_key\n\n"
        "router = APIRouter()\n\n\n"
        "@router.get('/orders', dependencies=[Depends(verify_key)])\nasync def orders(user=Depends(get_user)):\n"
        "    return []\n"
    )})  # fmt: skip
    added = run("svc/deps.py", capsys=capsys)
    assert added == [
        (8, "in async dependency `get_db` used by 3 routes"),
        (15, "in async dependency `get_user` used by 2 routes"),
        (19, "in async dependency `verify_key` used by 1 route"),
        *first[3:],
    ]
    assert (run("svc/deps.py", capsys=capsys), len(checked)) == (added, 3)  # replayed
    assert run("svc/deps.py", "--no-cache", capsys=capsys) == added
