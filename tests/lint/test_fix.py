"""Fixes: what each one writes, that the result compiles and keeps behaviour, that a
second run changes nothing, and how edits combine and fail safely."""

from __future__ import annotations

import ast
import difflib
import importlib.util
import io
import shutil
import subprocess
import sys
import threading
import tokenize
import warnings
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from asyncsafe_lint.changes import (
    add_argument,
    add_import,
    fix,
    hand_off,
    make_sync,
    remove_argument,
    replace_expression,
)
from asyncsafe_lint.checker import check_paths
from asyncsafe_lint.codemod import NotRewritten, edits, transform
from asyncsafe_lint.config import ConfigError, Settings, from_table, load
from asyncsafe_lint.diagnostics import Action, Applicability, Change, Diagnostic, Edit, Fix, Location, Span
from asyncsafe_lint.engine import check_source
from asyncsafe_lint.fix import FixedFile, apply_fixes, fix_paths, fix_text
from asyncsafe_lint.rule import Call
from asyncsafe_lint.rules import ALL_RULES
from asyncsafe_lint.rules.asf101_blocking_sleep import BlockingSleep
from asyncsafe_lint.source import Source

REPO = Path(__file__).resolve().parents[2]
NOTE = " (no automatic fix: {reason})"


def fixed(source: str, settings: Settings | None = None, unsafe: bool = True) -> FixedFile:
    """`source` run through the fix loop as `app.py`; the result must compile and be a fixpoint."""
    result = fix_text(source, "app.py", "utf-8", settings or Settings(), ALL_RULES, unsafe)
    assert result.error is None
    compile(result.text, "app.py", "exec")
    again = fix_text(result.text, "app.py", "utf-8", settings or Settings(), ALL_RULES, unsafe)
    assert (again.text, again.fixed) == (result.text, Counter())
    return result


def diagnostics(source: str, code: str) -> list[Diagnostic]:
    return [d for d in check_source(source.encode(), "app.py", Settings(), ALL_RULES) if d.code == code]


# --- making changes ----------------------------------------------------------------------------

TWO_CALLS = "import time\nx = f(a)\ny = g(b)\n"


def _call(text: str, row: int) -> ast.Call:
    return ast.parse(text).body[row - 1].value  # type: ignore[attr-defined,no-any-return]


def _fix(code: str, *changes: Change, safe: bool = True) -> Diagnostic:
    start = Location(1, 1)
    fix = Fix(f"fix {code}", changes, Applicability.SAFE if safe else Applicability.UNSAFE)
    return Diagnostic("app.py", start, start, code, "name", "message", fix)


def test_fixes_are_made_together_and_one_on_a_node_already_changed_waits_for_the_next_pass():
    source = Source(TWO_CALLS)
    f, g = _call(TWO_CALLS, 2), _call(TWO_CALLS, 3)
    found = [
        _fix("ASF101", add_argument(source, f, "timeout=1")),
        _fix("ASF201", replace_expression(source, f.args[0], "b")),  # inside the first fix's call
        _fix("ASF202", add_argument(source, g, "timeout=2")),
    ]
    assert apply_fixes(TWO_CALLS, found, unsafe=False) == (
        "import time\nx = f(a, timeout=1)\ny = g(b, timeout=2)\n",
        Counter({"ASF101": 1, "ASF202": 1}),
    )


def test_a_change_several_fixes_share_is_made_once():
    source = Source(TWO_CALLS)
    f, g = _call(TWO_CALLS, 2), _call(TWO_CALLS, 3)
    shared = add_import("import asyncio")
    found = [
        _fix("ASF101", shared, replace_expression(source, f, "1")),
        _fix("ASF101", shared, replace_expression(source, g, "2")),
    ]
    assert apply_fixes(TWO_CALLS, found, unsafe=False) == (
        "import time\nimport asyncio\nx = 1\ny = 2\n",
        Counter({"ASF101": 2}),
    )


