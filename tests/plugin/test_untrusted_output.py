"""Reports never run what they show: text from the app, the tests and the requests reaches
the terminal escaped, and the values of `asyncsafe_env` reach no report at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncsafe_lint.untrusted import printable, printable_lines
from pytest_asyncsafe.settings import ServerSettings, Settings
from pytest_asyncsafe.storage import Baseline

from .support import literal, run, write_ini

# --- the escaping itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[31mred", "\\x1b[31mred"),  # ESC: a colour, or a cleared screen
        ("\x9b2J", "\\x9b2J"),  # CSI, the one-character ESC [
        ("ding\x07", "ding\\x07"),  # BEL
        ("ok\rFAILED", "ok\\rFAILED"),  # a carriage return would overwrite the line
        ("one\ntwo", "one\\ntwo"),  # nor may a field start a line of its own
        ("a\tb", "a\\tb"),
        ("\x00\x7f", "\\x00\\x7f"),  # NUL, DEL
        ("\x85", "\\x85"),  # NEL, a C1 line break
        ("admin\u202e \u2066user\u2069", "admin\\u202e \\u2066user\\u2069"),  # bidi override and isolates
        ("a\u2028b", "a\\u2028b"),  # the Unicode line separator
    ],
    ids=["esc", "csi", "bel", "cr", "lf", "tab", "nul-del", "nel", "bidi", "line-separator"],
)
def test_printable_writes_out_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_printable_leaves_other_text_as_it_is() -> None:
    text = "café 日本 naïve résumé ü € \\x1b GET /items?q=1"
    assert printable(text) == text
    # Escaping twice changes nothing: text may pass two renderers.
    assert printable(printable("\x1b\u202e")) == printable("\x1b\u202e")


def test_printable_lines_splits_at_newlines_only() -> None:
    assert printable_lines("one\x1b[2J\ntwo\x0bthree\x85\n") == ["one\\x1b[2J", "two\\x0bthree\\x85", ""]


# --- asyncsafe_env values ----------------------------------------------------------------------

SECRET = "hunter2-very-secret"


def test_env_values_are_hidden_in_text_and_absent_from_the_settings_repr() -> None:
    server = ServerSettings(app="app:app", env=(("TOKEN", "hunter2"), ("DSN", f"postgres://u:{SECRET}@db"), ("E", "")))
    assert server.hide_env(f"error: postgres://u:{SECRET}@db refused; hunter2!") == "error: <hidden> refused; <hidden>!"
    for text in (repr(server), repr(Settings(True, server)), str(server)):
        assert "hunter2" not in text and "TOKEN" not in text


def test_a_bad_asyncsafe_env_line_is_named_by_its_number_not_its_text(pytester: pytest.Pytester) -> None:
    write_ini(
        pytester,
        extra=f"""
        asyncsafe_env =
            A=1
            SECRET_TOKEN {SECRET}
        """,
    )
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = run(pytester)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: asyncsafe: asyncsafe_env: line 2 is not KEY=VALUE"])
    assert SECRET not in result.stdout.str() + result.stderr.str()


# --- a saved baseline is the repository's text -------------------------------------------------


def test_a_saved_baseline_is_described_escaped(tmp_path: Path) -> None:
    machine = {"platform": "Linux\x1b]0;pwned\x07", "python": "3.12\u202e", "cpus": 2}
    baseline = Baseline("main", "\x1b[2J2024-05-01T12:00", machine, {}, tmp_path / "main.json")
    assert baseline.describe() == "'main' (saved \\x1b[2J2024-05-01 1 UTC)"
    assert baseline.elsewhere() == "platform Linux\\x1b]0;pwned\\x07, Python 3.12\\u202e, 2 CPUs"


# --- sessions ----------------------------------------------------------------------------------

#: An app whose blocking line holds an ESC and a right-to-left override (in a comment: the
#: raw characters are in the file), and one whose lifespan shutdown raises an error that
#: quotes its environment and a terminal control sequence.
SERVED = """
import contextlib
import os
import time

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def stall(request):
    time.sleep(0.15)  # \x1b[5m \u202e
    return PlainTextResponse("stalled")


