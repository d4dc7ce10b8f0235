"""The linter over real, valid code it did not write: the installed sources of its own
dependencies.  It must not crash, must check every file, and must not call valid code
unparseable or unreadable."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from asyncsafe_lint import Settings, check_paths

#: About 500 files; a second or two.  (They live under `.venv/.../site-packages`:
#: named explicitly, they are walked although both names are excluded by default.)
PACKAGES = ("pydantic", "aiohttp", "_pytest", "requests", "urllib3", "httpx", "anyio", "starlette", "fastapi", "uvicorn")


def _package_directory(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _python_files(directory: Path) -> set[str]:
    return {
        str(Path(root) / name)
        for root, dirs, files in os.walk(directory)
        if "__pycache__" not in Path(root).parts
        for name in files
        if name.endswith((".py", ".pyi"))
    }


def test_installed_packages_are_checked_without_crashes_or_false_syntax_errors(tmp_path):
    directories = [_package_directory(package) for package in PACKAGES]
    expected_files = set().union(*(_python_files(directory) for directory in directories))

    result = check_paths(directories, Settings(root=tmp_path))

    assert result.crashes == {}
    assert result.files_checked == len(expected_files) > 400
    assert [d for d in result.diagnostics if d.code in ("ASF001", "ASF002")] == []
    assert {d.filename for d in result.diagnostics} <= expected_files