def test_a_fix_that_wraps_a_node_comes_after_the_other_fixes_of_that_node():
    # The thread hand-off of a call that also gets `timeout=`: the hand-off is made on the
    # call as the timeout fix leaves it, in the next pass, where it is found again.
    source = Source(TWO_CALLS)
    f = _call(TWO_CALLS, 2)
    found = [_fix("ASF102", hand_off(source, f, "run", None)), _fix("ASF201", add_argument(source, f, "timeout=1"))]
    assert apply_fixes(TWO_CALLS, found, unsafe=False) == (
        "import time\nx = f(a, timeout=1)\ny = g(b)\n",
        Counter({"ASF201": 1}),
    )


def test_unsafe_fixes_apply_only_when_asked():
    found = [_fix("ASF201", replace_expression(Source("x\n"), ast.parse("x").body[0].value, "y"), safe=False)]  # type: ignore[attr-defined]
    assert apply_fixes("x\n", found, unsafe=False) == ("x\n", Counter())
    assert apply_fixes("x\n", found, unsafe=True) == ("y\n", Counter({"ASF201": 1}))


def test_added_lines_take_the_files_line_breaks():
    found = [_fix("ASF101", add_import("import asyncio"))]
    assert (
        apply_fixes("import time\r\nx = 1\r\n", found, unsafe=False)[0] == "import time\r\nimport asyncio\r\nx = 1\r\n"
    )


def test_a_fix_that_would_not_compile_leaves_the_file_as_it_was(monkeypatch):
    # `def` around an `await`: libcst writes it, CPython rejects it.
    def broken(self: BlockingSleep, call: Call) -> Fix:
        assert call.function is not None
        return fix("break it", [make_sync(self.source, call.function.node)], Applicability.SAFE)

    monkeypatch.setattr(BlockingSleep, "fix", broken)
    source = "import time\n\n\nasync def f(x):\n    await x\n    time.sleep(1)\n"
    result = fix_text(source, "app.py", "utf-8", Settings(), ALL_RULES, unsafe=False)
    assert (result.text, result.fixed, result.changed) == (source, Counter(), False)
    assert result.error == "the fixes for ASF101 would leave the file unparsable, so it was left unchanged"
    assert [d.code for d in result.diagnostics] == ["ASF101"]


def test_a_change_whose_node_is_gone_is_named():
    moved = replace_expression(Source("x = 1\n"), ast.parse("x = 1").body[0].value, "2")  # type: ignore[attr-defined]
    with pytest.raises(NotRewritten, match="no node at 1:5-1:6 for replace-expression"):
        transform("\n", [moved])


def test_json_shows_the_edits_a_fix_makes():
    text = "import time\n\n\nasync def f():\n    time.sleep(1)\n"
    (found,) = diagnostics(text, "ASF101")
    assert found.fix is not None
    assert edits(text, found.fix) == (
        Edit(Location(2, 1), Location(2, 1), "import asyncio\n"),
        Edit(Location(5, 5), Location(5, 9), "await asyncio"),
    )


# --- ASF101: time.sleep -> await asyncio.sleep ------------------------------------------------

SLEEPY = '''\
"""Retries."""

from __future__ import annotations

import time
from time import sleep as nap


async def retry(attempts: int) -> None:
    for attempt in range(attempts):
        time.sleep(0.1 * attempt)  # back off
        if attempt:
            nap(1)
    delay = time.sleep(0)
    return delay
'''


def test_sleep_becomes_an_awaited_asyncio_sleep_and_the_import_is_added():
    result = fixed(SLEEPY, unsafe=False)
    assert result.fixed == Counter({"ASF101": 2})
    assert (
        result.text
        == '''\
"""Retries."""

from __future__ import annotations

import time
from time import sleep as nap
import asyncio


async def retry(attempts: int) -> None:
    for attempt in range(attempts):
        await asyncio.sleep(0.1 * attempt)  # back off
        if attempt:
            await asyncio.sleep(1)
    delay = time.sleep(0)
    return delay
'''
    )
    # The call inside an expression is left alone (and still reported).
    assert [(d.code, d.location.row) for d in result.diagnostics] == [("ASF101", 15)]


def test_sleep_uses_the_modules_own_asyncio_or_anyio_import():
    aliased = "import asyncio as aio\nimport time\n\n\nasync def f():\n    time.sleep(1)\n"
    assert fixed(aliased).text == "import asyncio as aio\nimport time\n\n\nasync def f():\n    await aio.sleep(1)\n"
    with_anyio = "import time\nfrom anyio import to_thread\n\n\nasync def f():\n    time.sleep(1)\n"
    assert fixed(with_anyio).text == (
        "import time\nfrom anyio import to_thread\nimport anyio\n\n\nasync def f():\n    await anyio.sleep(1)\n"
    )


