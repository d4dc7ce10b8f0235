"""pyproject.toml declares every package the code imports, and nothing that nothing uses:
the package's own imports in `dependencies` (or, where the import is optional, in an
extra), everything else the repository imports in the `dev` group."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]

#: Dev packages no Python file imports, and why they are there.
DEV_TOOLS = {
    "flake8": "bench/lint_speed.py runs it beside asyncsafe-lint",
    "flake8-async": "bench/lint_speed.py runs it beside asyncsafe-lint",
    "gunicorn": "the tests serve with `asyncsafe_server = gunicorn` (the `gunicorn` extra)",
    "httptools": "the tests serve with `--asyncsafe-http httptools`",
    "mypy": "`make test` type-checks src/ with it (strict)",
    "plotly": "the tests write HTML reports, which need the `report` extra",
    "pre-commit": "tests/lint/test_pre_commit.py runs the hook through it",
    "pytest-xdist": "the tests run pytest with `-n`",
    "ruff": "bench/lint_speed.py runs it beside asyncsafe-lint",
    "uv": "the Makefile installs everything else with it",
}


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement (PEP 503)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def _names(requirements: Iterable[str]) -> set[str]:
    return {_name(requirement) for requirement in requirements}


def _guarded(tree: ast.Module) -> set[int]:
    """The ids of the import statements in a `try` that catches ImportError."""
    return {
        id(statement)
        for node in ast.walk(tree)
        if isinstance(node, ast.Try)
        and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError") for h in node.handlers
        )
        for statement in ast.walk(ast.Module(body=node.body, type_ignores=[]))
        if isinstance(statement, (ast.Import, ast.ImportFrom))
    }


def _imports(directory: Path) -> Iterator[tuple[str, bool]]:
    """(top-level module, whether the import is optional) for every absolute import of
    a third-party module under `directory`."""
    for path in sorted(directory.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        optional = _guarded(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                if top not in sys.stdlib_module_names and not _first_party(top, path):
                    yield top, id(node) in optional


def _first_party(module: str, importer: Path) -> bool:
    return any(
        (place / module).is_dir() or (place / f"{module}.py").is_file()
        for place in (ROOT, ROOT / "src", importer.parent)
    )


def _distributions(modules: Iterable[str]) -> set[str]:
    installed = packages_distributions()
    missing = sorted(module for module in modules if module not in installed)
    assert missing == [], f"imported but not installed by `make test`: {missing}"
    return {_name(distribution) for module in modules for distribution in installed[module]}


def test_the_package_declares_what_it_imports_and_nothing_else():
    imports = list(_imports(ROOT / "src"))
    required = _distributions({module for module, optional in imports if not optional})
    optional = _distributions({module for module, optional in imports if optional})
    extras = set().union(*(_names(packages) for packages in PROJECT["optional-dependencies"].values()))
    assert required == _names(PROJECT["dependencies"])
    assert optional == extras


def test_everything_else_the_repository_imports_is_in_the_dev_group():
    imports = {
        module for directory in ("tests", "bench", "demo", "fixtures_app") for module, _ in _imports(ROOT / directory)
    }
    used = _distributions(imports)
    declared = _names(PROJECT["dependencies"]) | set().union(*map(_names, PROJECT["optional-dependencies"].values()))
    dev = _names(PYPROJECT["dependency-groups"]["dev"])
    assert sorted(used - declared - dev) == []
    assert sorted(dev - used) == sorted(DEV_TOOLS)
