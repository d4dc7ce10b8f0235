"""The fix engine: carries out a file's `changes` as one libcst transformation.

libcst keeps what `ast` drops - comments, blank lines, the author's line breaks and
trailing commas - so a node the fix does not touch is written back byte for byte, and
a node it rewrites keeps the comments inside it.  Each change names its node by the
span `ast` gave it (`changes.Span`); here that is the innermost node of the right kind
whose range holds the span (libcst's range of a node takes in its parentheses, `ast`'s
does not).

Imported by fixing only (see `fix`): a check, cached or not, never loads libcst.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Sequence
from pathlib import Path

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, ParentNodeProvider, PositionProvider

from asyncsafe_lint.diagnostics import Action, Change, Diagnostic, Edit, Fix, Location, Span
from asyncsafe_lint.source import encoding_of, lines_with_ends


class NotRewritten(ValueError):
    """The changes could not be made: libcst cannot read the file, or a change names a
    node the file does not have."""


def transform(text: str, changes: Sequence[Change]) -> str:
    """`text` with `changes` made; each change is made once, however many ask for it."""
    unique = list(dict.fromkeys(changes))
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        raise NotRewritten(f"libcst cannot read the file: {error.message}") from None
    if text.endswith("\r"):
        # libcst takes the last `\r` of a file whose lines end in `\r` alone for no line break.
        module = module.with_changes(has_trailing_newline=True)
    if module.code != text:
        # libcst loses an indented comment followed by a line of blanks (`x\n #c\n \n`):
        # a file it would not write back as it read is left alone.
        raise NotRewritten("libcst does not write the file back as it reads it")
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    targets = _Targets(wrapper.resolve(PositionProvider), unique)
    wrapper.visit(targets)
    if targets.missing:
        missing = targets.missing[0]
        assert missing.span is not None
        start, end = missing.span.start, missing.span.end
        raise NotRewritten(f"no node at {start.row}:{start.column}-{end.row}:{end.column} for {missing.action}")
    module = wrapper.visit(_Rewrite(targets.found, wrapper.resolve(ParentNodeProvider)))
    imports = [change.code for change in unique if change.action is Action.ADD_IMPORT]
    return (_with_imports(module, imports) if imports else module).code


# --- the edits a fix makes ------------------------------------------------------------


def edits(text: str, fix: Fix) -> tuple[Edit, ...]:
    """The edits that `fix` alone makes to `text`, each as small as the change (as
    `--output-format json` shows them)."""
    before, after = lines_with_ends(text), lines_with_ends(transform(text, list(fix.changes)))
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    return tuple(
        _edit(first + 1, "".join(before[first:last]), "".join(after[start:end]))
        for tag, first, last, start, end in matcher.get_opcodes()
        if tag != "equal"
    )


def _edit(row: int, old: str, new: str) -> Edit:
    """The edit that turns `old`, the lines from `row` on, into `new`, without what the
    two start and end with alike."""
    prefix = len(os.path.commonprefix([old, new]))
    suffix = len(os.path.commonprefix([old[prefix:][::-1], new[prefix:][::-1]]))
    return Edit(_moved(row, old[:prefix]), _moved(row, old[: len(old) - suffix]), new[prefix : len(new) - suffix])


def _moved(row: int, text: str) -> Location:
    """Where `text`, read from the start of line `row`, ends."""
    lines = lines_with_ends(text)
    if not lines or lines[-1].endswith(("\n", "\r")):
        return Location(row + len(lines), 1)
    return Location(row + len(lines) - 1, len(lines[-1]) + 1)


def fix_edits(diagnostic: Diagnostic) -> tuple[Edit, ...]:
    """The edits of a finding's fix, to its file as it stands."""
    assert diagnostic.fix is not None
    return edits(_text_of(diagnostic.filename), diagnostic.fix)


@functools.lru_cache(maxsize=16)
def _text_of(filename: str) -> str:
    source = Path(filename).read_bytes()
    return source.decode(encoding_of(source))


# --- finding the nodes -------------------------------------------------------------------

#: The kind of node each action rewrites.
_KINDS: dict[Action, type] = {
    Action.REPLACE_EXPRESSION: cst.BaseExpression,
    Action.AWAIT_INSTEAD: cst.Call,
    Action.HAND_OFF: cst.Call,
    Action.ADD_ARGUMENT: cst.Call,
    Action.REMOVE_ARGUMENT: cst.Call,
    Action.REPLACE_ARGUMENT: cst.Call,
    Action.REMOVE_STATEMENT: cst.BaseStatement,
    Action.REMOVE_DECORATOR: cst.Decorator,
    Action.INSERT_BEFORE: cst.BaseStatement,
    Action.MAKE_SYNC: cst.FunctionDef,
}