@pytest.mark.parametrize(
    "source",
    [
        # `asyncio` means something else here.
        "import time\nasyncio = None\n\n\nasync def f():\n    time.sleep(1)\n",
        "import time, asyncio\n\n\nasync def f(asyncio):\n    time.sleep(1)\n",
        "import time\n\n\ndef outer():\n    asyncio = 5\n\n    async def f():\n        time.sleep(1)\n",
        # `await` would apply to the function, not to the call.
        "import time\n\n\nasync def f():\n    (time.sleep)(1)\n",
        # `await` would be invalid in a class body, and the call is not a statement here.
        "import time\n\n\nasync def f():\n    class A:\n        time.sleep(1)\n",
        "import time\n\n\nasync def f():\n    return [time.sleep(1) for _ in range(2)]\n",
        # `asyncio.sleep()` takes no keyword for the delay.
        "import time\n\n\nasync def f(args):\n    time.sleep(*args)\n",
        # `time.sleep()` raises `ValueError` for a negative delay, `asyncio.sleep()` returns at once.
        "import time\n\n\nasync def f():\n    time.sleep(-1)\n",
        "import time\n\n\nasync def f():\n    time.sleep(-0.5)\n",
        "import time\n\n\nasync def f():\n    time.sleep(-(2))\n",
    ],
)
def test_sleep_has_no_fix_where_await_would_not_be_the_same(source):
    (found,) = diagnostics(source, "ASF101")
    assert found.fix is None


def test_sleep_fix_is_safe_with_its_changes():
    (found,) = diagnostics("import time\n\n\nasync def f():\n    time.sleep(1)\n", "ASF101")
    assert found.fix == Fix(
        "Use `await asyncio.sleep()`",
        (
            Change(Action.ADD_IMPORT, None, "import asyncio"),
            Change(Action.AWAIT_INSTEAD, Span(Location(5, 5), Location(5, 18)), "asyncio.sleep"),
        ),
        Applicability.SAFE,
    )


@pytest.mark.parametrize("delay", ["-0", "0", "-delay", "0 - 1"])
def test_sleep_fix_stays_for_a_delay_not_written_as_a_negative_number(delay):
    # Minus zero sleeps as zero does; a value known only at run time is the difference
    # the rule's "Fix safety" section names.
    (found,) = diagnostics(f"import time\n\n\nasync def f(delay):\n    time.sleep({delay})\n", "ASF101")
    assert found.fix is not None
    assert found.fix.changes[-1].action is Action.AWAIT_INSTEAD


def test_a_fixed_file_is_checked_again_as_the_module_it_is(tmp_path):
    # Found by tests/lint/test_fuzz.py: the fix loop checked `pkg/helpers.py` as a module
    # `helpers` of its own, where `helpers.slow()` calls its own blocking helper (ASF110),
    # so `--diff` predicted a finding that `--fix`, checking the package, does not report.
    (tmp_path / "pyproject.toml").write_text("[tool.asyncsafe]\n")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(
        "import time\n\n\ndef slow():\n    time.sleep(1)\n\n\n"
        "async def handler():\n    time.sleep(1)\n    return helpers.slow()\n"
    )
    settings = load(start=tmp_path)
    predicted = fix_paths([package], settings, unsafe=True, write=False)
    assert predicted.fixed == 1
    assert predicted.remaining.diagnostics == []
    assert fix_paths([package], settings, unsafe=True, write=True).remaining.diagnostics == []


# --- ASF201: requests without a timeout -------------------------------------------------------

REQUESTS = """\
import requests

session = requests.Session()


def sync_all() -> None:
    requests.get("https://example.com/a")
    requests.post("https://example.com/b", json={}, timeout=None)
    session.post(
        "https://example.com/c",
        data=b"x",  # the payload
    )
"""


