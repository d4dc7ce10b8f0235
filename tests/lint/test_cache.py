"""The cache of per-file results and the worker processes: neither may change a finding.

Runs with a cache are compared with runs without one, on copies of `fixtures_app` and
of a small project whose route reaches a blocking call through two modules (ASF110).
Which files a run checks again is observed by counting calls to `checker.check_file`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncsafe_lint import Diagnostic, Settings, check_paths, checker, filesystem, load
from asyncsafe_lint.cache.results import Cache
from asyncsafe_lint.cli import main
from asyncsafe_lint.config import override
from asyncsafe_lint.names import Imported

from .test_call_graph import CHAIN, CHAIN_PROJECT, DB, write

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of `fixtures_app` as a project of its own, the current directory."""
    shutil.copytree(REPO / "fixtures_app", tmp_path / "fixtures_app", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "pyproject.toml").write_text(
        '[tool.asyncsafe.blocking-calls]\n"fixtures_app.services.legacy_sync_fetch" = "offload it"\n'
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bool]]]:
    """The (path, facts_only) of every file checked in this process, in order (its first
    analysis: the project pass may analyse it again with what it imports)."""
    calls: list[tuple[str, bool]] = []
    real = checker.check_file

    def counting(
        path: Path, settings: Settings, *, facts_only: bool = False, imported: Imported | None = None
    ) -> checker.FileResult:
        if imported is None:  # not a second analysis with imported types (see `exports`)
            calls.append((str(path), facts_only))
        return real(path, settings, facts_only=facts_only, imported=imported)

    monkeypatch.setattr(checker, "check_file", counting)
    yield calls


def lint(settings: Settings, cache: Path | None, paths: tuple[str, ...] = ("fixtures_app",)) -> list[Diagnostic]:
    result = check_paths(list(paths), settings, cache_dir=cache, workers=1)
    assert result.crashes == {}
    return result.diagnostics


def app_files() -> list[str]:
    return sorted(str(path) for path in Path("fixtures_app").rglob("*.py"))


def test_a_cached_run_reports_exactly_what_an_uncached_one_does(app: Path, checked: list[tuple[str, bool]]) -> None:
    settings = load()
    uncached = lint(settings, None)
    assert len({d.code for d in uncached}) > 10  # the app has findings of many rules to compare
    assert lint(settings, app / "cache") == uncached
    checked.clear()
    assert lint(settings, app / "cache") == uncached
    assert checked == []


def test_only_the_edited_file_is_checked_again(app: Path, checked: list[tuple[str, bool]]) -> None:
    settings = load()
    before = lint(settings, app / "cache")
    assert sorted(name for name, facts_only in checked if not facts_only) == app_files()
    edited = app / "fixtures_app" / "routes" / "hazards.py"
    edited.write_text(edited.read_text() + "\nasync def added():\n    time.sleep(1)\n")
    checked.clear()
    diagnostics = lint(settings, app / "cache")
    assert checked == [("fixtures_app/routes/hazards.py", False)]
    assert diagnostics == lint(settings, None)
    added = len(edited.read_text().splitlines())
    assert [(d.filename, d.code, d.location.row) for d in diagnostics if d not in before] == [
        ("fixtures_app/routes/hazards.py", "ASF101", added)
    ]


def test_an_edit_that_keeps_the_size_is_noticed(app: Path, checked: list[tuple[str, bool]]) -> None:
    settings = load()
    lint(settings, app / "cache")
    edited = app / "fixtures_app" / "routes" / "hazards.py"
    stat = edited.stat()
    text = edited.read_text()
    assert text.count("time.sleep(") > 1
    edited.write_text(text.replace("time.sleep(", "time.sleeq(", 1))
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    checked.clear()
    diagnostics = lint(settings, app / "cache")
    assert checked == [("fixtures_app/routes/hazards.py", False)]
    assert diagnostics == lint(settings, None)


