"""The whole linter, fixes included, on generated programs (as libcst and CPython's own
parser are fuzzed): no internal error, no fix that leaves code that does not compile,
fixes that converge, and the same findings with the cache as without it.

Two kinds of program: whatever Python's grammar allows (hypothesmith), and async web
code built around the calls the rules know - routes, dependencies, event handlers,
blocking calls with generated arguments in every statement shape - with hypothesmith's
programs between its pieces, so that the rules fire and their fixes run.

`make test` runs a bounded, derandomized number of examples; `make fuzz` runs
`ASYNCSAFE_FUZZ_EXAMPLES` of each (10,000 by default), with a fresh seed each time.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from asyncsafe_lint.checker import LintResult, check_paths
from asyncsafe_lint.commands import _source_lines
from asyncsafe_lint.config import Settings, load, override
from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.fix import FixResult, fix_paths
from asyncsafe_lint.output import FORMATS
from asyncsafe_lint.output.report import Report

# hypothesmith compiles what it generates: `1()` and the like warn, thousands of times.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

#: Set by `make fuzz`: how many examples each test runs, at random.
LONG_RUN = os.environ.get("ASYNCSAFE_FUZZ_EXAMPLES")

settings.register_profile(
    "bounded",
    # A few seconds in `make test`, the same examples every time.
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "fuzz",
    max_examples=int(LONG_RUN or 10_000),
    derandomize=False,
    deadline=None,
    # Nothing kept between runs: a failure prints the blob that reproduces it.
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PROFILE = settings.get_profile("fuzz" if LONG_RUN else "bounded")

#: Programs from Python's grammar (built once: it compiles the grammar).
GRAMMAR = hypothesmith.from_grammar()

# --- running the linter --------------------------------------------------------------------


def _no_crash(result: LintResult) -> None:
    assert result.crashes == {}, "\n".join(result.crashes.values())


def _compiles(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings about the generated code
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)


def _fixes_compile(result: FixResult) -> None:
    _no_crash(result.remaining)
    assert [(file.path, file.error) for file in result.files if file.error is not None] == []
    for file in result.files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(file.text, str(file.path), "exec", dont_inherit=True)


def _checked(root: Path, settings: Settings, cache: Path | None) -> list[Diagnostic]:
    result = check_paths([root], settings, cache_dir=cache, workers=1)
    _no_crash(result)
    return result.diagnostics


def _same_with_the_cache(root: Path, settings: Settings, cache: Path) -> list[Diagnostic]:
    """The findings without a cache, after checking that a run writing the cache and one
    reading it report exactly those."""
    uncached = _checked(root, settings, None)
    assert _checked(root, settings, cache) == uncached, "a run writing the cache"
    assert _checked(root, settings, cache) == uncached, "a run reading the cache"
    return uncached


def _shown(diagnostics: Sequence[Diagnostic], settings: Settings, root: Path) -> None:
    """Every output format renders the findings."""
    report = Report(diagnostics, settings.rules, root, _source_lines, show_fixes=True, unsafe_fixes=True)
    try:
        for formatter in FORMATS.values():
            assert isinstance(formatter(report), str)
    finally:
        _source_lines.cache_clear()


def lint_everything(files: dict[str, bytes], table: str = "") -> None:
    """Writes `files` (path -> contents) as a project with `[tool.asyncsafe]` `table`,
    then checks it with and without the cache, fixes it (unsafe fixes too) and checks
    what the fixes left."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "pyproject.toml").write_text(f"[tool.asyncsafe]\n{table}")
        for name, contents in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(contents)
            _compiles(root / name)
        settings = override(load(start=root), select=["ALL"])
        cache = root / ".asyncsafe_cache"

        before = _same_with_the_cache(root, settings, cache)
        # The programs compile: a syntax error finding would be the linter's mistake.
        assert [d for d in before if d.code in ("ASF001", "ASF002")] == []
        _shown(before, settings, root)

        predicted = fix_paths([root], settings, unsafe=True, write=False)
        _fixes_compile(predicted)
        fixed = fix_paths([root], settings, unsafe=True, write=True)
        _fixes_compile(fixed)
        for name in files:
            _compiles(root / name)
        remaining = fixed.remaining.diagnostics
        assert [d for d in remaining if d.fixable(True)] == []
        # What `--diff` predicts is what `--fix` leaves, but that a changed file, checked
        # alone, has only the ASF110 findings its own functions show (no project pass).
        changed = {str(file.path) for file in fixed.files if file.changed}

        def alone(diagnostic: Diagnostic) -> bool:
            return diagnostic.code == "ASF110" and diagnostic.filename in changed

        assert [d for d in predicted.remaining.diagnostics if not alone(d)] == [d for d in remaining if not alone(d)]
        assert {d for d in predicted.remaining.diagnostics if alone(d)} <= {d for d in remaining if alone(d)}
        # A second run has nothing left to change.
        again = fix_paths([root], settings, unsafe=True, write=True)
        _no_crash(again.remaining)
        assert (again.fixed, [file.path for file in again.files if file.changed]) == (0, [])
        # The cache, written before the fixes, knows the files changed.
        assert _same_with_the_cache(root, settings, cache) == remaining


