"""The cache directory is the repository's, so the linter trusts nothing in it that this
machine did not write: a crafted cache file runs no code and hides no finding, a forged
or copied recorded run is not replayed, and a cache directory git tracks is not used.

Every run is a real `asyncsafe-lint` process with a key directory of its own
(`$XDG_CACHE_HOME`), on a project whose route reaches `requests.get` through two
modules: one ASF110 finding, exit status 1.
"""

from __future__ import annotations

import marshal
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from asyncsafe_lint import replay
from asyncsafe_lint.cache import plain, signing
from asyncsafe_lint.cache.results import PURPOSE
from asyncsafe_lint.diagnostics import Action, Applicability, Change, Diagnostic, Fix, Location, Place, Span
from asyncsafe_lint.facts import ModuleFacts

from .test_call_graph import CHAIN_PROJECT, write

ROUTE_ONLY = ["check", "app/routes.py"]
#: `--verbose` is part of the command line a run is recorded for.
VERBOSE = [*ROUTE_ONLY, "--verbose"]
CLEAN = "All checks passed!\n"


class Project:
    """A project, the key directory its runs use, and how to run the linter on it."""

    def __init__(self, root: Path, key_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.key_home = key_home
        self.monkeypatch = monkeypatch

    def run(self, *arguments: str, key_home: Path | None = None) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "XDG_CACHE_HOME": str(key_home or self.key_home)}
        environment.pop("ASYNCSAFE_CACHE_DIR", None)
        command = [sys.executable, "-m", "asyncsafe_lint", *(arguments or ROUTE_ONLY)]
        return subprocess.run(
            command, cwd=self.root, env=environment, capture_output=True, text=True, timeout=60, check=False
        )

    def results_file(self) -> Path:
        (file,) = self.root.glob(".asyncsafe_cache/*/*.results")
        return file

    def record(self) -> Path:
        (file,) = self.root.glob(".asyncsafe_cache/*/runs/*.marshal")
        return file

    def forget_runs(self) -> None:
        """Deletes the recorded runs: the next run then reads the cache of results."""
        for record in self.root.glob(".asyncsafe_cache/*/runs/*.marshal"):
            record.unlink()

    def cache_files(self) -> dict[Path, bytes]:
        return {path: path.read_bytes() for path in self.root.glob(".asyncsafe_cache/**/*") if path.is_file()}

    def sign(self, data: bytes, purpose: bytes) -> bytes:
        """`data` signed with the key the project's runs use."""
        self._use_key()
        return signing.sign(data, purpose)

    def verified(self, file: Path, purpose: bytes) -> bytes:
        """The contents of `file` after its MAC, which must be of the project's key."""
        self._use_key()
        data = signing.verified(file.read_bytes(), purpose)
        assert data is not None
        return data

    def _use_key(self) -> None:
        self.monkeypatch.setenv("XDG_CACHE_HOME", str(self.key_home))
        self.monkeypatch.setattr(signing, "_key", None)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    write(tmp_path / "project", CHAIN_PROJECT)
    return Project(tmp_path / "project", tmp_path / "home-cache", monkeypatch)


def finding(project: Project) -> str:
    """What the check prints for the project with no cache at all."""
    fresh = project.run(*ROUTE_ONLY, "--no-cache")
    assert fresh.returncode == 1 and "ASF110" in fresh.stdout
    return fresh.stdout


