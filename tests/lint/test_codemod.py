"""The fix engine's statement and argument changes, in the layout of the code around them."""

from __future__ import annotations

import ast

import pytest

from asyncsafe_lint.changes import insert_before, remove_argument, remove_decorator, remove_statement
from asyncsafe_lint.codemod import transform
from asyncsafe_lint.source import Source


def _first_call(text: str) -> ast.Call:
    return next(node for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Call))


@pytest.mark.parametrize(
    ("text", "keyword", "expected"),
    [
        ("f(a, b=1, c=2)\n", "b", "f(a, c=2)\n"),
        ("f(a, c=2)\n", "c", "f(a)\n"),
        ("f(a, c=2,)\n", "c", "f(a,)\n"),
        # The parentheses around the argument before it stay.
        ("f((a), b=1)\n", "b", "f((a))\n"),
        # Alone on its lines: the lines go, the comment stays on a line of its own.
        ("f(\n    a,\n    c=2,  # the limit\n)\n", "c", "f(\n    a,\n    # the limit\n)\n"),
        (
            "f(\n    a,  # first\n    b=1,  # why\n\n    c=2,\n)\n",
            "b",
            "f(\n    a,  # first\n    # why\n\n    c=2,\n)\n",
        ),
        ("f(\n    a,\n    c=2  # the limit\n)\n", "c", "f(\n    a,\n    # the limit\n)\n"),
        # Sharing a line with the argument before it: the comment stays on that line.
        ("f(a, b=1,  # why\n  c=2)\n", "b", "f(a,  # why\n  c=2)\n"),
        ("f(a, c=2  # why\n)\n", "c", "f(a  # why\n)\n"),
    ],
)
def test_an_argument_is_removed_with_its_comma(text, keyword, expected):
    assert transform(text, [remove_argument(Source(text), _first_call(text), keyword)]) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x = 1\nregister(x)  # why\ny = 2\n", "x = 1\n# why\ny = 2\n"),
        # The file's last line goes with its line break or without: the line above keeps its own.
        ("x = 1\nregister(x)", "x = 1\n"),
        ("x = 1\r\n\r\nregister(x)  # why", "x = 1\r\n\r\n# why\r\n"),
        # A file whose lines end in `\r` alone keeps its last one.
        ("x = 1\rregister(x)\ry = 2\r", "x = 1\ry = 2\r"),
    ],
)
def test_a_statement_goes_with_its_lines_and_leaves_its_comment(text, expected):
    statement = ast.parse(text).body[1]
    assert transform(text, [remove_statement(Source(text), statement)]) == expected


def test_a_decorator_goes_and_its_comment_stays_above_the_function():
    text = "# above\n@register('startup')  # why\nasync def start():\n    pass\n"
    decorator = ast.parse(text).body[0].decorator_list[0]  # type: ignore[attr-defined]
    expected = "# above\n# why\nasync def start():\n    pass\n"
    assert transform(text, [remove_decorator(Source(text), decorator)]) == expected


NEW = "def new():\n    pass\n"


@pytest.mark.parametrize(
    ("above", "expected"),
    [
        ("", "\n\ndef new():\n    pass\n\n\n"),
        ("\n", "\n\ndef new():\n    pass\n\n"),
        ("\n\n# the app\n", "\n\ndef new():\n    pass\n\n\n# the app\n"),
        ("# the app\n", "\n\ndef new():\n    pass\n\n\n# the app\n"),
    ],
)
def test_statements_are_inserted_above_the_lines_that_lead_to_a_statement(above, expected):
    # Two blank lines below what is above them; the blank and comment lines above the
    # statement stay with it, two blank lines below the new ones unless they begin blank.
    text = f"import x\n{above}app = x.make()\n"
    statement = ast.parse(text).body[1]
    assert transform(text, [insert_before(Source(text), statement, NEW)]) == f"import x\n{expected}app = x.make()\n"


def test_inserted_statements_are_indented_as_the_module_is():
    text = "if x:\n\tpass\napp = make()\n"
    statement = ast.parse(text).body[1]
    code = "def new():\n    if y:\n        pass\n"
    expected = "if x:\n\tpass\n\n\ndef new():\n\tif y:\n\t\tpass\n\n\napp = make()\n"
    assert transform(text, [insert_before(Source(text), statement, code)]) == expected