# --- programs from the grammar -------------------------------------------------------------


@settings(PROFILE)
@given(st.one_of(GRAMMAR, hypothesmith.from_node()))
def test_programs_from_the_grammar(program: str) -> None:
    lint_everything({"pkg/__init__.py": b"", "pkg/main.py": program.encode()})


# --- async web code ------------------------------------------------------------------------

#: Import lines; the calls below use the names some of them bind.
IMPORTS = (
    "import time", "import time as t", "from time import sleep", "from time import sleep as nap",
    "import asyncio", "import asyncio as aio", "import anyio", "from anyio import to_thread",
    "import requests", "import requests as r", "from requests import Session, get as fetch",
    "import httpx", "import aiohttp", "import subprocess", "from subprocess import Popen, run",
    "import os", "import os.path", "import socket", "import sqlite3", "import threading", "import queue",
    "import urllib.request", "from urllib.request import urlopen", "import mylib", "from mylib import fetch as legacy",
    "from fastapi import APIRouter, Depends, FastAPI", "import fastapi", "from fastapi import FastAPI as App",
    "from starlette.applications import Starlette", "from contextlib import asynccontextmanager",
    "import contextlib", "from typing import Annotated", "import asyncio, time",
    "import asyncpg", "import redis.asyncio as aioredis", "from sqlalchemy.ext.asyncio import create_async_engine",
)  # fmt: skip

#: What is called, by the rule that knows it; `{a}` are the generated arguments.
CALLS = (
    # ASF101
    "time.sleep({a})", "t.sleep({a})", "sleep({a})", "nap({a})", "(time.sleep)({a})", "pause({a})",
    # ASF102, ASF201, ASF202, ASF204
    "requests.get({a})", "requests.post({a})", "r.put({a})", "fetch({a})", "requests.request({a})",
    "session.get({a})", "Session().delete({a})", "requests.api.head({a})", "httpx.get({a})",
    "httpx.Client({a}).get('u')", "urllib.request.urlopen({a})", "urlopen({a})",
    # ASF103, ASF206
    "subprocess.run({a})", "run({a})", "subprocess.check_output({a})", "os.system({a})", "Popen({a}).wait()",
    "proc.communicate({a})",
    # ASF104
    "open({a})", "os.listdir({a})", "os.path.exists({a})", "open({a}).read()",
    # ASF105, ASF205
    "socket.create_connection({a})", "socket.getaddrinfo({a})",
    # ASF106, ASF107, ASF108, ASF109
    "sqlite3.connect({a})", "lock.acquire({a})", "q.get({a})", "input({a})", "mylib.fetch({a})", "legacy({a})",
    # ASF110: the helpers below
    "helper({a})", "helpers.slow({a})", "Store({a})",
    # ASF203, ASF207
    "aiohttp.ClientSession({a})", "aiohttp.ClientTimeout({a})", "asyncio.wait_for({a})", "aio.wait_for({a})",
    # ASF208-ASF211, and the deadlines ASF210/ASF211 look for
    "asyncpg.connect({a})", "asyncpg.create_pool({a})", "create_async_engine({a})", "aioredis.Redis({a})",
    "aioredis.from_url({a})", "asyncio.open_connection({a})", "child.wait({a})", "child.communicate({a})",
    "asyncio.timeout({a})", "anyio.fail_after({a})",
    # ASF301, ASF302
    "app.add_event_handler({a})", "app.on_event({a})(start)", "app.router.on_startup.append({a})",
    # not blocking
    "asyncio.sleep({a})", "print({a})", "to_thread.run_sync({a})",
)  # fmt: skip