async def fast(request):
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/stall/{name}", stall), Route("/fast", fast)])


@contextlib.asynccontextmanager
async def leaking_lifespan(app):
    yield
    raise ConnectionError(f"cannot flush to {os.environ['SECRET_TOKEN']}@metrics \\x1b[2J")


leaking_shutdown = Starlette(routes=[Route("/fast", fast)], lifespan=leaking_lifespan)
"""
STALL_LINE = SERVED.splitlines().index("    time.sleep(0.15)  # \x1b[5m \u202e")  # SERVED starts with a blank line

#: pytest escapes the ids it makes (`parametrize` values, `ids=`), not a hook's: the
#: id of `test_id` reaches the plugin raw, as a plugin or a conftest may make it.
CONFTEST = """
def pytest_make_parametrize_id(config, val, argname):
    return val if argname == "tag" else None
"""

SHOWN = """
import pytest


def test_path(asyncsafe_client):
    # The app sees the path decoded: an ESC, a CSI and a right-to-left override.
    assert asyncsafe_client.get("/stall/%1b%5B31m%c2%9b2J%e2%80%ae").status_code == 200


@pytest.mark.asyncsafe_allow_blocking
@pytest.mark.parametrize("tag", ["\\x1b[2J\\u202e"])
def test_id(asyncsafe_client, asyncsafe_load, tag):
    assert asyncsafe_client.get("/stall/plain").status_code == 200
    asyncsafe_load.get("/fast", requests=20)
"""
RAW_ID = "test_shown.py::test_id[\x1b[2J\u202e]"
SHOWN_ID = "test_shown.py::test_id[\\x1b[2J\\u202e]"
#: What must never reach the terminal raw.
CONTROLS = ("\x1b", "\x9b", "\x07", "\u202e")


def test_a_test_id_a_request_path_and_a_source_line_show_as_text(pytester: pytest.Pytester) -> None:
    write_ini(pytester, app="shownapp:app")
    pytester.makepyfile(shownapp=SERVED, test_shown=SHOWN)
    pytester.makeconftest(CONFTEST)
    result = run(pytester, "--color=no", "--asyncsafe", "--asyncsafe-json=asyncsafe.json")

    result.assert_outcomes(passed=1, failed=1)
    where = f"shownapp.py:{STALL_LINE} in stall"
    lines = result.outlines
    assert lines[lines.index("  while serving: GET /stall/\\x1b[31m\\x9b2J\\u202e") + 1 :][:2] == [
        f"  {where}",
        "      time.sleep(0.15)  # \\x1b[5m \\u202e",
    ]
    # The summary's stall lines (in either order: the longer stall first) and load table row.
    for line in (
        "1 stall(s), worst * ms: " + literal(f"{where}  [test_shown.py::test_path]"),
        "1 stall(s), worst * ms (allowed): " + literal(f"{where}  [{SHOWN_ID}]"),
        literal(f"{SHOWN_ID}  GET /fast  1 concurrent, 20 requests  ") + "*",
    ):
        result.stdout.fnmatch_lines([line])
    for control in CONTROLS:
        assert control not in result.stdout.str() + result.stderr.str(), repr(control)

    # The JSON report keeps the text as it was (JSON escapes it).
    report = json.loads((pytester.path / "asyncsafe.json").read_text())
    by_test = {stall["test"]: stall for stall in report["stalls"]}
    assert set(by_test) == {"test_shown.py::test_path", RAW_ID}
    assert by_test["test_shown.py::test_path"]["requests"][0]["path"] == "/stall/\x1b[31m\x9b2J\u202e"
    stack = by_test[RAW_ID]["stack"]
    assert [frame["code"] for frame in stack if frame["function"] == "stall"] == ["time.sleep(0.15)  # \x1b[5m \u202e"]
    assert [run["test"] for run in report["load_runs"]] == [RAW_ID]


LEAKING = """
def test_stall(asyncsafe_client, asyncsafe_load):
    assert asyncsafe_client.get("/stall/x").status_code == 200
    asyncsafe_load.get("/fast", requests=20)