def test_the_key_is_made_on_first_use_and_readable_by_its_owner_alone(project: Project) -> None:
    project.run()
    key = project.key_home / "asyncsafe-lint" / "key"
    assert len(key.read_bytes()) == signing.MAC_SIZE
    assert (key.stat().st_mode & 0o777, key.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert list(key.parent.iterdir()) == [key]  # no temporary file left behind


def test_a_pickle_that_runs_code_runs_nothing_and_the_cache_is_rebuilt(project: Project) -> None:
    expected = finding(project)
    assert project.run().stdout == expected
    results = project.results_file()
    marker = project.root.parent / "pwned"
    payload = pickle.dumps(_RunsCode(f"touch {marker}"))
    # Where the cache is now, and where an older release kept its pickle.
    results.write_bytes(payload)
    results.with_suffix(".pickle").write_bytes(payload)
    project.forget_runs()

    checked = project.run("check", "app/routes.py", "--verbose")

    assert not marker.exists()
    assert (checked.returncode, checked.stdout) == (1, expected)
    assert checked.stderr == (
        f"asyncsafe-lint: note: {results.relative_to(project.root)}: ignored: its authentication fails "
        "(forged, or copied); rebuilding it\n"
    )
    project.verified(results, PURPOSE)  # rebuilt, and signed with this machine's key
    project.forget_runs()
    assert (project.run(*VERBOSE).stdout, project.run(*VERBOSE).stderr) == (expected, "")


class _RunsCode:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


def test_a_cache_that_hides_the_finding_is_not_believed_unless_this_machine_signed_it(project: Project) -> None:
    """The new format's own attack: well-formed entries that say the file has no
    findings, under a MAC made with another key, or none."""
    expected = finding(project)
    project.run()
    results = project.results_file()
    data = project.verified(results, PURPOSE)
    empty = plain.dumps(([], None))  # a file with no findings and no module
    lying = marshal.dumps({key: (stamp, empty) for key, (stamp, _) in marshal.loads(data).items() if "findings" in key})
    other_key = Project(project.root, project.root.parent / "elsewhere", project.monkeypatch).sign(lying, PURPOSE)

    for forged in (lying, bytes(signing.MAC_SIZE) + lying, other_key, data):
        results.write_bytes(forged)
        project.forget_runs()
        checked = project.run()
        assert (checked.returncode, checked.stdout, checked.stderr) == (1, expected, "")  # noted under --verbose only

    # The same lie signed with this machine's key is believed: the key is all that tells.
    results.write_bytes(project.sign(lying, PURPOSE))
    project.forget_runs()
    assert (project.run().returncode, project.run().stdout) == (0, CLEAN)


def test_a_forged_record_is_not_replayed(project: Project) -> None:
    expected = finding(project)
    project.run(*VERBOSE)
    record = project.record()
    key, snapshot, output, status = marshal.loads(project.verified(record, replay.PURPOSE))
    assert (output, status) == (expected, 1)
    passing = marshal.dumps((key, snapshot, CLEAN, 0))
    mac = record.read_bytes()[: signing.MAC_SIZE]

    # The right key material (command line, directory, stamps), the old MAC or none.
    for forged in (mac + passing, passing):
        record.write_bytes(forged)
        checked = project.run(*VERBOSE)
        assert (checked.returncode, checked.stdout) == (1, expected)
        assert checked.stderr == (
            f"asyncsafe-lint: note: {record.relative_to(project.root)}: ignored: its authentication fails "
            "(forged, copied, or of another format)\n"
        )

    # Signed with this machine's key, the same record is replayed: the MAC is what refused it.
    record.write_bytes(project.sign(passing, replay.PURPOSE))
    replayed = project.run(*VERBOSE)
    assert (replayed.returncode, replayed.stdout) == (0, CLEAN)


def test_a_cache_copied_from_another_machine_is_rebuilt(project: Project) -> None:
    expected = finding(project)
    assert project.run().stdout == expected
    elsewhere = project.root.parent / "other-machine"
    copied = project.results_file().read_bytes()

    checked = project.run(*VERBOSE, key_home=elsewhere)

    assert (checked.returncode, checked.stdout) == (1, expected)
    assert checked.stderr == (
        f"asyncsafe-lint: note: {project.results_file().relative_to(project.root)}: ignored: its authentication "
        "fails (forged, or copied); rebuilding it\n"
    )
    assert project.results_file().read_bytes() != copied  # written anew, with the other key
    project.forget_runs()
    again = project.run(*VERBOSE, key_home=elsewhere)
    assert (again.stdout, again.stderr) == (expected, "")


@pytest.mark.parametrize("index_version", [2, 4])  # 4 abbreviates paths: then git is asked
def test_a_cache_directory_git_tracks_is_neither_read_nor_written(project: Project, index_version: int) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project.root, check=True)
    expected = finding(project)
    project.run()
    record = project.record()
    key, snapshot, _, _ = marshal.loads(project.verified(record, replay.PURPOSE))
    # A record that lies, signed with this machine's key, so that only tracking tells.
    record.write_bytes(project.sign(marshal.dumps((key, snapshot, CLEAN, 0)), replay.PURPOSE))
    assert project.run().stdout == CLEAN  # untracked: believed
    subprocess.run(["git", "add", "-f", ".asyncsafe_cache"], cwd=project.root, check=True)
    subprocess.run(["git", "update-index", "--index-version", str(index_version)], cwd=project.root, check=True)
    before = project.cache_files()

    checked = project.run()

    assert (checked.returncode, checked.stdout) == (1, expected)
    assert checked.stderr == (
        "asyncsafe-lint: warning: git tracks files in the cache directory .asyncsafe_cache, so it is not used: "
        "`git rm -r --cached .asyncsafe_cache` untracks them\n"
    )
    assert project.cache_files() == before
    # Untracked again, it is used again.
    subprocess.run(["git", "rm", "-q", "-r", "--cached", ".asyncsafe_cache"], cwd=project.root, check=True)
    assert (project.run().stdout, project.run().stderr) == (CLEAN, "")