#: The calls with fixes, as they are usually written (`{p}`: a plain value).
FIXABLE = (
    "time.sleep({p})", "t.sleep({p})", "sleep({p})", "nap({p})", "pause({p})", "requests.get({p})",
    "r.post({p}, json={{}})", "fetch({p}, timeout=None)", "session.get({p})", "requests.request('GET', {p})",
)  # fmt: skip

#: Argument values: the shapes the rules and fixes look at, and some they should not.
ATOMS = (
    "1", "0", "-1", "-0", "-0.5", "0.1", "1e3", "-(2)", "+1", "~0", "None", "True", "False", "x", "self.x", "args",
    "'u'", '"https://example.com"', "'é∑ø'", "b'x'", "f'{x}'", "[]", "{}", "()", "('h', 80)", "['ls']", "...",
    "'startup'", "'shutdown'", "start", "stop", "'''a\nb'''", "lambda: 0", "(yield)", "await x",
    "'postgresql+asyncpg://u@h/db'", "{'command_timeout': x}",
)  # fmt: skip

#: Values as the usual code writes them.
PLAIN = ("1", "0.5", "'u'", '"https://example.com/é"', "x", "('h', 80)", "['ls']", "'startup'", "start")

#: Keyword arguments (`{e}`: a generated value).
KEYWORDS = (
    "timeout={e}", "timeout=None", "timeout=5", "json={e}", "data={e}", "check=True", "shell={e}",
    "event_type={e}", "lifespan={e}", "url={e}", "fut={e}", "total={e}", "command_timeout={e}",
    "socket_timeout={e}", "connect_args={e}",
)  # fmt: skip

#: Argument values, nested in operators, comprehensions and the calls above.
EXPRESSIONS = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" + ", " - ", " * ", " if x else ", " or ", ", "]), inner).map(
            lambda parts: f"({''.join(parts)})"
        ),
        inner.map(lambda e: f"-{e}"),
        inner.map(lambda e: f"[{e} for x in y]"),
        st.tuples(st.sampled_from(CALLS), inner).map(lambda parts: parts[0].format(a=parts[1])),
    ),
    max_leaves=3,
)


@st.composite
def _arguments(draw: st.DrawFn) -> str:
    """An argument list: positional values, `*args`, keywords and `**kw`, on one line or
    on several with comments and a trailing comma."""
    positional = draw(st.lists(st.one_of(EXPRESSIONS, st.just("*args")), max_size=3))
    keywords = draw(st.lists(st.sampled_from(KEYWORDS), max_size=2, unique_by=lambda k: k.split("=")[0]))
    items = [*positional, *(k.format(e=draw(EXPRESSIONS)) for k in keywords)]
    if draw(st.integers(0, 3)) == 0:
        items.append("**kw")
    return _laid_out(draw, items)


def _laid_out(draw: st.DrawFn, items: list[str]) -> str:
    if not items:
        return ""
    layout = draw(st.sampled_from(["inline", "inline", "lines", "comments", "hanging"]))
    if layout == "inline":
        return ", ".join(items) + draw(st.sampled_from(["", "", ","]))
    if layout == "hanging":
        return items[0] + "".join(f",\n        {item}" for item in items[1:])
    comment = "  # a comment" if layout == "comments" else ""
    return "\n" + "".join(f"    {item},{comment}\n" for item in items)


@st.composite
def _call(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(FIXABLE)).format(p=draw(st.sampled_from(PLAIN)))
    return draw(st.sampled_from(CALLS)).format(a=draw(_arguments()))