def test_drain(asyncsafe_drain):
    report = asyncsafe_drain(None, app="shownapp:leaking_shutdown")
    print(report.log)
    report.assert_clean()
"""


def test_a_secret_in_asyncsafe_env_appears_in_no_report(pytester: pytest.Pytester) -> None:
    write_ini(pytester, app="shownapp:app", extra=f"asyncsafe_env = SECRET_TOKEN={SECRET}")
    pytester.makepyfile(shownapp=SERVED, test_leaking=LEAKING)
    result = run(pytester, "-s", "-l", "--asyncsafe", "--asyncsafe-json=out/asyncsafe.json", "--asyncsafe-save=run")

    result.assert_outcomes(failed=2)
    # The app's error reached the report, its secret hidden and its ESC escaped.
    result.stdout.fnmatch_lines(
        ["*lifespan shutdown raised in worker pid *: ConnectionError: cannot flush to <hidden>@metrics \\x1b[[]2J*"]
    )
    # So does the server's output the test printed.
    result.stdout.fnmatch_lines(["ConnectionError: cannot flush to <hidden>@metrics \x1b[[]2J"])
    assert SECRET not in result.stdout.str() + result.stderr.str()
    written = [path for path in pytester.path.rglob("*") if path.is_file() and path.name != "tox.ini"]
    assert {"asyncsafe.json", "run.json"} <= {path.name for path in written}
    assert [path for path in written if SECRET.encode() in path.read_bytes()] == []


BROKEN = """
import os
import sys

print("connecting with", os.environ["SECRET_TOKEN"], "\\x1b[2J", file=sys.stderr, flush=True)
print("cannot connect: \\x1b]8;;http://example.invalid\\x07here\\x1b]8;;\\x07", file=sys.stderr, flush=True)
sys.exit(3)
"""


def test_a_server_that_fails_to_start_shows_its_output_escaped_and_its_secrets_hidden(
    pytester: pytest.Pytester,
) -> None:
    # The app's name is the ini file's text, shown as text too.
    write_ini(pytester, app="brokenapp:app\x1b[8m", extra=f"asyncsafe_env = SECRET_TOKEN={SECRET}")
    pytester.makepyfile(brokenapp=BROKEN, test_needs="def test_needs(asyncsafe_client):\n    pass\n")
    result = run(pytester, "--asyncsafe")

    result.assert_outcomes(errors=1)
    lines = result.outlines
    start = lines.index(
        "asyncsafe: the server for brokenapp:app\\x1b[8m exited with status 3 before it was ready. Its output:"
    )
    assert lines[start + 1 : start + 3] == [
        "connecting with <hidden> \\x1b[2J",
        "cannot connect: \\x1b]8;;http://example.invalid\\x07here\\x1b]8;;\\x07",
    ]
    assert SECRET not in result.stdout.str() + result.stderr.str()
    for control in CONTROLS:
        assert control not in result.stdout.str(), repr(control)


def test_the_lint_item_shows_a_file_name_as_text(pytester: pytest.Pytester) -> None:
    # A file of the app's package whose name holds an ESC: the linter reads it, never imports it.
    write_ini(pytester, app="pkg.main:app", lint=True)
    (pytester.path / "pkg").mkdir()
    (pytester.path / "pkg" / "__init__.py").write_text("")
    (pytester.path / "pkg" / "main.py").write_text("app = None\n")
    (pytester.path / "pkg" / "bad\x1b[31m.py").write_text("import time\n\n\nasync def f():\n    time.sleep(1)\n")
    result = run(pytester, "--asyncsafe")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ asyncsafe-lint pkg _*",
            "pkg/bad\\x1b[[]31m.py:5:5: ASF101 Blocking call `time.sleep()` in async function `f`: *",
            "asyncsafe-lint: 1 finding(s)",
        ]
    )
    assert "\x1b" not in result.stdout.str()