@pytest.mark.parametrize(("configured", "seconds"), [(None, "10"), (2.5, "2.5"), (30, "30")])
def test_requests_get_the_configured_default_timeout(tmp_path, configured, seconds):
    table = "" if configured is None else f"default-timeout = {configured}\n"
    (tmp_path / "pyproject.toml").write_text(f"[tool.asyncsafe]\n{table}")
    result = fixed(REQUESTS, load(start=tmp_path))
    assert result.fixed == Counter({"ASF201": 3})
    assert (
        result.text
        == f"""\
import requests

session = requests.Session()


def sync_all() -> None:
    requests.get("https://example.com/a", timeout={seconds})
    requests.post("https://example.com/b", json={{}}, timeout={seconds})
    session.post(
        "https://example.com/c",
        data=b"x",  # the payload
        timeout={seconds},
    )
"""
    )
    assert result.diagnostics == []


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        # Found by tests/lint/test_fuzz.py: `ast` leaves out the parentheses around a
        # positional argument, and the timeout went inside them (`((1 + 1), timeout=10)`).
        ("requests.request((1 + 1))", "requests.request((1 + 1), timeout=10)"),
        ("requests.get(((url)),)", "requests.get(((url)), timeout=10,)"),
        ("(requests.get)((url))", "(requests.get)((url), timeout=10)"),
        (
            "requests.get(\n    (\n        url  # (the) api\n    ),\n)",
            "requests.get(\n    (\n        url  # (the) api\n    ),\n    timeout=10,\n)",
        ),
    ],
)
def test_the_timeout_goes_after_the_parentheses_around_the_last_argument(call, expected):
    assert fixed(f"import requests\n\nurl = 'u'\n{call}\n").text == f"import requests\n\nurl = 'u'\n{expected}\n"


def test_a_generator_expression_sharing_the_calls_parentheses_gets_its_own():
    # `requests.get(u for u in y, timeout=10)` would not compile.
    assert fixed("import requests\n\nrequests.get(u for u in 'x')\n").text == (
        "import requests\n\nrequests.get((u for u in 'x'), timeout=10)\n"
    )


def test_the_last_argument_goes_with_its_comma_and_not_the_parenthesis_before_it():
    text = "f((a), b=1)\n"
    assert transform(text, [remove_argument(Source(text), _call(text, 1), "b")]) == "f((a))\n"


def test_requests_fix_messages():
    found = diagnostics(REQUESTS, "ASF201")
    assert [(d.location.row, d.fix and (d.fix.message, d.fix.applicability)) for d in found] == [
        (7, ("Add `timeout=10`", Applicability.UNSAFE)),
        (8, ("Set `timeout=10`", Applicability.UNSAFE)),
        (9, ("Add `timeout=10`", Applicability.UNSAFE)),
    ]


# --- ASF102 to ASF110: a blocking call handed to a worker thread ------------------------------


def test_the_hand_off_wraps_the_call_as_the_timeout_fix_left_it():
    # The timeout fix (ASF201) is made first; the hand-off, which wraps the call, next.
    result = fixed("import requests\n\n\nasync def fetch(url):\n    return requests.get(url).json()\n")
    assert result.fixed == Counter({"ASF102": 1, "ASF201": 1})
    assert result.text == (
        "import requests\nimport anyio\nimport functools\n\n\nasync def fetch(url):\n"
        "    return (await anyio.to_thread.run_sync(functools.partial(requests.get, url, timeout=10))).json()\n"
    )


def test_a_route_that_only_blocks_becomes_a_plain_def_once():
    source = (
        "import requests\nfrom fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get('/')\n"
        "async def index(url: str):\n    requests.post(url, timeout=5)\n    return requests.get(url).json()\n"
    )
    result = fixed(source)
    assert result.fixed == Counter({"ASF102": 2, "ASF201": 1})
    assert result.text == source.replace("async def", "def").replace("get(url)", "get(url, timeout=10)")


def test_safe_fixes_alone_hand_nothing_off():
    source = "import requests\n\n\nasync def fetch(url):\n    return requests.get(url, timeout=5)\n"
    assert fixed(source, unsafe=False).changed is False


