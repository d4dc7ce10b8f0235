"""`walk` calls a visitor's hooks exactly as libcst's `node.visit` does.

Two recording visitors, run both ways over real code (fixtures_app and the linter's own
source): one with every hook of every node type, and one with hooks for code only,
which lets `walk` skip whitespace and punctuation.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import libcst as cst
import pytest

from asyncsafe_lint.walk import _TRIVIA, walk

REPO = Path(__file__).resolve().parents[2]
FILES = sorted([*(REPO / "fixtures_app").rglob("*.py"), *(REPO / "src" / "asyncsafe_lint").rglob("*.py")])
KINDS = [kind for kind in vars(cst).values() if inspect.isclass(kind) and issubclass(kind, cst.CSTNode)
         and not inspect.isabstract(kind)]  # fmt: skip
Event = tuple[str, str, object]


def recorder(kinds: list[type[cst.CSTNode]]) -> tuple[cst.CSTVisitor, list[Event]]:
    """A visitor with every hook of `kinds`, each logging its call."""
    log: list[Event] = []

    def hook(event: str, name: str, field: str | None = None) -> object:
        def record(self: cst.CSTVisitor, node: cst.CSTNode) -> None:
            log.append((event, name, field if field is not None else id(node)))

        return record

    hooks = {}
    for kind in kinds:
        name = kind.__name__
        hooks[f"visit_{name}"], hooks[f"leave_{name}"] = hook("visit", name), hook("leave", name)
        for field in dataclasses.fields(kind):
            hooks[f"visit_{name}_{field.name}"] = hook("visit field", name, field.name)
            hooks[f"leave_{name}_{field.name}"] = hook("leave field", name, field.name)
    return type("Recorder", (cst.CSTVisitor,), hooks)(), log


def both_ways(path: Path, kinds: list[type[cst.CSTNode]]) -> tuple[list[Event], list[Event]]:
    module = cst.parse_module(path.read_bytes())
    libcst_visitor, libcst_log = recorder(kinds)
    module.visit(libcst_visitor)
    our_visitor, our_log = recorder(kinds)
    walk(module, our_visitor)
    # libcst calls no field hooks for an f-string's absent format spec; `walk` does.
    return [e for e in libcst_log if e[2] != "format_spec"], [e for e in our_log if e[2] != "format_spec"]


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(REPO)))
def test_every_hook_is_called_as_libcst_calls_it(path: Path) -> None:
    theirs, ours = both_ways(path, KINDS)
    assert ours == theirs
    assert ours[0] == ("visit", "Module", ours[0][2])


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(REPO)))
def test_a_visitor_of_code_only_sees_the_same_calls(path: Path) -> None:
    theirs, ours = both_ways(path, [kind for kind in KINDS if kind not in _TRIVIA])
    assert ours == theirs
    assert ours[0] == ("visit", "Module", ours[0][2])


def test_returning_false_skips_the_children_but_not_the_leave_hook() -> None:
    class Outer(cst.CSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            self.seen.append(f"visit {node.name.value}")
            return node.name.value != "skipped"

        def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
            self.seen.append(f"leave {node.name.value}")

        def visit_Call(self, node: cst.Call) -> None:
            self.seen.append("call")

    module = cst.parse_module("def skipped():\n    f()\n\ndef kept():\n    g()\n")
    ours, theirs = Outer(), Outer()
    walk(module, ours)
    module.visit(theirs)
    assert ours.seen == theirs.seen == ["visit skipped", "leave skipped", "visit kept", "call", "leave kept"]
