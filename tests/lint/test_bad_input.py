"""Files the linter cannot check are reported, one clear line each, and never stop the
others from being checked; bad options and configuration are usage errors (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asyncsafe_lint.cli import main

SLEEP = (
    "ASF101 [*] Blocking call `time.sleep()` in async function `{function}`: "
    "use `await asyncio.sleep()` (or `await anyio.sleep()`)"
)
HAZARD = "import time\n\n\nasync def handler():\n    time.sleep(1)\n"
CANNOT = "ASF002 Cannot check this file:"

#: No rule is interested in this file (no `async`, no HTTP client): only the syntax check sees it.
SYNTAX_ERROR = "import os\n\n\ndef handler(request:\n    return os.getcwd()\n"
#: The rules look at this one (it has `async`): the same message.
SYNTAX_ERROR_ASYNC = "import time\n\n\nasync def handler():\n    time.sleep(1)\n    return [1, 2\n"


def _cpython_error(source: str) -> tuple[int, int, str]:
    try:
        compile(source, "bad.py", "exec")
    except SyntaxError as error:
        assert error.lineno is not None and error.offset is not None
        return error.lineno, error.offset, error.msg
    raise AssertionError("the source was meant to be invalid")


def _bad_directory(root: Path) -> None:
    bad = root / "bad"
    bad.mkdir()
    (bad / "syntax.py").write_text(SYNTAX_ERROR)
    (bad / "syntax_async.py").write_text(SYNTAX_ERROR_ASYNC)
    # Latin-1 without a coding declaration: invalid UTF-8 in the first two lines (where
    # PEP 263 looks for the declaration), then further down.
    (bad / "latin1_head.py").write_bytes("# Café\nNAME = 'x'\n".encode("latin-1"))
    (bad / "latin1_body.py").write_bytes("import os\n\nNAME = 'café'\n".encode("latin-1"))
    # Latin-1 declared: checked like any other file, `é` and all.
    (bad / "latin1_declared.py").write_bytes(
        "# -*- coding: latin-1 -*-\nimport time\n\n\nasync def café():\n    time.sleep(1)\n".encode("latin-1")
    )
    (bad / "unknown_encoding.py").write_bytes(b"# -*- coding: klingon -*-\nx = 1\n")
    (bad / "empty.py").write_bytes(b"")
    (bad / "binary.py").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00async def f(): pass\n")
    (bad / "hazard.py").write_text(HAZARD)
    (bad / "stub.pyi").write_text("async def handler() -> None: ...\n")
    (bad / "notes.txt").write_bytes(b"\x00not python, not checked")
    os.symlink("nowhere.py", bad / "dangling.py")


def _expected_lines() -> list[str]:
    row, column, message = _cpython_error(SYNTAX_ERROR)
    assert (row, column) == (4, 12)
    async_row, async_column, async_message = _cpython_error(SYNTAX_ERROR_ASYNC)
    assert (async_row, async_column) == (6, 12)
    return [
        f"bad/binary.py:1:1: {CANNOT} binary file (it contains NUL bytes), not Python source",
        f"bad/dangling.py:1:1: {CANNOT} No such file or directory",
        f"bad/hazard.py:5:5: {SLEEP.format(function='handler')}",
        f"bad/latin1_body.py:1:1: {CANNOT} cannot decode: "
        "'utf-8' codec can't decode byte 0xe9 in position 22: invalid continuation byte",
        f"bad/latin1_declared.py:6:5: {SLEEP.format(function='café')}",
        f"bad/latin1_head.py:1:1: {CANNOT} cannot decode: invalid or missing encoding declaration",
        f"bad/syntax.py:{row}:{column}: ASF001 SyntaxError: {message}",
        f"bad/syntax_async.py:{async_row}:{async_column}: ASF001 SyntaxError: {async_message}",
        f"bad/unknown_encoding.py:1:1: {CANNOT} cannot decode: unknown encoding: klingon",
        f"missing.py:1:1: {CANNOT} No such file or directory",
        "Found 10 errors.",
        # Both ASF101 findings have a fix, safe (see the rule's "Fix safety").
        "[*] 2 fixable with the `--fix` option.",
    ]


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.asyncsafe]\n")
    _bad_directory(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_each_bad_file_is_one_line_and_the_rest_is_still_checked(project, capsys):
    code = main(["check", "bad", "missing.py"])
    captured = capsys.readouterr()
    assert captured.out.splitlines() == _expected_lines()
    assert (code, captured.err) == (1, "")


def test_syntax_and_io_errors_are_always_on(project, capsys):
    # They cannot be selected away: a file that was not checked must not pass silently.
    code = main(["check", "--select", "ASF2", "--ignore", "ASF001,ASF002", "bad", "missing.py"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert [line.split(" ", 2)[1] for line in lines[:-1]] == [
        "ASF002", "ASF002", "ASF002", "ASF002", "ASF001", "ASF001", "ASF002", "ASF002",
    ]  # fmt: skip
    assert lines[-1] == "Found 8 errors."


def test_the_same_through_a_real_process(project):
    completed = subprocess.run(
        [sys.executable, "-m", "asyncsafe_lint", "check", "bad", "missing.py"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=120,
    )
    assert completed.stdout.splitlines() == _expected_lines()
    assert (completed.returncode, completed.stderr) == (1, "")


def test_a_declared_encoding_with_carriage_return_line_breaks(tmp_path, monkeypatch, capsys):
    # Found by tests/lint/test_fuzz.py: `tokenize.detect_encoding` took the whole file for
    # its first line, and its `é` for invalid UTF-8, where CPython reads latin-1.
    source = "# -*- coding: latin-1 -*-\rimport time\r\r\rasync def café():\r    time.sleep(1)\r"
    (tmp_path / "pyproject.toml").write_text("[tool.asyncsafe]\n")
    (tmp_path / "mac.py").write_bytes(source.encode("latin-1"))
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--no-cache", "mac.py"]) == 1
    assert capsys.readouterr().out.splitlines()[0] == f"mac.py:6:5: {SLEEP.format(function='café')}"
    assert main(["check", "--no-cache", "--fix", "mac.py"]) == 0
    fixed = source.replace("import time\r", "import time\rimport asyncio\r").replace(
        "time.sleep", "await asyncio.sleep"
    )
    assert (tmp_path / "mac.py").read_bytes() == fixed.encode("latin-1")


def test_an_empty_file_alone_passes(project, capsys):
    assert main(["check", "bad/empty.py"]) == 0
    assert capsys.readouterr().out == "All checks passed!\n"


# --- usage errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--select", "--ignore", "--extend-select"])
def test_an_unknown_rule_code_on_the_command_line_is_a_usage_error(project, capsys, option):
    code = main(["check", option, "ASF101,ASF999", "bad/hazard.py"])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == "asyncsafe-lint: error: rule selector: unknown rule code or prefix `ASF999`\n"


def test_an_unknown_configuration_key_is_a_usage_error(project, capsys):
    (project / "pyproject.toml").write_text('[tool.asyncsafe]\nselect = ["ASF"]\nselcet = ["ASF1"]\n')
    code = main(["check", "bad/hazard.py"])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == (
        f"asyncsafe-lint: error: {project / 'pyproject.toml'}: unknown key `selcet` in [tool.asyncsafe] "
        "(known: select, ignore, extend-select, per-file-ignores, exclude, blocking-calls, max-depth, "
        "fix, unsafe-fixes, default-timeout, target-version)\n"
    )


def test_an_unknown_code_in_per_file_ignores_is_a_usage_error(project, capsys):
    (project / "pyproject.toml").write_text('[tool.asyncsafe.per-file-ignores]\n"tests/*" = ["ASF9"]\n')
    code = main(["check", "bad/hazard.py"])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err == (
        f"asyncsafe-lint: error: {project / 'pyproject.toml'}: "
        "per-file-ignores['tests/*']: unknown rule code or prefix `ASF9`\n"
    )


def test_unreadable_configuration_is_a_usage_error(project, capsys):
    (project / "pyproject.toml").write_text("[tool.asyncsafe\n")
    code = main(["check", "bad/hazard.py"])
    captured = capsys.readouterr()
    assert (code, captured.out) == (2, "")
    assert captured.err.startswith(f"asyncsafe-lint: error: {project / 'pyproject.toml'}: cannot read: ")


def test_exit_zero_reports_but_succeeds(project, capsys):
    code = main(["check", "--exit-zero", "bad/hazard.py", "missing.py"])
    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    assert captured.out.splitlines() == [
        f"bad/hazard.py:5:5: {SLEEP.format(function='handler')}",
        f"missing.py:1:1: {CANNOT} No such file or directory",
        "Found 2 errors.",
        "[*] 1 fixable with the `--fix` option.",
    ]