def _run(path: Path) -> tuple[int, int]:
    """What the module's `main()` returns, run by anyio."""
    anyio = pytest.importorskip("anyio")
    spec = importlib.util.spec_from_file_location(f"handed_off_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result: tuple[int, int] = anyio.run(module.main)
    return result


def test_a_handed_off_call_returns_what_it_did_from_a_worker_thread(tmp_path):
    source = (
        "import threading\nimport time\n\n\ndef work(a, *, b):\n    time.sleep(0)\n"
        "    return {'sum': a + b, 'thread': threading.get_ident()}\n\n\n"
        "async def main():\n    return work(1, b=2)['sum'], work(3, b=4)['thread']\n"
    )
    result = fixed(source)
    assert result.fixed == Counter({"ASF110": 2})
    (tmp_path / "original.py").write_text(source)
    (tmp_path / "fixed.py").write_text(result.text)
    total, thread = _run(tmp_path / "original.py")
    assert (total, thread) == (3, threading.get_ident())
    total, thread = _run(tmp_path / "fixed.py")
    assert total == 3 and thread != threading.get_ident()


def test_a_call_chain_through_another_module_is_fixed_where_it_is_made(tmp_path):
    # Checked alone, `routes.py` does not know that `load` blocks: the fix of the
    # project pass's finding is made all the same.
    (tmp_path / "pyproject.toml").write_text("[tool.asyncsafe]\n")
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "services.py").write_text("import time\n\n\ndef load(n, *, step=1):\n    time.sleep(n * step)\n")
    routes = package / "routes.py"
    routes.write_text("from app.services import load\n\n\nasync def refresh(n):\n    load(n, step=2)\n")
    settings = load(start=tmp_path)
    predicted = fix_paths([package], settings, unsafe=True, write=False)
    assert (predicted.fixed, predicted.remaining.diagnostics) == (1, [])
    assert fix_paths([package], settings, unsafe=True, write=True).remaining.diagnostics == []
    assert routes.read_text() == (
        "from app.services import load\nimport anyio\nimport functools\n\n\nasync def refresh(n):\n"
        "    await anyio.to_thread.run_sync(functools.partial(load, n, step=2))\n"
    )
    again = fix_paths([package], settings, unsafe=True, write=True)
    assert (again.fixed, [file.path for file in again.files if file.changed]) == (0, [])


# --- ASF301: on_event -> lifespan -------------------------------------------------------------

SERVICE = '''\
"""The orders service."""

import logging

from fastapi import FastAPI

log = logging.getLogger(__name__)
events: list[str] = []


def load_settings() -> None:
    events.append("load_settings")


def flush_logs() -> None:
    events.append("flush_logs")


# The application object Uvicorn serves.
app = FastAPI(
    title="orders",
    on_startup=[load_settings],  # settings first
    on_shutdown=[flush_logs],  # logs last
)


# Open the database pool once the settings are known.
@app.on_event("startup")
async def open_pool() -> None:
    # A real service would connect here.
    events.append("open_pool")


@app.on_event("shutdown")  # after the logs are flushed
async def close_pool() -> None:
    events.append("close_pool")


def warm_cache() -> None:
    """Sync: FastAPI calls it without awaiting it."""
    events.append("warm_cache")


app.router.add_event_handler("startup", warm_cache)
app.on_event("shutdown")(warm_cache)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
'''

SERVICE_FIXED = '''\
"""The orders service."""

import logging

from fastapi import FastAPI
from contextlib import asynccontextmanager

log = logging.getLogger(__name__)
events: list[str] = []


def load_settings() -> None:
    events.append("load_settings")


def flush_logs() -> None:
    events.append("flush_logs")


@asynccontextmanager
async def lifespan(_app):
    load_settings()
    await open_pool()
    warm_cache()
    try:
        yield
    finally:
        flush_logs()
        await close_pool()
        warm_cache()


# The application object Uvicorn serves.
app = FastAPI(
    title="orders",
    lifespan=lifespan,  # settings first
    # logs last
)


# Open the database pool once the settings are known.
async def open_pool() -> None:
    # A real service would connect here.
    events.append("open_pool")


# after the logs are flushed
async def close_pool() -> None:
    events.append("close_pool")


def warm_cache() -> None:
    """Sync: FastAPI calls it without awaiting it."""
    events.append("warm_cache")




@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
'''

EXPECTED_EVENTS = [
    "load_settings", "open_pool", "warm_cache", "serving", "flush_logs", "close_pool", "warm_cache",
]  # fmt: skip