def _span(code_range: CodeRange) -> Span:
    return Span(
        Location(code_range.start.line, code_range.start.column + 1),
        Location(code_range.end.line, code_range.end.column + 1),
    )


def _holds(outer: Span, inner: Span) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


class _Targets(cst.CSTVisitor):
    """The node each change names: the innermost of its kind that holds its span."""

    def __init__(self, positions: object, changes: Sequence[Change]) -> None:
        self._positions = positions
        self._wanted = [(change, change.span, _KINDS[change.action]) for change in changes if change.span is not None]
        self._best: dict[Change, tuple[cst.CSTNode, Span]] = {}

    def on_visit(self, node: cst.CSTNode) -> bool:
        span: Span | None = None
        for change, wanted, kind in self._wanted:
            if not isinstance(node, kind):
                continue
            span = span or _span(self._positions[node])  # type: ignore[index]
            if _holds(span, wanted):
                best = self._best.get(change)
                # Visited outermost first: a later node that holds the span is inside the earlier one.
                if best is None or _holds(best[1], span):
                    self._best[change] = (node, span)
        return True

    @property
    def found(self) -> dict[cst.CSTNode, list[Change]]:
        nodes: dict[cst.CSTNode, list[Change]] = {}
        for change, (node, _) in self._best.items():
            nodes.setdefault(node, []).append(change)
        return nodes

    @property
    def missing(self) -> list[Change]:
        return [change for change, _, _ in self._wanted if change not in self._best]


# --- rewriting ---------------------------------------------------------------------------


class _Rewrite(cst.CSTTransformer):
    def __init__(self, found: dict[cst.CSTNode, list[Change]], parents: object) -> None:
        super().__init__()
        self._found = found
        self._parents = parents

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode) -> cst.CSTNode:  # type: ignore[override]
        node: cst.CSTNode = super().on_leave(original, updated)  # type: ignore[assignment]
        # Arguments go before others are renamed: the keyword a change names is one the
        # call is written with (`on_startup=` becomes `lifespan=` as `lifespan=None` goes).
        changes = self._found.get(original, [])
        for change in sorted(changes, key=lambda change: change.action is not Action.REMOVE_ARGUMENT):
            node = self._apply(change, original, node)
        # Statements and decorators go, and come, in the node that holds them, where the
        # lines of what goes can be handed to what follows.
        if isinstance(node, (cst.Module, cst.IndentedBlock)):
            node = self._restructure(original, node)
        if isinstance(original, cst.FunctionDef) and isinstance(node, cst.FunctionDef):
            removed = [
                index
                for index, decorator in enumerate(original.decorators)
                if any(change.action is Action.REMOVE_DECORATOR for change in self._found.get(decorator, ()))
            ]
            if removed:
                node = _without_decorators(node, removed)
        return node

    def _apply(self, change: Change, original: cst.CSTNode, node: cst.CSTNode) -> cst.CSTNode:
        action = change.action
        if action is Action.REPLACE_EXPRESSION:
            assert isinstance(node, cst.BaseExpression)
            return cst.parse_expression(change.code).with_changes(lpar=node.lpar, rpar=node.rpar)
        if action is Action.MAKE_SYNC:
            assert isinstance(node, cst.FunctionDef)
            return node.with_changes(asynchronous=None)
        if not isinstance(node, cst.Call):
            return node  # statements and decorators: made by the node that holds them
        if action is Action.AWAIT_INSTEAD:
            return self._awaited(original, node.with_changes(func=cst.parse_expression(change.code)))
        if action is Action.HAND_OFF:
            return self._awaited(original, _handed_off(node, change.code, change.detail or None))
        if action is Action.ADD_ARGUMENT:
            return node.with_changes(args=_added(node, _argument(change.code)))
        if action is Action.REMOVE_ARGUMENT:
            return node.with_changes(args=_removed(node.args, change.detail))
        assert action is Action.REPLACE_ARGUMENT
        new = _argument(change.code)
        args = [
            arg.with_changes(keyword=new.keyword, equal=new.equal, value=new.value)
            if _is_keyword(arg, change.detail)
            else arg
            for arg in node.args
        ]
        return node.with_changes(args=args)

    def _awaited(self, original: cst.CSTNode, call: cst.Call) -> cst.BaseExpression:
        """`await call`, in the parentheses `call` was written in."""
        awaited = cst.Await(expression=call.with_changes(lpar=[], rpar=[]), lpar=call.lpar, rpar=call.rpar)
        parent = self._parents[original]  # type: ignore[index]
        # `await` binds less tightly than what follows a primary, `(await f()).json()`,
        # and takes a primary only: `await (await f())`.
        primary = (
            (isinstance(parent, cst.Attribute) and parent.value is original)
            or (isinstance(parent, cst.Subscript) and parent.value is original)
            or (isinstance(parent, cst.Call) and parent.func is original)
            or (isinstance(parent, cst.Await) and parent.expression is original)
        )
        if primary and not call.lpar:
            return awaited.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return awaited

    def _restructure(self, original: cst.CSTNode, node: cst.Module | cst.IndentedBlock) -> cst.CSTNode:
        """Remove the statements to remove, insert what goes above others."""
        assert isinstance(original, (cst.Module, cst.IndentedBlock))
        body: list[cst.BaseStatement] = []
        carried: list[cst.EmptyLine] = []
        removed = False
        for before, after in zip(original.body, node.body, strict=True):
            changes = self._found.get(before, ())
            removed = any(change.action is Action.REMOVE_STATEMENT for change in changes)
            if removed:
                carried += [*_leading_lines(after), *_comment_line(_trailing(after))]
                continue
            statement = after.with_changes(leading_lines=[*carried, *_leading_lines(after)]) if carried else after
            carried = []
            for change in changes:
                if change.action is Action.INSERT_BEFORE:
                    inserted, statement = _inserted_above(change.code, statement, first=not body)
                    body += inserted
            body.append(statement)
        if isinstance(node, cst.Module) and removed and not node.footer:
            # The file's last line went, whether or not it ended in a line break; the one
            # above it keeps its own.
            node = node.with_changes(has_trailing_newline=True)
        # The last statement went: its lines stay below the ones before it.
        return node.with_changes(body=body, footer=[*carried, *node.footer])


