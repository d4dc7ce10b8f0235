"""pytest-asyncsafe as users install it: the wheel, built from this tree, installed with its
dependencies from the package index into a fresh virtualenv outside the repository, and
used by a service of its own in an empty directory, following the README's quickstart
word by word.

Two substitutions, each what the user gets from the index and from GitHub instead:
`pip install pytest-asyncsafe` installs the built wheel, and the pre-commit
configuration's `repo:` and `rev:` name a git repository holding this tree's hook (as
tests/lint/test_pre_commit.py builds it) and its commit.  Nothing else of the repository
is reachable from the run: the commands run in the service's directory, with no
PYTHONPATH, and with this repository's virtualenvs off the PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lint.test_pre_commit import git, hook_repo  # noqa: F401 (a fixture)

# `machine`: the quickstart's verdicts are a stall threshold and a latency budget.
pytestmark = [pytest.mark.slow, pytest.mark.machine]

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")
START = "<!-- quickstart: tests/test_installed.py follows it word by word in an empty directory -->"
END = "<!-- end quickstart -->"
TIMEOUT = 600
FINDING = (
    "myservice/main.py:17:5: ASF101 [*] Blocking call `time.sleep()` in async route GET /slow: "
    "use `await asyncio.sleep()` (or `await anyio.sleep()`)"
)


@dataclass(frozen=True)
class Step:
    command: str
    #: The lines the README shows after the command: each must be in what it printed.
    shown: list[str]


def quickstart() -> tuple[dict[str, str], list[Step]]:
    """The files the README's quickstart writes, and the commands it runs, in order."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(START) : readme.index(END)]
    files: dict[str, str] = {}
    steps: list[Step] = []
    for language, title, body in re.findall(r'^```(\w+)(?: title="([^"]+)")?\n(.*?)^```$', section, re.M | re.S):
        if title:
            files[title] = body
        elif language == "console":
            for chunk in re.split(r"^\$ ", body, flags=re.M)[1:]:
                command, *shown = chunk.rstrip("\n").split("\n")
                steps.append(Step(command, shown))
    return files, steps


def normal(line: str) -> str:
    """A line with what differs from run to run (durations, pids) written the same way."""
    line = re.sub(r"\d+ ms", "N ms", line)
    line = re.sub(r"pid \d+", "pid N", line)
    return re.sub(r"in \d+\.\d+s", "in Ns", line)


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> dict[str, str]:
    for tool in ("git",):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    repository = str(ROOT)
    path = [entry for entry in os.environ["PATH"].split(os.pathsep) if not entry.startswith(repository)]
    keep = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GIT_", "PRE_COMMIT", "PYTHON", "VIRTUAL_ENV", "UV_", "PYTEST", "ASYNCSAFE"))
    }
    venv = tmp_path_factory.mktemp("venv") / "venv"
    # A virtualenv with pip in it, as `python -m venv` makes one, from the Python that runs the suite.
    subprocess.run(
        [str(UV), "venv", "--quiet", "--seed", "--python", sys.executable, str(venv)],
        check=True,
        timeout=TIMEOUT,
        env=keep | {"UV_PYTHON_DOWNLOADS": "never"},
    )
    return keep | {
        "PATH": os.pathsep.join([str(venv / "bin"), *path]),
        "VIRTUAL_ENV": str(venv),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")),
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }


@pytest.fixture(scope="module")
def env(environment) -> dict[str, str]:
    """What tests/lint/test_pre_commit.py's `hook_repo` builds its repository with."""
    return environment


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [str(UV), "build", "--quiet", "--wheel", "--out-dir", str(out)],
        cwd=ROOT,
        check=True,
        timeout=TIMEOUT,
        env={key: value for key, value in os.environ.items() if key != "UV_PROJECT_ENVIRONMENT"},
    )
    [built] = out.glob("pytest_asyncsafe-*.whl")
    return built


@dataclass(frozen=True)
class Ran:
    step: Step
    status: int
    lines: list[str]


