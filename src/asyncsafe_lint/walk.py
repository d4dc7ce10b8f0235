"""A faster `node.visit(visitor)` for visitors that only read the tree.

libcst's own traversal rebuilds every node it leaves (it serves transformers too) and
looks each hook up by name, twice per field of every node: most of a check's time.
`walk` calls the same hooks of a `CSTVisitor` (`visit_X`, `leave_X`, `visit_X_field`,
`leave_X_field`), in the same order, with `visit_X` returning False skipping the
children as in libcst, and builds nothing.  It skips what cannot matter: the empty
hooks `CSTVisitor` defines for every type, and, for a visitor with no hook for them,
the nodes that only hold whitespace, comments and punctuation (most of a tree).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

from libcst import MaybeSentinel

from asyncsafe_lint.deferred import cst

Hook = Callable[[cst.CSTVisitor, cst.CSTNode], object]


class _Plan(NamedTuple):
    """What to do at a node of one type, for one class of visitor."""

    visit: Hook | None
    leave: Hook | None
    #: (field, visit_X_field, leave_X_field) in the order libcst visits the fields.
    fields: tuple[tuple[str, Hook | None, Hook | None], ...]


def walk(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """Calls `visitor`'s hooks on `node` and everything under it, as `node.visit(visitor)`
    would (except that the field hooks of an f-string's absent format spec are called)."""
    plans = _PLANS.setdefault(type(visitor), {})
    skip = _skipped(type(visitor))
    default = MaybeSentinel.DEFAULT

    def visit(node: cst.CSTNode) -> None:
        kind = type(node)
        steps = plans.get(kind) or _plan(plans, type(visitor), kind)
        if steps.visit is None or steps.visit(visitor, node) is not False:
            for field, enter, leave in steps.fields:
                if enter is not None:
                    enter(visitor, node)
                value = getattr(node, field)
                # Plain type checks: libcst's node classes are ABCs, slow in `isinstance`.
                if type(value) is tuple or type(value) is list:
                    for child in value:
                        if type(child) not in skip:
                            visit(child)
                elif value is not None and value is not default and type(value) not in skip:
                    visit(value)
                if leave is not None:
                    leave(visitor, node)
        if steps.leave is not None:
            steps.leave(visitor, node)

    try:
        visit(node)
    finally:
        # `visit` refers to itself: left alone, that cycle would keep the visitor (and
        # through its findings, the whole tree) alive until the garbage collector runs.
        del visit


_PLANS: dict[type[cst.CSTVisitor], dict[type[cst.CSTNode], _Plan]] = {}


def _plan(plans: dict[type[cst.CSTNode], _Plan], visitor: type[cst.CSTVisitor], kind: type[cst.CSTNode]) -> _Plan:
    name = kind.__name__
    fields = tuple(
        (field, _hook(visitor, f"visit_{name}_{field}"), _hook(visitor, f"leave_{name}_{field}"))
        for field in _fields(kind)
    )
    plans[kind] = _Plan(_hook(visitor, f"visit_{name}"), _hook(visitor, f"leave_{name}"), fields)
    return plans[kind]


def _hook(visitor: type[cst.CSTVisitor], name: str) -> Hook | None:
    """The visitor's own hook `name`; None for the empty one every `CSTVisitor` has."""
    hook = getattr(visitor, name, None)
    return None if hook is getattr(cst.CSTVisitor, name, None) else hook


def _subclasses(kind: type) -> list[type]:
    return [kind, *(sub for direct in kind.__subclasses__() for sub in _subclasses(direct))]


#: Nodes that hold only whitespace, comments and punctuation, never code.
_TRIVIA = frozenset({
    cst.TrailingWhitespace, cst.EmptyLine, cst.Newline, cst.Comment, cst.Comma, cst.Dot, cst.Colon,
    cst.Semicolon, cst.AssignEqual, cst.LeftParen, cst.RightParen, cst.LeftSquareBracket,
    cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace, cst.Asynchronous, cst.ImportStar,
    *(sub for base in (cst.BaseParenthesizableWhitespace, cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp,
                       cst.BaseUnaryOp, cst.BaseAugOp) for sub in _subclasses(base)),
})  # fmt: skip


@functools.cache  # once per class of visitor: `dir` and a lookup per hook cost a quarter of all walks
def _skipped(visitor: type[cst.CSTVisitor]) -> frozenset[type[cst.CSTNode]]:
    """The trivia, unless the visitor has a hook for a kind of it (or for its fields)."""
    hooked = {
        name.split("_")[1]
        for name in dir(visitor)
        if name.startswith(("visit_", "leave_")) and _hook(visitor, name) is not None
    }
    return _TRIVIA if hooked.isdisjoint(kind.__name__ for kind in _TRIVIA) else frozenset()


_FIELDS: dict[type[cst.CSTNode], tuple[str, ...]] = {}


def _fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    """The fields libcst visits in a node of type `kind`, in its order: the order in
    which its `_visit_and_replace_children` names them (`visit_required(self, "body",
    ...)`), which is the order they appear in the source."""
    if kind not in _FIELDS:
        code = kind._visit_and_replace_children.__code__
        names = {field for field in getattr(kind, "__dataclass_fields__", ())}
        ordered = dict.fromkeys(const for const in code.co_consts if isinstance(const, str) and const in names)
        _FIELDS[kind] = tuple(ordered)
    return _FIELDS[kind]