def _argument(code: str) -> cst.Arg:
    call = cst.parse_expression(f"f({code})")
    assert isinstance(call, cst.Call)
    return call.args[0]


def _handed_off(call: cst.Call, runner: str, partial: str | None) -> cst.Call:
    """`f(args)` as `runner(f, args)`, or `runner(partial(f, args))`, in the parentheses
    and the layout of the call: with its arguments one per line, `f` on a line of its own."""
    args = [_in_company(arg) for arg in call.args] if len(call.args) == 1 else list(call.args)
    function = cst.Arg(value=call.func)
    if args:
        before = call.whitespace_before_args
        after = (
            before.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
            if isinstance(before, cst.ParenthesizedWhitespace)
            else cst.SimpleWhitespace(" ")
        )
        function = function.with_changes(comma=cst.Comma(whitespace_after=after))
    bound = call.with_changes(args=[function, *args])
    if partial is None:
        return bound.with_changes(func=cst.parse_expression(runner))
    bound = bound.with_changes(func=cst.parse_expression(partial), lpar=[], rpar=[])
    return cst.Call(func=cst.parse_expression(runner), args=[cst.Arg(bound)], lpar=call.lpar, rpar=call.rpar)


def _in_company(arg: cst.Arg) -> cst.Arg:
    """`arg`, able to share its call's parentheses: `f(x for x in y)` needs parentheses of
    its own once the call has another argument."""
    if isinstance(arg.value, cst.GeneratorExp) and not arg.value.lpar:
        return arg.with_changes(value=arg.value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]))
    return arg


def _added(call: cst.Call, new: cst.Arg) -> list[cst.Arg]:
    """`call`'s arguments and then `new`, laid out as they are."""
    args = list(call.args)
    if not args:
        return [new]
    last = _in_company(args[-1]) if len(args) == 1 else args[-1]
    comma = last.comma
    if not isinstance(comma, cst.Comma):
        # The blanks (and a comment) before the closing parenthesis stay before it.
        spaced = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        return [
            *args[:-1],
            last.with_changes(comma=spaced, whitespace_after_arg=cst.SimpleWhitespace("")),
            new.with_changes(whitespace_after_arg=last.whitespace_after_arg),
        ]
    before = args[-2].comma.whitespace_after if len(args) > 1 else call.whitespace_before_args  # type: ignore[union-attr]
    after = comma.whitespace_after
    if isinstance(before, cst.ParenthesizedWhitespace) and isinstance(after, cst.ParenthesizedWhitespace):
        # One per line: the new one on a line of its own, as indented as the last; the
        # comment after the last stays on its line, the lines before the parenthesis after it.
        line = before.with_changes(first_line=after.first_line, empty_lines=[])
        closing = after.with_changes(first_line=cst.TrailingWhitespace())
        return [
            *args[:-1],
            last.with_changes(comma=comma.with_changes(whitespace_after=line)),
            new.with_changes(comma=comma.with_changes(whitespace_after=closing)),
        ]
    spaced = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    return [*args[:-1], last.with_changes(comma=spaced), new.with_changes(comma=comma)]