#: Statement shapes around a call `{c}`; `{i}` is one level of indentation.
SHAPES = (
    "{c}", "x = {c}", "return {c}", "await {c}", "async with {c} as v:\n{i}pass",
    "with {c} as v:\n{i}pass", "with {c}:\n{i}{c}", "if x: {c}", "x = 1; {c}", "{c}; x = 1", "{c}  # a comment",
    "{c}  # noqa: ASF101", "{c}  # noqa", "print({c})", "[{c} for _ in range(2)]", "f = lambda: {c}",
    "try:\n{i}{c}\nexcept Exception:\n{i}{c}\nfinally:\n{i}{c}", "for _ in range(2):\n{i}{c}\nelse:\n{i}pass",
    "while x:\n{i}{c}\n{i}break", "def inner():\n{i}{c}", "async def inner():\n{i}{c}\n{i}await inner()",
    "class Inner:\n{i}{c}", "match x:\n{i}case 1:\n{i}{i}{c}", "del x\n{c}", "if x:\n{i}pass\nelif {c}:\n{i}{c}",
    "global x\n{c}", "assert {c}, {c}", "x: int = {c}", "yield {c}", "async for v in {c}:\n{i}{c}",
    "{c} \\\n{i}# continued", "\n# a comment\n{c}",
)  # fmt: skip


@dataclass(frozen=True)
class Style:
    """How a generated file is written."""

    indent: str
    newline: str
    encoding: str


def _indented(text: str, depth: int, style: Style) -> list[str]:
    return [style.indent * depth + line if line.strip() else line for line in text.split("\n")]


@st.composite
def _statement(draw: st.DrawFn, style: Style, depth: int) -> list[str]:
    shape = draw(st.one_of(st.just("{c}"), st.sampled_from(SHAPES)))
    text = shape.replace("{i}", style.indent)
    while "{c}" in text:
        text = text.replace("{c}", draw(_call()), 1)
    if draw(st.integers(0, 5)) == 0:  # a program from the grammar in the function's body
        text = f"{draw(GRAMMAR).strip()}\n{text}"
    return _indented(text, depth, style)


DECORATORS = (
    "@app.get('/items')", "@app.post('/items/{item_id}')", "@router.get('/')", "@app.on_event('startup')",
    "@app.on_event('shutdown')", "@app.router.on_event('startup')", "@asynccontextmanager",
    "@contextlib.asynccontextmanager", "@app.middleware('http')", "@app.websocket('/ws')",
)  # fmt: skip
#: Among them names the fixes must not shadow or reuse.
FUNCTION_NAMES = ("handler", "start", "stop", "lifespan", "dep", "asyncio", "read", "app_lifespan")
PARAMETERS = (
    "request", "db=Depends(get_db)", "client: Annotated[httpx.Client, Depends(client)]", "*args", "**kw",
    "x: int = 0", "asyncio=None", "time=None", "session: requests.Session", "_app",
)  # fmt: skip


@st.composite
def _function(
    draw: st.DrawFn, style: Style, depth: int, name: str | None = None, decorators: Sequence[str] | None = None
) -> list[str]:
    if decorators is None:
        decorators = draw(st.lists(st.sampled_from(DECORATORS), max_size=2))
    if name is None:
        name = draw(st.sampled_from(FUNCTION_NAMES))
    parameters = draw(st.lists(st.sampled_from(PARAMETERS), max_size=3, unique=True))
    parameters.sort(key=lambda p: ("=" in p and "*" not in p, p.startswith("*"), p.startswith("**")))
    keyword = draw(st.sampled_from(["async def", "async def", "async def", "def"]))
    body = [line for _ in range(draw(st.integers(1, 4))) for line in draw(_statement(style, depth + 1))]
    header = f"{keyword} {name}({', '.join(parameters)}):"
    return [*_indented("\n".join([*decorators, header]), depth, style), *body]


