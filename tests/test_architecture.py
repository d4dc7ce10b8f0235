"""The shape of src/: no module imports, however indirectly, one that imports it back.
Every import counts: at the top, inside a function (a lazy import that dodges a cycle
is still one) and under `TYPE_CHECKING`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of `known` that `module` imports: for `from package import name`,
    the submodule `name` when there is one, else the package."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            subs = [f"{base}.{alias.name}" for alias in node.names]
            names = [sub for sub in subs if sub in known] + ([base] if any(sub not in known for sub in subs) else [])
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_src_imports_one_that_imports_it_back() -> None:
    known = modules(SRC)
    graph = {module: imported(module, path, known) for module, path in known.items()}
    assert cycles(graph) == []


def test_the_check_sees_a_cycle_through_a_lazy_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from . import c\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    (package / "d.py").write_text("from pkg import c\n")
    known = modules(tmp_path)
    graph = {module: imported(module, path, known) for module, path in known.items()}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


#: The linter's core: it knows the rule registry, not individual rules.
CORE = ("engine", "checker", "callgraph", "facts", "exports")


@pytest.mark.parametrize("module", CORE)
def test_the_linter_core_names_no_rule(module: str) -> None:
    path = SRC / "asyncsafe_lint" / f"{module}.py"
    known = modules(SRC)
    named = sorted(target for target in imported(f"asyncsafe_lint.{module}", path, known) if ".rules." in target)
    assert named == []
    assert re.findall(r"ASF\d{3}|ASF\dxx", path.read_text(encoding="utf-8")) == []