def test_event_handlers_become_one_lifespan_in_registration_order():
    result = fixed(SERVICE)
    assert result.fixed == Counter({"ASF301": 6})
    assert result.text == SERVICE_FIXED
    assert result.diagnostics == []


def _serve(path: Path) -> list[str]:
    """The module's `events` after its app started, served once and stopped."""
    testclient = pytest.importorskip("fastapi.testclient")
    spec = importlib.util.spec_from_file_location(f"fixed_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # `on_event` in the original
        spec.loader.exec_module(module)
        with testclient.TestClient(module.app) as client:  # `with` runs the lifespan
            assert client.get("/health").json() == {"status": "ok"}
            module.events.append("serving")
    return module.events


def test_the_lifespan_runs_the_handlers_as_the_event_hooks_did(tmp_path):
    (tmp_path / "original.py").write_text(SERVICE)
    (tmp_path / "rewritten.py").write_text(SERVICE_FIXED)
    assert _serve(tmp_path / "original.py") == EXPECTED_EVENTS
    assert _serve(tmp_path / "rewritten.py") == EXPECTED_EVENTS


def test_a_failing_startup_handler_still_fails_the_startup(tmp_path):
    failing = SERVICE_FIXED.replace('    events.append("open_pool")', '    raise RuntimeError("no database")')
    (tmp_path / "failing.py").write_text(failing)
    with pytest.raises(RuntimeError, match="no database"):
        _serve(tmp_path / "failing.py")


def test_a_starlette_app_with_only_startup_handlers():
    source = (
        "from starlette.applications import Starlette\n\n\n"
        "def ready() -> None:\n    pass\n\n\n"
        "app = Starlette(on_startup=[ready])\n"
    )
    assert fixed(source).text == (
        "from starlette.applications import Starlette\n"
        "from contextlib import asynccontextmanager\n\n\n"
        "def ready() -> None:\n    pass\n\n\n"
        "@asynccontextmanager\nasync def lifespan(_app):\n    ready()\n    yield\n\n\n"
        "app = Starlette(lifespan=lifespan)\n"
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("lifespan=None, on_startup=[ready]", "lifespan=lifespan"),
        ("on_startup=[ready], lifespan=None", "lifespan=lifespan"),
        ("title='x', lifespan=None", "title='x', lifespan=lifespan"),
    ],
)
def test_a_lifespan_of_none_gives_way_to_the_new_lifespan(arguments, expected):
    # Found by tests/lint/test_fuzz.py: `lifespan=` was added next to `lifespan=None`,
    # a keyword passed twice, which does not compile.
    registration = "" if "on_startup" in arguments else "app.add_event_handler('startup', ready)\n"
    source = f"from fastapi import FastAPI\n\n\ndef ready():\n    pass\n\n\napp = FastAPI({arguments})\n{registration}"
    assert fixed(source).text == (
        "from fastapi import FastAPI\nfrom contextlib import asynccontextmanager\n\n\n"
        "def ready():\n    pass\n\n\n"
        "@asynccontextmanager\nasync def lifespan(_app):\n    ready()\n    yield\n\n\n"
        f"app = FastAPI({expected})\n"
    )


