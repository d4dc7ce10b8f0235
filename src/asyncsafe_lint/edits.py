"""Fixes as rules build them: edits placed by syntax nodes.

A rule knows nodes, not rows and columns; the engine knows where each node is once the
walk is over and turns a `NodeFix` into a `diagnostics.Fix`.  `Place(node, line=True)`
addresses whole lines, so that a rule can add or remove statements without knowing how
the lines around them are indented or commented.
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncsafe_lint.deferred import cst
from asyncsafe_lint.diagnostics import Applicability


@dataclass(frozen=True, slots=True)
class Place:
    """Where `node` starts (or, with `end`, ends).  With `line`, the start of the line
    the node starts on (or of the line after the one it ends on)."""

    node: cst.CSTNode
    end: bool = False
    line: bool = False


@dataclass(frozen=True, slots=True)
class NodeEdit:
    start: Place
    end: Place
    content: str
    #: Indent every line of `content` to the column this node starts at.
    align: cst.CSTNode | None = None


@dataclass(frozen=True, slots=True)
class NodeFix:
    message: str
    edits: tuple[NodeEdit, ...]
    applicability: Applicability


def replace(node: cst.CSTNode, content: str) -> NodeEdit:
    return NodeEdit(Place(node), Place(node, end=True), content)


def insert_after(node: cst.CSTNode, content: str) -> NodeEdit:
    return NodeEdit(Place(node, end=True), Place(node, end=True), content)


def delete(start: cst.CSTNode, end: cst.CSTNode) -> NodeEdit:
    """Remove the text from where `start` begins to where `end` begins."""
    return NodeEdit(Place(start), Place(end), "")


def insert_lines_before(node: cst.CSTNode, content: str) -> NodeEdit:
    """Add whole lines (`content` ends with a newline) above the line `node` starts on."""
    return NodeEdit(Place(node, line=True), Place(node, line=True), content)


def insert_lines_after(node: cst.CSTNode, content: str, align: cst.CSTNode | None = None) -> NodeEdit:
    """Add whole lines below the line `node` ends on."""
    return NodeEdit(Place(node, end=True, line=True), Place(node, end=True, line=True), content, align)


def replace_lines(node: cst.CSTNode, content: str, align: cst.CSTNode | None = None) -> NodeEdit:
    """Replace every line `node` is on (with their comments) by `content`."""
    return NodeEdit(Place(node, line=True), Place(node, end=True, line=True), content, align)


def add_argument(call: cst.Call, argument: str) -> NodeEdit | None:
    """An edit that passes `argument` (`timeout=10`) last, in the call's layout: on a line
    of its own when the arguments are one per line.  None when the call has comments
    where the argument would go."""
    if not call.args:
        if not isinstance(call.whitespace_before_args, cst.SimpleWhitespace):
            return None
        return replace(call, f"{cst.Module(body=[]).code_for_node(call.func)}({argument})")
    last = call.args[-1]
    if isinstance(last.comma, cst.Comma) and _starts_line(call, len(call.args) - 1) and _ends_line(last):
        return insert_lines_after(last.comma, f"{argument},\n", align=last)
    return insert_after(last.value, f", {argument}")


def remove_argument(call: cst.Call, arg: cst.Arg) -> NodeEdit:
    """An edit that removes `arg` from `call` (not its first argument), with its comma;
    a comment on its line stays, on a line of its own."""
    index = next(i for i, candidate in enumerate(call.args) if candidate is arg)
    if _starts_line(call, index) and _ends_line(arg):
        after = arg.comma.whitespace_after if isinstance(arg.comma, cst.Comma) else arg.whitespace_after_arg
        comment = after.first_line.comment if isinstance(after, cst.ParenthesizedWhitespace) else None
        return replace_lines(arg, "" if comment is None else f"{comment.value}\n", align=arg)
    if index + 1 < len(call.args):
        return delete(arg, call.args[index + 1])
    return NodeEdit(Place(call.args[index - 1].value, end=True), Place(arg, end=True), "")


def _starts_line(call: cst.Call, index: int) -> bool:
    before = call.args[index - 1].comma.whitespace_after if index else call.whitespace_before_args
    return isinstance(before, cst.ParenthesizedWhitespace)


def _ends_line(arg: cst.Arg) -> bool:
    after = arg.comma.whitespace_after if isinstance(arg.comma, cst.Comma) else arg.whitespace_after_arg
    return isinstance(after, cst.ParenthesizedWhitespace)