@st.composite
def _module_statement(draw: st.DrawFn, style: Style) -> list[str]:
    kind = draw(st.sampled_from(["function", "function", "class", "app", "registration", "grammar", "statement"]))
    if kind == "function":
        return draw(_function(style, 0))
    if kind == "class":
        methods = [line for _ in range(draw(st.integers(1, 2))) for line in draw(_function(style, 1))]
        return ["class Service:", *methods]
    if kind == "app":
        constructor = draw(st.sampled_from(["FastAPI", "fastapi.FastAPI", "App", "Starlette", "APIRouter"]))
        name = draw(st.sampled_from(["app", "app", "router", "api"]))
        annotation = draw(st.sampled_from(["", "", ": FastAPI"]))
        return _indented(f"{name}{annotation} = {constructor}({draw(_arguments())})", 0, style)
    if kind == "registration":
        return [draw(st.sampled_from(REGISTRATIONS)).format(event=draw(st.sampled_from(EVENTS)), f="start")]
    if kind == "grammar":
        return draw(GRAMMAR).strip("\n").split("\n")
    return draw(_statement(style, 0))


#: Module-level names the calls and handlers use.
SETUP = (
    "session = requests.Session()", "pause = time.sleep", "lock = threading.Lock()", "q = queue.Queue()",
    "proc = subprocess.Popen(['ls'])", "x = y = args = kw = kind = None", "child: asyncio.subprocess.Process",
    "def helper(*args, **kw):\n{i}time.sleep(1)", "class Store:\n{i}def __init__(self, *args):\n{i}{i}sqlite3.connect('db')",
    "def start():\n{i}pass", "async def stop():\n{i}pass", "def get_db():\n{i}return sqlite3.connect('db')",
    "from . import helpers", "from .helpers import slow as helper", "asyncio = None",
)  # fmt: skip


@st.composite
def _header(draw: st.DrawFn, imports: Iterable[str] = IMPORTS) -> list[str]:
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append('"""A service."""')
    if draw(st.booleans()):
        lines.append("from __future__ import annotations")
    return lines + draw(st.lists(st.sampled_from(tuple(imports)), max_size=8))


@st.composite
def _web_module(draw: st.DrawFn, style: Style) -> list[str]:
    """Async web code: routes and handlers calling what the rules know."""
    lines = draw(_header())
    for setup in draw(st.lists(st.sampled_from(SETUP), max_size=5)):
        lines += _indented(setup.replace("{i}", style.indent), 0, style)
    for _ in range(draw(st.integers(1, 6))):
        lines.append(draw(st.sampled_from(["", "", "\n", "# a comment"])))
        lines += draw(_module_statement(style))
    return lines


#: How a handler of `{event}` is registered on the app, as statements (`{f}`: the handler).
REGISTRATIONS = (
    "app.add_event_handler('{event}', {f})", "app.router.add_event_handler('{event}', {f})",
    "app.on_event('{event}')({f})", "app.add_event_handler('{event}', {f})  # a comment",
    "app.router.on_{event}.append({f})", "app.add_event_handler(kind, {f})", "app.on_event('{event}')(lambda: None)",
    "app.include_router(router)",
)  # fmt: skip
EVENTS = ("startup", "shutdown")