NO_FIX = [
    pytest.param(
        "from myproject.main import app\n\n\n@app.on_event('startup')\nasync def start():\n    pass\n",
        "the app is not built at module level in this module",
        id="app-from-another-module",
    ),
    pytest.param(
        "from fastapi import FastAPI\n\n\ndef create_app():\n    app = FastAPI()\n"
        "    app.router.add_event_handler('startup', print)\n    return app\n",
        "the app is not built at module level in this module",
        id="app-factory",
    ),
    pytest.param(
        "from fastapi import FastAPI\n\napp = FastAPI(lifespan=lifespan)\n\n\n"
        "@app.on_event('startup')\nasync def start():\n    pass\n",
        "the app already has a `lifespan=`; move the handlers into it",
        id="already-has-a-lifespan",
    ),
    pytest.param(
        "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.on_event('startup')\nasync def start():\n    pass\n\n\n"
        "def install():\n    app.router.add_event_handler('shutdown', start)\n",
        "a handler is registered inside a function",
        id="registered-inside-a-function",
    ),
    pytest.param(
        "from fastapi import APIRouter, FastAPI\n\napp = FastAPI()\nrouter = APIRouter()\n\n\n"
        "@router.on_event('startup')\nasync def start():\n    pass\n\n\napp.include_router(router)\n",
        "the fix moves the handlers of an app, not of a router",
        id="router",
    ),
    pytest.param(
        "from fastapi import FastAPI\n\napp = FastAPI(on_startup=[lambda: None])\n",
        "a handler is not a plain function of this module",
        id="lambda-handler",
    ),
    pytest.param(
        "from fastapi import FastAPI\n\napp = FastAPI()\napp.router.on_startup.append(print)\n",
        "a handler is added to the handler list directly",
        id="list-append",
    ),
    pytest.param(
        "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.on_event('startup')\nasync def init():\n    pass\n\n\n"
        "@app.on_event('startup')\nasync def init():\n    pass\n",
        "`init` is bound to something else too",
        id="handler-defined-twice",
    ),
    pytest.param(
        "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.on_event('startup')\nasync def start():\n    pass\n\n\n"
        "start = None\n",
        "`start` is bound to something else too",
        id="handler-name-rebound",
    ),
    pytest.param(
        "import os\n\nfrom fastapi import FastAPI\n\napp = FastAPI()\nif os.environ.get('DEBUG'):\n"
        "    app = FastAPI(debug=True)\n\n\n@app.on_event('startup')\nasync def start():\n    pass\n",
        "`app` is assigned more than once",
        id="app-rebound-in-an-if",
    ),
]


@pytest.mark.parametrize(("source", "reason"), NO_FIX)
def test_no_lifespan_fix_and_the_finding_says_why(source, reason):
    found = diagnostics(source, "ASF301")
    assert found
    for diagnostic in found:
        assert diagnostic.fix is None
        assert diagnostic.message.endswith(NOTE.format(reason=reason))
    assert fix_text(source, "app.py", "utf-8", Settings(), ALL_RULES, True).changed is False


def test_an_app_that_includes_a_router_with_handlers_is_left_alone():
    source = (
        "from fastapi import APIRouter, FastAPI\n\napp = FastAPI()\nrouter = APIRouter()\n\n\n"
        "@app.on_event('startup')\nasync def start():\n    pass\n\n\n"
        "@router.on_event('startup')\nasync def warm():\n    pass\n\n\napp.include_router(router)\n"
    )
    app_finding, router_finding = diagnostics(source, "ASF301")
    assert app_finding.message.endswith(
        NOTE.format(reason="it includes `router`, whose handlers would no longer run in order")
    )
    assert router_finding.message.endswith(NOTE.format(reason="the fix moves the handlers of an app, not of a router"))


# --- a whole app ------------------------------------------------------------------------------


