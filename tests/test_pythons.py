"""`.ci/pythons.py`, which finds the interpreters `make test-pythons` runs the suite on:
every Python 3.11 or newer on PATH or in pyenv, one per minor version, PATH's first,
older ones left out, and a clear failure where there is none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fake_python(path: Path, version: str) -> Path:
    """An executable that answers the script's question as Python `version` would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version.replace('.', ' ')}\n")
    path.chmod(0o755)
    return path


def pythons(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path / "pyenv")}
    return subprocess.run(
        [sys.executable, ROOT / ".ci" / "pythons.py"], capture_output=True, text=True, env=environment, timeout=60
    )


def test_one_interpreter_of_each_supported_version_path_first(tmp_path: Path) -> None:
    on_path = fake_python(tmp_path / "bin" / "python3.12", "3.12")
    fake_python(tmp_path / "pyenv/versions/3.10.13/bin/python3", "3.10")
    older_12 = fake_python(tmp_path / "pyenv/versions/3.12.1/bin/python3", "3.12")
    pyenv_11 = fake_python(tmp_path / "pyenv/versions/3.11.7/bin/python3", "3.11")
    pyenv_13 = fake_python(tmp_path / "pyenv/versions/3.13.0/bin/python3", "3.13")

    done = pythons(tmp_path)

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [f"3.11 {pyenv_11}", f"3.12 {on_path}", f"3.13 {pyenv_13}"]
    assert str(older_12) not in done.stdout


def test_no_supported_interpreter_is_an_error_that_says_so(tmp_path: Path) -> None:
    fake_python(tmp_path / "pyenv/versions/3.10.13/bin/python3", "3.10")
    (tmp_path / "bin").mkdir()

    done = pythons(tmp_path)

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "no Python 3.11 or newer found on PATH or in pyenv\n"


def test_this_machine_has_the_running_python() -> None:
    done = subprocess.run([sys.executable, ROOT / ".ci" / "pythons.py"], capture_output=True, text=True, timeout=60)

    versions = [line.split()[0] for line in done.stdout.splitlines()]
    assert done.returncode == 0
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in versions
    assert versions == sorted(set(versions), key=lambda v: tuple(map(int, v.split("."))))
