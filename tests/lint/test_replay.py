"""Replayed runs (`replay`): a command repeated with nothing changed prints exactly what
it printed and exits as it did, and any change its output depends on makes it check
again.

The command line runs in this process.  A run was replayed when it never reached
`commands.run` (the `ran` fixture records the arguments of each run that did).  What a
run should print is what a run without any cache prints (`fresh`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

import asyncsafe_lint
from asyncsafe_lint import checker, commands, filesystem, replay
from asyncsafe_lint.cli import main

from .test_call_graph import CHAIN_PROJECT, DB, SERVICES, write

HOOK = ["check", "app", "--exit-zero"]
ROUTE_ONLY = ["check", "app/routes.py"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose route reaches `requests.get` through two modules (ASF110), the
    current directory."""
    root = tmp_path / "project"
    write(root, CHAIN_PROJECT)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    calls: list[list[str]] = []
    real = commands.run

    def recording(arguments: Sequence[str], notes: Sequence[tuple[str, str]] = ()) -> int:
        calls.append(list(arguments))
        return real(arguments, notes)

    monkeypatch.setattr(commands, "run", recording)
    yield calls


def lint(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> tuple[int, str]:
    status = main(arguments)
    return status, capsys.readouterr().out


def fresh(capsys: pytest.CaptureFixture[str], arguments: list[str]) -> tuple[int, str]:
    """What the command prints with no cache at all."""
    status, output = lint(capsys, [*arguments, "--no-cache"])
    return status, output


def test_a_repeated_command_is_replayed(
    project: Path, capsys: pytest.CaptureFixture[str], ran: list[list[str]]
) -> None:
    first = lint(capsys, ROUTE_ONLY)
    assert first == fresh(capsys, ROUTE_ONLY)
    assert first[0] == 1 and "ASF110" in first[1]
    ran.clear()
    assert lint(capsys, ROUTE_ONLY) == first
    assert lint(capsys, ROUTE_ONLY) == first
    assert ran == []
    # Checked again once after a change, then replayed again.
    (project / "app/db.py").write_text(DB.replace("timeout=5", "timeout=9"))
    assert lint(capsys, ROUTE_ONLY) == first
    assert lint(capsys, ROUTE_ONLY) == first
    assert ran == [ROUTE_ONLY]


#: Prints which of the linter's modules a run of the command line imported.
_MODULES = """
import sys
from asyncsafe_lint.cli import main
status = main(sys.argv[1:])
print(sorted(name for name in sys.modules if name.startswith("asyncsafe_lint")), status, file=sys.stderr)
"""


def test_a_replay_imports_nothing_of_the_analysis(project: Path) -> None:
    command = [sys.executable, "-c", _MODULES, *ROUTE_ONLY]
    checked = subprocess.run(command, capture_output=True, text=True, check=True)
    replayed = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "'asyncsafe_lint.engine'" in checked.stderr
    assert replayed.stderr == (
        "['asyncsafe_lint', 'asyncsafe_lint.cache', 'asyncsafe_lint.cache.directory', 'asyncsafe_lint.cache.signing', "
        "'asyncsafe_lint.cli', 'asyncsafe_lint.filesystem', 'asyncsafe_lint.replay', 'asyncsafe_lint.version'] 1\n"
    )
    assert replayed.stdout == checked.stdout
    assert "ASF110" in replayed.stdout


def _edit(name: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / name
        path.write_text(path.read_text().replace(old, new, 1))

    return edit


def _edit_keeping_time(name: str, old: str, new: str) -> Callable[[Path], None]:
    """An edit that keeps the file's size and modification time: only its contents tell."""

    def edit(root: Path) -> None:
        path = root / name
        stat = path.stat()
        _edit(name, old, new)(root)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    return edit


_IGNORING = '[tool.asyncsafe]\nignore = ["ASF110"]'
_SERVICES_OF_CACHE = SERVICES.replace("from app import db", "from app import cache as db")

#: Changes to what the output depends on: the command they are checked with, the
#: project's files that differ from `project` before the change (None: absent), and
#: the change.
CHANGES: dict[str, tuple[list[str], dict[str, str | None], Callable[[Path], None]]] = {
    "the named file edited": (ROUTE_ONLY, {}, _edit("app/routes.py", "s.load()", "s.load(); time.sleep(1)")),
    # Same size and time: only the content hash tells (the time is too recent to trust).
    "a callee's file edited, same size and time": (
        ROUTE_ONLY, {}, _edit_keeping_time("app/db.py", "requests.get", "requests.put")
    ),
    "a callee's blocking call removed": (ROUTE_ONLY, {}, _edit("app/db.py", "requests.get(url, timeout=5)", "url")),
    "a callee's file renamed": (ROUTE_ONLY, {}, lambda root: (root / "app/db.py").rename(root / "app/database.py")),
    "a looked-up module created": (ROUTE_ONLY, {"app/services.py": _SERVICES_OF_CACHE},
                                   lambda root: write(root, {"app/cache.py": DB})),
    "a file added to a checked directory": (HOOK, {}, lambda root: write(root, {"app/more.py": "import time\n\n\nasync def f():\n    time.sleep(1)\n"})),
    "a checked file deleted": (HOOK, {}, lambda root: (root / "app/routes.py").unlink()),
    "the settings edited": (HOOK, {}, _edit("pyproject.toml", "[tool.asyncsafe]", _IGNORING)),
    "the settings removed": (ROUTE_ONLY, {"pyproject.toml": _IGNORING}, lambda root: (root / "pyproject.toml").unlink()),
    "the --config file edited": ([*ROUTE_ONLY, "--config", "../custom.toml"], {"../custom.toml": "max-depth = 8\n"},
                                 _edit("../custom.toml", "max-depth = 8", 'ignore = ["ASF110"]')),
    # Above the project, in a directory no run lists: only asking `isfile` again tells.
    "the settings created": (ROUTE_ONLY, {"pyproject.toml": None},
                             lambda root: write(root.parent, {"pyproject.toml": _IGNORING})),
}  # fmt: skip


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_the_output_depends_on_is_checked_again(
    project: Path, capsys: pytest.CaptureFixture[str], ran: list[list[str]], change: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # Every time is too recent to trust, however long the first run took.
    monkeypatch.setattr(filesystem, "RACY_NS", 10**18)
    arguments, files, edit = CHANGES[change]
    write(project, {name: text for name, text in files.items() if text is not None})
    for name in (name for name, text in files.items() if text is None):
        (project / name).unlink()
    before = lint(capsys, arguments)
    assert lint(capsys, arguments) == before
    edit(project)
    ran.clear()
    after = lint(capsys, arguments)
    assert ran == [arguments]
    assert after == fresh(capsys, arguments)
    assert after != before  # the change shows in the output: a stale replay would fail above


def test_another_command_or_directory_is_not_replayed(
    project: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], ran: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    concise = lint(capsys, HOOK)
    as_json = lint(capsys, [*HOOK, "--output-format", "json"])
    assert as_json[1].startswith("[") and concise[1] != as_json[1]
    other = tmp_path_factory.mktemp("other")
    write(other, {"pyproject.toml": "[tool.asyncsafe]\n", "app/main.py": "x = 1\n"})
    monkeypatch.chdir(other)
    # Without a cache directory of its own, the parent's could be found; none is.
    assert lint(capsys, HOOK) == (0, "All checks passed!\n")
    assert ran == [HOOK, [*HOOK, "--output-format", "json"], HOOK]


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param([*HOOK, "--no-cache"], id="no-cache"),
        pytest.param([*HOOK, "--fix"], id="fix"),
        pytest.param([*HOOK, "--diff"], id="diff"),
        pytest.param([*HOOK, "--cache-dir", "elsewhere"], id="cache-dir where replay does not look"),
        pytest.param(["check", "app", "missing.py", "--exit-zero"], id="a file that cannot be read"),
    ],
)
def test_runs_that_are_never_recorded(
    project: Path, capsys: pytest.CaptureFixture[str], ran: list[list[str]], arguments: list[str]
) -> None:
    first = lint(capsys, arguments)
    assert lint(capsys, arguments) == first
    assert ran == [arguments, arguments]
    assert list(project.rglob("runs")) == []


def test_a_run_with_a_crash_is_never_recorded(
    project: Path, capsys: pytest.CaptureFixture[str], ran: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def crashing(path: Path, *args: object, **kwargs: object) -> checker.FileResult:
        raise RuntimeError("boom")

    monkeypatch.setattr(checker, "check_file", crashing)
    assert main(HOOK) == 2
    assert main(HOOK) == 2
    assert ran == [HOOK, HOOK]
    assert "RuntimeError: boom" in capsys.readouterr().err


def test_a_damaged_record_is_checked_afresh(
    project: Path, capsys: pytest.CaptureFixture[str], ran: list[list[str]]
) -> None:
    first = lint(capsys, ROUTE_ONLY)
    [record] = project.glob(".asyncsafe_cache/*/runs/*.marshal")
    record.write_bytes(record.read_bytes()[: record.stat().st_size // 2])
    assert lint(capsys, ROUTE_ONLY) == first
    record.write_bytes(b"not marshal")
    assert lint(capsys, ROUTE_ONLY) == first
    assert ran == [ROUTE_ONLY] * 3


def test_the_most_recent_runs_are_kept(project: Path, capsys: pytest.CaptureFixture[str], ran: list[list[str]]) -> None:
    commands = [[*HOOK, "--max-depth", str(depth)] for depth in range(1, replay.KEEP + 3)]
    for arguments in commands:
        lint(capsys, arguments)
    assert len(list(project.glob(".asyncsafe_cache/*/runs/*.marshal"))) == replay.KEEP
    ran.clear()
    for arguments in (commands[-1], commands[2], commands[1], commands[0]):
        lint(capsys, arguments)
    # The two oldest were forgotten; the 16 after them are replayed.
    assert ran == [commands[1], commands[0]]


def test_a_run_depends_on_the_linters_own_files(project: Path) -> None:
    package = Path(asyncsafe_lint.__file__).parent
    snapshot = replay.start(None)
    own = {path for path in snapshot.stamps if path.startswith(f"{package}{os.sep}")}
    assert own == {str(path) for path in package.rglob("*.py")}
    assert str(project / "pyproject.toml") in snapshot.stamps
    assert snapshot.files[str(project.parent / "pyproject.toml")] is False


def test_a_module_the_linter_failed_on_is_watched_too(
    project: Path, capsys: pytest.CaptureFixture[str], ran: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A looked-up module the linter fails on is left out of the call graph, silently;
    the run is recorded, and editing that module makes the next one check again."""
    real = checker.check_file

    def failing_on_timeouts(path: Path, *args: object, **kwargs: object) -> checker.FileResult:
        if "timeout=5" in path.read_text():
            raise RuntimeError("boom")
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(checker, "check_file", failing_on_timeouts)
    assert lint(capsys, ROUTE_ONLY) == (0, "All checks passed!\n")
    assert lint(capsys, ROUTE_ONLY) == (0, "All checks passed!\n")
    (project / "app/db.py").write_text(DB.replace("timeout=5", "timeout=9"))
    status, output = lint(capsys, ROUTE_ONLY)
    assert (status, output.splitlines()[-1]) == (1, "Found 1 error.")
    assert ran == [ROUTE_ONLY, ROUTE_ONLY]
