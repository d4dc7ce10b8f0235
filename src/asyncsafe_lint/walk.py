"""A faster `node.visit(visitor)` for visitors that only read the tree.

libcst's own traversal rebuilds every node it leaves (it serves transformers too) and
looks each hook up by name, twice per field of every node: most of a check's time.
`walk` calls the same hooks of a `CSTVisitor` (`visit_X`, `leave_X`, `visit_X_field`,
`leave_X_field`), in the same order, with `visit_X` returning False skipping the
children as in libcst, and builds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import libcst as cst
from libcst import MaybeSentinel

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
                        visit(child)
                elif value is not None and value is not default:
                    visit(value)
                if leave is not None:
                    leave(visitor, node)
        if steps.leave is not None:
            steps.leave(visitor, node)

    visit(node)


_PLANS: dict[type[cst.CSTVisitor], dict[type[cst.CSTNode], _Plan]] = {}


def _plan(plans: dict[type[cst.CSTNode], _Plan], visitor: type[cst.CSTVisitor], kind: type[cst.CSTNode]) -> _Plan:
    name = kind.__name__
    fields = tuple(
        (field, getattr(visitor, f"visit_{name}_{field}", None), getattr(visitor, f"leave_{name}_{field}", None))
        for field in _fields(kind)
    )
    plans[kind] = _Plan(getattr(visitor, f"visit_{name}", None), getattr(visitor, f"leave_{name}", None), fields)
    return plans[kind]


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