@pytest.fixture(scope="module")
def service(tmp_path_factory, environment, wheel, hook_repo) -> tuple[Path, list[Ran]]:  # noqa: F811
    """The quickstart, followed in an empty directory made a git repository."""
    directory = tmp_path_factory.mktemp("service")
    git(directory, environment, "init", "--quiet")
    files, steps = quickstart()
    rev = git(hook_repo, environment, "rev-parse", "HEAD")
    for name, text in files.items():
        if name == ".pre-commit-config.yaml":
            text = text.replace("https://github.com/asyncsafe/asyncsafe", str(hook_repo))
            text = re.sub(r"rev: v\S+", f"rev: {rev}", text)
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    ran = []
    for step in steps:
        command = step.command.replace("pip install pytest-asyncsafe", f"pip install {wheel}")
        completed = subprocess.run(
            ["bash", "-c", command],
            cwd=directory,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT,
        )
        ran.append(Ran(step, completed.returncode, completed.stdout.splitlines()))
    return directory, ran


def test_the_quickstart_has_its_steps():
    files, steps = quickstart()
    assert sorted(files) == [
        ".pre-commit-config.yaml",
        "myservice/__init__.py",
        "myservice/main.py",
        "pyproject.toml",
        "tests/test_service.py",
    ]
    assert [step.command for step in steps] == [
        "pip install pytest-asyncsafe fastapi",
        "pytest --asyncsafe",
        "pip install pre-commit && git add -A && pre-commit run --all-files",
    ]


def test_the_quickstart_works_word_by_word(service):
    _, ran = service
    install, pytest_run, hook = ran
    assert install.status == 0, "\n".join(install.lines)
    # The stall and the finding fail; the budget is met; the drain is clean.
    for each in (pytest_run, hook):
        output = "\n".join(each.lines)
        assert each.status == 1, output
        actual = [normal(line) for line in each.lines]
        for shown in each.step.shown:
            assert any(normal(shown) in line for line in actual), f"{shown!r} not in:\n{output}"
    [row] = [line for line in pytest_run.lines if line.startswith("tests/test_service.py::test_fast_under_load  GET")]
    assert row.endswith("  pass"), row
    assert FINDING in hook.lines


def test_nothing_of_the_repository_leaks(service, environment):
    directory, _ = service
    venv = Path(environment["VIRTUAL_ENV"])
    where = subprocess.run(
        [
            "python",
            "-c",
            "import asyncsafe_lint, pytest_asyncsafe, importlib.util, sys; "
            "print(asyncsafe_lint.__file__); print(pytest_asyncsafe.__file__); "
            "print(importlib.util.find_spec('fixtures_app')); print(ROOT in ''.join(sys.path))".replace(
                "ROOT", repr(str(ROOT))
            ),
        ],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    [site] = venv.glob("lib/python*/site-packages")
    assert where == [
        str(site / "asyncsafe_lint" / "__init__.py"),
        str(site / "pytest_asyncsafe" / "__init__.py"),
        "None",
        "False",
    ]
    # No editable install: no .pth file of the virtualenv points anywhere into the repository.
    assert not [pth for pth in site.glob("*.pth") if str(ROOT) in pth.read_text()]
    check = subprocess.run(
        ["asyncsafe-lint", "check", "--no-cache"],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (check.returncode, check.stdout.splitlines()) == (
        1,
        [FINDING, "Found 1 error.", "[*] 1 fixable with the `--fix` option."],
    ), check.stderr


def test_the_hook_through_pre_commit_try_repo(service, environment, hook_repo):  # noqa: F811
    # What a user runs to try the hook before adding it to .pre-commit-config.yaml.
    directory, _ = service
    tried = subprocess.run(
        ["pre-commit", "try-repo", str(hook_repo), "asyncsafe-lint", "--all-files", "--color", "never"],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert tried.returncode == 1, tried.stdout + tried.stderr
    assert "- hook id: asyncsafe-lint" in tried.stdout.splitlines()
    assert FINDING in tried.stdout.splitlines()