def _removed(args: Sequence[cst.Arg], keyword: str) -> list[cst.Arg]:
    """`args` without the keyword argument `keyword` and its comma.  Alone on its lines,
    its lines go and its comment stays on a line of its own; the last one leaves the
    argument before it its comma, or its absence (`f(a, b=1)` -> `f(a)`)."""
    index = next(i for i, arg in enumerate(args) if _is_keyword(arg, keyword))
    gone = args[index]
    kept = [*args[:index], *args[index + 1 :]]
    if not index:
        return kept  # with the blanks after its comma: `f(b=1, c)` -> `f(c)`
    previous = args[index - 1]
    comma = previous.comma
    assert isinstance(comma, cst.Comma)  # an argument follows it
    before, after = comma.whitespace_after, _after_argument(gone)
    if isinstance(before, cst.ParenthesizedWhitespace) and isinstance(after, cst.ParenthesizedWhitespace):
        comment = after.first_line.comment
        line = (
            []
            if comment is None
            else [cst.EmptyLine(indent=before.indent, whitespace=before.last_line, comment=comment)]
        )
        joined = after.with_changes(
            first_line=before.first_line, empty_lines=[*before.empty_lines, *line, *after.empty_lines]
        )
        kept[index - 1] = previous.with_changes(comma=comma.with_changes(whitespace_after=joined))
    elif index == len(args) - 1:
        kept[index - 1] = previous.with_changes(comma=gone.comma, whitespace_after_arg=gone.whitespace_after_arg)
    elif isinstance(after, cst.ParenthesizedWhitespace):
        # `f(a, b=1,  # why` + newline: the comment stays on the line.
        kept[index - 1] = previous.with_changes(comma=comma.with_changes(whitespace_after=after))
    return kept


def _after_argument(arg: cst.Arg) -> cst.BaseParenthesizableWhitespace:
    """The blanks (and comment, and line break) after the argument and its comma."""
    return arg.comma.whitespace_after if isinstance(arg.comma, cst.Comma) else arg.whitespace_after_arg


def _is_keyword(arg: cst.Arg, keyword: str) -> bool:
    return arg.keyword is not None and arg.keyword.value == keyword


def _leading_lines(statement: cst.BaseStatement) -> Sequence[cst.EmptyLine]:
    assert isinstance(statement, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
    return statement.leading_lines


def _trailing(statement: cst.BaseStatement) -> cst.Comment | None:
    if isinstance(statement, cst.SimpleStatementLine):
        return statement.trailing_whitespace.comment
    return None


def _comment_line(comment: cst.Comment | None) -> list[cst.EmptyLine]:
    return [] if comment is None else [cst.EmptyLine(comment=comment)]


def _without_decorators(function: cst.FunctionDef, removed: Sequence[int]) -> cst.FunctionDef:
    """`function` without its decorators at the indexes `removed`; the lines above each
    one, and its comment, stay where it was."""
    decorators: list[cst.Decorator] = []
    carried: list[cst.EmptyLine] = []
    for index, decorator in enumerate(function.decorators):
        if index in removed:
            carried += [*decorator.leading_lines, *_comment_line(decorator.trailing_whitespace.comment)]
            continue
        decorators.append(decorator.with_changes(leading_lines=[*carried, *decorator.leading_lines]))
        carried = []
    return function.with_changes(
        decorators=decorators, lines_after_decorators=[*carried, *function.lines_after_decorators]
    )


def _inserted_above(
    code: str, statement: cst.BaseStatement, first: bool
) -> tuple[list[cst.BaseStatement], cst.BaseStatement]:
    """The statements of `code`, to go above `statement` and the blank and comment lines
    that lead to it, two blank lines below what is above them (none at the top of the
    body); and `statement` then, with those lines, which begin two blank lines below
    the new statements unless they begin with blank lines of their own."""
    inserted: list[cst.BaseStatement] = list(cst.parse_module(code).body)
    blanks = [cst.EmptyLine(), cst.EmptyLine()]
    inserted[0] = inserted[0].with_changes(leading_lines=[] if first else blanks)
    leading = list(_leading_lines(statement))
    if not leading or leading[0].comment is not None:
        leading = [*blanks, *leading]
    return inserted, statement.with_changes(leading_lines=leading)


def _with_imports(module: cst.Module, statements: Sequence[str]) -> cst.Module:
    """`module` with the import `statements` after its docstring and opening imports."""
    new = [cst.parse_statement(statement) for statement in statements]
    body = list(module.body)
    index = 0
    for position, statement in enumerate(body):
        if _is_import(statement) or (position == 0 and _is_docstring(statement)):
            index = position + 1
            continue
        break
    if index == 0 and body:
        # Before the first statement, below the comments and blank lines above it.
        first = body[0]
        new[0] = new[0].with_changes(leading_lines=first.leading_lines)
        body[0] = first.with_changes(leading_lines=[])
    return module.with_changes(body=[*body[:index], *new, *body[index:]])


def _is_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