@st.composite
def _app_module(draw: st.DrawFn, style: Style) -> list[str]:
    """An app whose startup and shutdown handlers the ASF301 fix moves into a lifespan:
    in the constructor, as decorators and as registration statements, in any order, now
    and then in a way the fix must leave alone."""
    lines = draw(
        _header(("import time", "import asyncio", "import contextlib", "import fastapi", "from typing import Any"))
    )
    constructor = draw(st.sampled_from(["FastAPI", "FastAPI", "fastapi.FastAPI", "Starlette"]))
    lines.append(
        "from starlette.applications import Starlette" if constructor == "Starlette" else "from fastapi import FastAPI"
    )
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["from contextlib import asynccontextmanager", "lifespan = None", "x = 1"])))
    names = draw(
        st.lists(
            st.sampled_from(
                ["open_pool", "close_pool", "warm_cache", "flush", "start", "stop", "lifespan", "app_lifespan"]
            ),
            min_size=1,
            max_size=5,
            unique=True,
        )
    )
    events = {name: draw(st.sampled_from(EVENTS)) for name in names}
    # Registered in the constructor, defined above it.
    in_constructor = [name for name in names if draw(st.integers(0, 2)) == 0]
    for name in in_constructor:
        lines += ["", "", *draw(_function(style, 0, name=name, decorators=[]))]
    arguments = [
        draw(st.sampled_from(["title='orders'", "debug=True", "lifespan=None"])) for _ in range(draw(st.integers(0, 1)))
    ]
    for event in EVENTS:
        handlers = [name for name in in_constructor if events[name] == event]
        if handlers:
            arguments.append(f"on_{event}=[{', '.join(handlers)}]")
    if draw(st.integers(0, 5)) == 0:
        arguments.append(
            draw(st.sampled_from(["**settings", "lifespan=lifespan", "on_startup=handlers", "root_path='/api'"]))
        )
    comment = draw(st.sampled_from(["", "", "  # the app"]))
    lines += [
        "",
        draw(st.sampled_from(["", "# The application.", "\n"])),
        f"app = {constructor}({_laid_out(draw, arguments)}){comment}",
    ]
    pieces: list[list[str]] = []
    for name in names:
        if name in in_constructor:
            continue
        how = draw(st.sampled_from(["decorator", "decorator", "statement", "other"]))
        if how == "decorator":
            decorator = f"@app.{draw(st.sampled_from(['', '', 'router.']))}on_event('{events[name]}')"
            pieces.append(["", "", *draw(_function(style, 0, name=name, decorators=[decorator]))])
        else:
            registration = draw(st.sampled_from(REGISTRATIONS[:4] if how == "statement" else REGISTRATIONS))
            pieces.append(["", "", *draw(_function(style, 0, name=name, decorators=[]))])
            pieces.append([registration.format(event=events[name], f=name)])
    pieces += [["", "", *draw(_function(style, 0))] for _ in range(draw(st.integers(0, 2)))]
    if draw(st.integers(0, 3)) == 0:
        pieces.append(draw(GRAMMAR).strip("\n").split("\n"))
    for piece in draw(st.permutations(pieces)):
        lines += piece
    return lines


@st.composite
def web_projects(draw: st.DrawFn) -> tuple[dict[str, bytes], str]:
    """A package whose `main` module is async web code, maybe with a `helpers` module
    its functions call into; and its `[tool.asyncsafe]` table."""
    style = Style(
        indent=draw(st.sampled_from(["    ", "    ", "  ", "\t"])),
        newline=draw(st.sampled_from(["\n", "\n", "\r\n", "\r"])),
        encoding=draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1"])),
    )
    main = draw(st.one_of(_web_module(style), _app_module(style)))
    modules = {"pkg/main.py": main}
    if draw(st.booleans()):
        modules["pkg/helpers.py"] = ["import time", "def slow(*args, **kw):", f"{style.indent}time.sleep(1)"]
        modules["pkg/helpers.py"] += draw(_module_statement(style))
    files = {"pkg/__init__.py": b""}
    for name, lines in modules.items():
        files[name] = _encoded("\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"])), style)
    timeout = draw(st.sampled_from(["", "default-timeout = 2.5\n", "default-timeout = 30\n"]))
    table = f'{timeout}[tool.asyncsafe.blocking-calls]\n"mylib.fetch" = "use `mylib.afetch()`"\n'
    return files, table


def _encoded(text: str, style: Style) -> bytes:
    text = text.replace("\n", style.newline)
    if style.encoding == "latin-1":
        try:
            return f"# -*- coding: latin-1 -*-{style.newline}{text}".encode("latin-1")
        except UnicodeEncodeError:
            return text.encode("utf-8")
    return text.encode(style.encoding)


def _all_compile(files: dict[str, bytes]) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for name, contents in files.items():
                compile(contents, name, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return False
    return True


@settings(PROFILE)
@given(web_projects())
def test_async_web_code(project: tuple[dict[str, bytes], str]) -> None:
    files, table = project
    # Some combinations do not compile (`await` in a sync function, `return` with a value
    # in an async generator): the linter's promises are about programs that do.
    assume(_all_compile(files))
    lint_everything(files, table)