def test_a_key_others_can_read_is_not_trusted(project: Project) -> None:
    expected = finding(project)
    project.run()
    key = project.key_home / "asyncsafe-lint" / "key"
    key.chmod(0o644)
    project.forget_runs()
    cache = project.cache_files()

    checked = project.run(*VERBOSE)

    assert (checked.returncode, checked.stdout) == (1, expected)
    assert checked.stderr == (
        f"asyncsafe-lint: note: {key}: this cache key is not yours, or others may read it: not trusted; "
        "running without the cache\n"
    )
    assert project.cache_files() == cache  # nothing read, nothing written: no run recorded either


def test_plain_data_round_trips_and_rejects_every_other_shape() -> None:
    place = Place("get_items", "in async route GET /items", "Blocking call `time.sleep()` ", ": use `asyncio.sleep()`")
    fix = Fix(
        "Use `await asyncio.sleep`",
        (
            Change(Action.ADD_IMPORT, None, "import asyncio"),
            Change(Action.AWAIT_INSTEAD, Span(Location(3, 4), Location(3, 17)), "asyncio.sleep"),
        ),
        Applicability.UNSAFE,
    )
    diagnostic = Diagnostic("app.py", Location(3, 4), Location(3, 17), "ASF101", "blocking-sleep", "m", fix, place)
    restored = plain.loads(Diagnostic, plain.dumps(diagnostic))
    assert (restored, restored.place) == (diagnostic, place)  # `place` is left out of `==`
    facts = ModuleFacts("app", "app.py", classes=("A",), aliases=(("x", "y"),))
    assert plain.loads(ModuleFacts, plain.dumps(facts)) == facts

    # Where a class is rebuilt, data of another shape is refused; values are taken as
    # they are (only what this machine signed is decoded).
    malformed = {
        "not marshal": b"\x00garbage",
        "a field short": marshal.dumps(("app.py", (3, 4))),
        "a code object for a dataclass": marshal.dumps(
            ("app.py", compile("1", "x", "eval"), (3, 17), "", "", "", None, None)
        ),
        "a list for a dataclass": marshal.dumps(["m", (), "unsafe"]),
        "no such member": marshal.dumps(("m", (), "sometimes")),
    }
    kinds = {"a list for a dataclass": Fix, "no such member": Fix}
    for name, data in malformed.items():
        with pytest.raises(plain.Malformed):
            plain.loads(kinds.get(name, Diagnostic), data)