def _comments(text: str) -> list[str]:
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return [token.string for token in tokens if token.type == tokenize.COMMENT]


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def test_fixing_a_copy_of_fixtures_app(tmp_path):
    app = tmp_path / "fixtures_app"
    shutil.copytree(REPO / "fixtures_app", app, ignore=shutil.ignore_patterns("__pycache__"))
    settings = load(start=REPO)
    originals = {path: path.read_bytes() for path in app.rglob("*.py")}
    before = check_paths([app], settings).diagnostics
    predicted = fix_paths([app], settings, unsafe=True, write=False).remaining.diagnostics
    assert {path: path.read_bytes() for path in app.rglob("*.py")} == originals

    result = fix_paths([app], settings, unsafe=True, write=True)

    assert not result.remaining.crashes
    assert [file.error for file in result.files if file.error] == []
    for path in app.rglob("*.py"):
        if path.name != "broken.py":  # the deliberate syntax error stays
            compile(path.read_text(), str(path), "exec")
    # Every fix made removed exactly its own finding, and what remains has no fix left to make.
    fixed_counts = Counter[str]()
    for file in result.files:
        fixed_counts.update(file.fixed)
    hand_offs = Counter(ASF102=13, ASF103=8, ASF104=6, ASF105=7, ASF106=6, ASF107=5, ASF108=1, ASF110=3)
    timeouts = Counter(ASF201=4, ASF202=3, ASF203=2, ASF204=2, ASF205=2, ASF206=6, ASF207=4)
    assert fixed_counts == Counter(ASF101=6, ASF301=2) + hand_offs + timeouts
    assert Counter(d.code for d in result.remaining.diagnostics) == Counter(d.code for d in before) - fixed_counts
    assert not [d for d in result.remaining.diagnostics if d.fixable(True)]
    # Comments and layout around what the fixes rewrote are kept: every comment, in
    # order, and the indentation of every line rewritten in place.
    for path, original in originals.items():
        if path.name == "broken.py":
            continue
        text = path.read_text()
        assert _comments(text) == _comments(original.decode()), path.name
        matcher = difflib.SequenceMatcher(a=original.decode().splitlines(), b=text.splitlines(), autojunk=False)
        for tag, first, last, start, end in matcher.get_opcodes():
            if tag == "replace" and last - first == end - start:
                for old, new in zip(matcher.a[first:last], matcher.b[start:end], strict=True):
                    assert _indent(old) == _indent(new), (path.name, old, new)
    # What `--diff` predicted is what `--fix` left, but for findings that need the other
    # files (ASF110, the project pass: a file checked alone cannot have them, nor fixes).
    assert predicted == [
        d
        for d in result.remaining.diagnostics
        if d.code != "ASF110" or d.filename not in {str(file.path) for file in result.files if file.changed}
    ]

    written = {path: path.read_bytes() for path in app.rglob("*.py")}
    assert written != originals
    again = fix_paths([app], settings, unsafe=True, write=True)
    assert (again.fixed, [f for f in again.files if f.changed]) == (0, [])
    assert {path: path.read_bytes() for path in app.rglob("*.py")} == written


#: Runs the command line with the arguments given, then prints to stderr whether the
#: process loaded libcst.
_LOADING_LIBCST = """
import sys
from asyncsafe_lint.cli import main
main(sys.argv[1:])
print("libcst" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("arguments", "loaded"),
    [
        # Checks in the formats that show no edits, cold then served by the cache: no libcst.
        (["check", "--exit-zero"], False),
        (["check", "--exit-zero", "--no-cache"], False),
        (["check", "--exit-zero", "--output-format", "full"], False),
        (["check", "--exit-zero", "--output-format", "sarif"], False),
        (["check", "--exit-zero", "--statistics"], False),
        # Edits shown, or made: the fix engine.
        (["check", "--exit-zero", "--output-format", "json"], True),
        (["check", "--exit-zero", "--diff"], True),
    ],
)
def test_only_a_run_that_fixes_or_shows_edits_loads_libcst(tmp_path, arguments, loaded):
    (tmp_path / "pyproject.toml").write_text("[tool.asyncsafe]\n")
    (tmp_path / "app.py").write_text("import time\n\n\nasync def f():\n    time.sleep(1)\n")
    command = [sys.executable, "-c", _LOADING_LIBCST, *arguments, "app.py"]
    runs = 1 if loaded else 2
    for _ in range(runs):
        ran = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True, timeout=120)
        assert ran.stderr == f"{loaded}\n"


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ({"default-timeout": "10"}, "`default-timeout` must be a positive number of seconds"),
        ({"default-timeout": 0}, "`default-timeout` must be a positive number of seconds"),
        ({"default-timeout": True}, "`default-timeout` must be a positive number of seconds"),
        ({"fix": "yes"}, "`fix` must be true or false"),
        ({"unsafe-fixes": 1}, "`unsafe-fixes` must be true or false"),
    ],
)
def test_bad_fix_settings_are_named(table, error):
    with pytest.raises(ConfigError) as raised:
        from_table(table, Path("/project/pyproject.toml"))
    assert str(raised.value) == f"/project/pyproject.toml: {error}"


def test_a_diff_splits_lines_where_python_does():
    # A form feed inside a line (here in a comment) does not end it.
    fixed = FixedFile(Path("app.py"), "utf-8", "x = 1  # a\x0c b\ny = 2\n", "x = 1  # a\x0c b\ny = 3\n", Counter(), [])
    assert fixed.diff("app.py") == "--- app.py\n+++ app.py\n@@ -1,2 +1,2 @@\n x = 1  # a\x0c b\n-y = 2\n+y = 3\n"