def test_an_edit_within_the_same_clock_tick_is_noticed(
    app: Path, checked: list[tuple[str, bool]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same size and same modification time (a coarse filesystem clock): the timestamp
    was recorded too soon after the write to be trusted, so the contents are compared."""
    settings = load()
    edited = app / "fixtures_app" / "routes" / "hazards.py"
    # Every time is too recent to trust, however long the first run takes.
    monkeypatch.setattr(filesystem, "RACY_NS", 10**18)
    lint(settings, app / "cache")
    stat = edited.stat()
    edited.write_text(edited.read_text().replace("time.sleep(", "time.sleeq(", 1))
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    checked.clear()
    diagnostics = lint(settings, app / "cache")
    assert checked == [("fixtures_app/routes/hazards.py", False)]
    assert diagnostics == lint(settings, None)


def test_a_file_touched_but_not_changed_is_not_checked_again(app: Path, checked: list[tuple[str, bool]]) -> None:
    settings = load()
    lint(settings, app / "cache")
    os.utime(app / "fixtures_app" / "main.py", ns=(1, 1))  # a checkout or `touch`: new time, same contents
    checked.clear()
    lint(settings, app / "cache")
    assert checked == []


def test_the_entries_of_a_deleted_file_are_dropped(app: Path) -> None:
    settings = load()
    lint(settings, app / "cache")
    cache = Cache.load(app / "cache", settings)
    deleted = os.path.abspath("fixtures_app/routes/hazards.py")
    paths = {old.path for old, _ in cache._entries.values() if old is not None}
    assert deleted in paths
    os.remove(deleted)
    lint(settings, app / "cache")
    after = Cache.load(app / "cache", settings)
    assert {old.path for old, _ in after._entries.values() if old is not None} == paths - {deleted}


def test_other_settings_use_a_cache_of_their_own(app: Path, checked: list[tuple[str, bool]]) -> None:
    lint(load(), app / "cache")
    first = sorted(checked)
    fewer = override(load(), ignore=["ASF101"])
    checked.clear()
    diagnostics = lint(fewer, app / "cache")
    assert sorted(checked) == first
    assert diagnostics == lint(fewer, None)
    assert "ASF101" not in {d.code for d in diagnostics}
    assert len(list((app / "cache").glob("*/*.results"))) == 2


def test_a_corrupt_cache_file_is_ignored_and_replaced(app: Path, checked: list[tuple[str, bool]]) -> None:
    settings = load()
    expected = lint(settings, app / "cache")
    first = sorted(checked)
    (file,) = (app / "cache").glob("*/*.results")
    file.write_bytes(b"not a cache")
    checked.clear()
    assert lint(settings, app / "cache") == expected
    assert sorted(checked) == first
    checked.clear()
    assert lint(settings, app / "cache") == expected
    assert checked == []


def test_an_edited_callee_changes_the_findings_of_its_cached_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checked: list[tuple[str, bool]]
) -> None:
    write(tmp_path, CHAIN_PROJECT)
    monkeypatch.chdir(tmp_path)
    settings = load()

    def helper_findings() -> list[tuple[str, int, int, str]]:
        diagnostics = lint(settings, tmp_path / "cache", ("app/routes.py",))
        return [(d.code, d.location.row, d.location.column, d.message) for d in diagnostics if d.code == "ASF110"]

    assert helper_findings() == [CHAIN]
    assert sorted(checked) == [("app/__init__.py", True), ("app/db.py", True), ("app/routes.py", False),
                               ("app/services.py", True)]  # fmt: skip
    (tmp_path / "app/db.py").write_text("def fetch(url):\n    return {}\n")
    checked.clear()
    assert helper_findings() == []
    assert checked == [("app/db.py", True)]


@pytest.fixture
def graphs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many modules each call graph built in this process had."""
    sizes: list[int] = []
    real = checker.project_findings

    def counting(modules: list[checker.ModuleFacts], *args: object) -> checker.ProjectFindings:
        sizes.append(len(modules))
        return real(modules, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(checker, "project_findings", counting)
    yield sizes


def test_an_unchanged_project_reuses_its_call_graph_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checked: list[tuple[str, bool]], graphs: list[int]
) -> None:
    write(tmp_path, CHAIN_PROJECT)
    monkeypatch.chdir(tmp_path)
    settings = load()
    first = lint(settings, tmp_path / "cache", ("app/routes.py",))
    assert graphs == [3]  # routes, services, db
    checked.clear()
    assert lint(settings, tmp_path / "cache", ("app/routes.py",)) == first
    assert (checked, graphs) == ([], [3])
    assert [d.message for d in first if d.code == "ASF110"] == [CHAIN[3]]
    # Another selection of files is another project pass.
    lint(settings, tmp_path / "cache", ("app/routes.py", "app/services.py"))
    assert graphs == [3, 3]


def test_a_module_added_where_a_call_leads_changes_the_cached_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, graphs: list[int]
) -> None:
    """The module `app.db` was looked for, and not found, by the cached project pass."""
    write(tmp_path, {name: text for name, text in CHAIN_PROJECT.items() if name != "app/db.py"})
    monkeypatch.chdir(tmp_path)
    settings = load()
    assert [d.code for d in lint(settings, tmp_path / "cache", ("app/routes.py",))] == []
    write(tmp_path, {"app/db.py": DB})
    diagnostics = lint(settings, tmp_path / "cache", ("app/routes.py",))
    assert [(d.code, d.location.row, d.location.column, d.message) for d in diagnostics] == [CHAIN]
    assert graphs == [2, 3]


def test_the_command_line_keeps_its_cache_in_the_project_root(app: Path) -> None:
    assert main(["check", "fixtures_app", "--no-cache", "--exit-zero"]) == 0
    assert not (app / ".asyncsafe_cache").exists()
    assert main(["check", "fixtures_app/main.py", "--exit-zero"]) == 0
    assert (app / ".asyncsafe_cache" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert len(list((app / ".asyncsafe_cache").glob("*/*.results"))) == 1


def test_the_cache_directory_can_be_named(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["check", "fixtures_app/main.py", "--cache-dir", "elsewhere", "--exit-zero"]) == 0
    monkeypatch.setenv("ASYNCSAFE_CACHE_DIR", str(app / "from-env"))
    assert main(["check", "fixtures_app/main.py", "--exit-zero"]) == 0
    assert sorted(p.name for p in app.iterdir() if p.is_dir()) == ["elsewhere", "fixtures_app", "from-env"]
    assert [len(list((app / name).glob("*/*.results"))) for name in ("elsewhere", "from-env")] == [1, 1]


#: Runs the command line with the arguments given, in each output format, then prints
#: to stderr whether the process imported the engine (which parses and checks files).
_REPORTING_ENGINE = """
import sys
from asyncsafe_lint.cli import main
for format in ("concise", "full", "json", "sarif"):
    main([*sys.argv[1:], "--output-format", format])
main([*sys.argv[1:], "--statistics"])
print("asyncsafe_lint.engine" in sys.modules, file=sys.stderr)
"""


def test_a_run_served_by_the_cache_checks_nothing(app: Path) -> None:
    command = [sys.executable, "-c", _REPORTING_ENGINE, "check", "fixtures_app", "--exit-zero"]
    cold = subprocess.run(command, capture_output=True, text=True, check=True)
    # Without the recorded runs, which would replay each command (see test_replay.py).
    [runs] = app.glob(".asyncsafe_cache/*/runs")
    shutil.rmtree(runs)
    warm = subprocess.run(command, capture_output=True, text=True, check=True)
    assert cold.stderr == "True\n"
    assert warm.stderr == "False\n"
    assert warm.stdout == cold.stdout
    assert "ASF101" in warm.stdout and "ASF110" in warm.stdout


@pytest.fixture
def forking() -> None:
    if checker._context() is None:
        pytest.skip("this process has threads besides its main one (pytest-xdist's): it cannot fork workers safely")


@pytest.mark.single_threaded
@pytest.mark.usefixtures("forking")
def test_worker_processes_report_what_one_process_does(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load()
    serial = check_paths(["fixtures_app"], settings, workers=1)
    pids = app / "pids"
    pids.mkdir()
    real = checker.check_file

    def noting_pid(
        path: Path, settings: Settings, *, facts_only: bool = False, imported: Imported | None = None
    ) -> checker.FileResult:
        # The project pass looks modules up here, one at a time, and analyses again those
        # that import typed names.
        if not facts_only and imported is None:
            (pids / str(os.getpid())).touch()
        return real(path, settings, facts_only=facts_only, imported=imported)

    monkeypatch.setattr(checker, "check_file", noting_pid)
    monkeypatch.setattr(checker, "PARALLEL_FROM", 1)
    parallel = check_paths(["fixtures_app"], settings, workers=2)
    checked_in = {int(p.name) for p in pids.iterdir()}
    assert checked_in and os.getpid() not in checked_in  # every file was checked in a worker
    assert (parallel.diagnostics, parallel.crashes, parallel.files_checked) == (
        serial.diagnostics, {}, len(app_files())
    )  # fmt: skip


@pytest.mark.single_threaded
@pytest.mark.usefixtures("forking")
def test_a_crash_in_a_worker_is_reported_for_its_file_only(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The crash is planted with monkeypatch, which the forked workers see too."""
    settings = load()
    real = checker.check_file
    pids = app / "pids"
    pids.mkdir()

    def crashing(
        path: Path, settings: Settings, *, facts_only: bool = False, imported: Imported | None = None
    ) -> checker.FileResult:
        # The project pass looks the crashed module up again here, and analyses again the
        # modules that import typed names.
        if not facts_only and imported is None:
            (pids / str(os.getpid())).touch()
        if path.name == "jobs.py":
            raise RuntimeError("planted")
        return real(path, settings, facts_only=facts_only, imported=imported)

    monkeypatch.setattr(checker, "check_file", crashing)
    serial = check_paths(["fixtures_app"], settings, workers=1)
    (pids / str(os.getpid())).unlink()
    monkeypatch.setattr(checker, "PARALLEL_FROM", 1)
    parallel = check_paths(["fixtures_app"], settings, cache_dir=app / "cache", workers=2)
    checked_in = {p.name for p in pids.iterdir()}
    assert checked_in and str(os.getpid()) not in checked_in  # every named file was checked in a worker
    assert list(parallel.crashes) == ["fixtures_app/jobs.py"]
    assert parallel.crashes["fixtures_app/jobs.py"].rstrip().endswith("RuntimeError: planted")
    assert (parallel.diagnostics, parallel.crashes) == (serial.diagnostics, serial.crashes)
    files = {d.filename for d in parallel.diagnostics}
    assert "fixtures_app/jobs.py" not in files and "fixtures_app/routes/hazards.py" in files
    monkeypatch.setattr(checker, "check_file", real)
    again = check_paths(["fixtures_app"], settings, cache_dir=app / "cache", workers=1)
    assert again.crashes == {}  # the crash was not cached
    assert "fixtures_app/jobs.py" in {d.filename for d in again.diagnostics}


def test_a_process_with_threads_checks_its_files_itself(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forking it could deadlock a worker; starting workers afresh would re-run its main script."""
    monkeypatch.setattr(checker, "PARALLEL_FROM", 1)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert checker._context() is None
        result = check_paths(["fixtures_app"], load(), workers=2)
    finally:
        stop.set()
        thread.join()
    assert result.crashes == {}
    assert result.diagnostics == check_paths(["fixtures_app"], load(), workers=1).diagnostics
