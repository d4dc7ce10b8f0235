"""The pre-commit hook this repository publishes (`.pre-commit-hooks.yaml`), installed and
run by pre-commit itself in a throwaway git repository.

pre-commit installs a hook from a git repository, and `try-repo` only carries tracked files
over from a dirty working tree, so the hook's files (manifest, packaging, sources) are
copied into a fresh repository and committed there: what is tested is the working tree,
whatever git knows about it.  pre-commit builds the hook's virtualenv with pip, from the
package index pip is configured with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
HOOK_FILES = (".pre-commit-hooks.yaml", "pyproject.toml", "README.md")
TIMEOUT = 300

HAZARD = "import time\n\n\nasync def handler():\n    time.sleep(1)\n"
CLEAN = "import asyncio\n\n\nasync def handler():\n    await asyncio.sleep(1)\n"
FINDING = (
    "hazard.py:5:5: ASF101 [*] Blocking call `time.sleep()` in async function `handler`: "
    "use `await asyncio.sleep()` (or `await anyio.sleep()`)"
)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    if not PRE_COMMIT.exists():
        pytest.skip(f"pre-commit is not installed next to {sys.executable} (pip install -e '.[dev]')")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    # Nothing from a git hook that may be running these tests (GIT_DIR, GIT_INDEX_FILE...)
    # may point pre-commit's git commands at another repository.
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("GIT_", "PRE_COMMIT"))}
    environment.update(
        PRE_COMMIT_HOME=str(tmp_path_factory.mktemp("pre-commit-home")),
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
    )
    return environment


def git(cwd: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory, env) -> Path:
    """This repository's hook, committed in a repository of its own."""
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in HOOK_FILES:
        shutil.copy2(ROOT / name, repo / name)
    shutil.copytree(ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git(repo, env, "init", "--quiet")
    git(repo, env, "add", "--all")
    git(repo, env, "commit", "--quiet", "--message", "hook under test")
    return repo


def project(path: Path, env: dict[str, str], files: dict[str, str]) -> Path:
    path.mkdir()
    git(path, env, "init", "--quiet")
    write(path, env, files)
    return path


def write(path: Path, env: dict[str, str], files: dict[str, str]) -> None:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, env, "add", "--all")


def pre_commit(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    completed = subprocess.run(
        [str(PRE_COMMIT), *args, "--color", "never"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
    )
    return completed.returncode, completed.stdout.splitlines()


def _status(lines: list[str]) -> str:
    """`Passed` or `Failed`, from pre-commit's `asyncsafe-lint......Failed` line."""
    [status] = [line for line in lines if line.startswith("asyncsafe-lint.")]
    return status.rstrip(".").rsplit(".", 1)[-1]


def test_try_repo_fails_on_a_hazard(tmp_path, env, hook_repo):
    target = project(tmp_path / "target", env, {"hazard.py": HAZARD})

    code, lines = pre_commit(target, env, "try-repo", str(hook_repo), "asyncsafe-lint", "--all-files")
    output = "\n".join(lines)
    assert (code, _status(lines)) == (1, "Failed"), output
    assert "- exit code: 1" in lines, output
    assert FINDING in lines, output
    assert "Found 1 error." in lines, output
    assert "[*] 1 fixable with the `--fix` option." in lines, output
    # That the hook passes once the hazard is fixed is test_configured_hook_respects_the_projects_exclude's
    # second half: a second try-repo would install the hook's environment again (~10 s).


def test_configured_hook_respects_the_projects_exclude(tmp_path, env, hook_repo):
    # pre-commit names every file on the command line, so the hook needs --force-exclude.
    rev = git(hook_repo, env, "rev-parse", "HEAD")
    config = f"repos:\n-   repo: {hook_repo}\n    rev: {rev}\n    hooks:\n    -   id: asyncsafe-lint\n"
    target = project(
        tmp_path / "target",
        env,
        {
            ".pre-commit-config.yaml": config,
            "pyproject.toml": '[tool.asyncsafe]\nexclude = ["generated"]\n',
            "hazard.py": HAZARD,
            "generated/client.py": HAZARD,
            "notes.txt": "time.sleep(1)\n",
        },
    )

    code, lines = pre_commit(target, env, "run", "--all-files")
    output = "\n".join(lines)
    assert (code, _status(lines)) == (1, "Failed"), output
    assert [line for line in lines if "ASF" in line] == [FINDING], output

    write(target, env, {"hazard.py": CLEAN})
    code, lines = pre_commit(target, env, "run", "--all-files")
    assert (code, _status(lines)) == (0, "Passed"), "\n".join(lines)
