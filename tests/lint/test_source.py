"""Where nodes are, as findings and fixes count (rows, character columns), and the
layout of a call that fixes read from the file's lines."""

from __future__ import annotations

import ast
import warnings

import pytest

from asyncsafe_lint.config import Settings
from asyncsafe_lint.diagnostics import Edit, Location
from asyncsafe_lint.edits import add_argument, remove_argument
from asyncsafe_lint.engine import check_source
from asyncsafe_lint.rules import ALL_RULES
from asyncsafe_lint.source import Source, physical_lines


def _call(text: str) -> tuple[Source, ast.Call]:
    call = next(node for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Call))
    return Source(text), call


def test_columns_count_characters_not_utf8_bytes():
    text = 'x = "ünïcödé"; time.sleep(1)\n'
    source, call = _call(text)
    assert (source.start(call), source.end(call)) == (Location(1, 16), Location(1, 29))
    assert text.splitlines()[0][15:28] == "time.sleep(1)"


def test_rows_break_where_python_breaks_them():
    text = 'x = "\f"\r\ny = 1\rz = f()\n'
    source, call = _call(text)
    assert physical_lines(text) == ['x = "\f"', "y = 1", "z = f()", ""]
    assert source.start(call) == Location(3, 5)


def test_a_with_item_spans_its_expression_and_target():
    text = "with lock as held:\n    pass\n"
    item = ast.parse(text).body[0].items[0]  # type: ignore[attr-defined]
    source = Source(text)
    assert (source.start(item), source.end(item)) == (Location(1, 6), Location(1, 18))


def test_a_trailing_comment_is_not_a_hash_in_a_string():
    source, call = _call("f('#not')  # kept\n")
    assert source.trailing_comment(call) == "# kept"
    source, call = _call("f('#not')\n")
    assert source.trailing_comment(call) is None


@pytest.mark.parametrize(
    ("text", "unit"),
    [("def f():\n  return 1\n", "  "), ("if x:\n\tpass\n", "\t"), ("x = 1\n", "    ")],
)
def test_the_indent_unit_is_the_files_own(text, unit):
    assert Source(text).indent_unit(ast.parse(text)) == unit


def test_leading_lines_are_the_comments_and_blank_lines_above_a_statement():
    text = "import os\n\n# the app\n\napp = make()\n"
    tree = ast.parse(text)
    assert Source(text).leading_lines(tree.body[1], tree.body[0]) == 2
    assert Source("app = make()\n").leading_lines(ast.parse("app = make()\n").body[0], None) == 1


@pytest.mark.parametrize(
    ("text", "edit"),
    [
        ("f()\n", Edit(Location(1, 3), Location(1, 3), "timeout=10")),
        ("f(a, b=1)\n", Edit(Location(1, 9), Location(1, 9), ", timeout=10")),
        ("f(\n    a,\n    b=1,\n)\n", Edit(Location(4, 1), Location(4, 1), "    timeout=10,\n")),
        # One line, a trailing comma: the argument goes after the last one, on its line.
        ("f(a,)\n", Edit(Location(1, 4), Location(1, 4), ", timeout=10")),
        # Comments where the argument would go: no edit.
        ("f(  # why\n)\n", None),
        ("f(\n    a  # why\n)\n", None),
    ],
)
def test_an_argument_is_added_in_the_calls_layout(text, edit):
    source, call = _call(text)
    assert add_argument(source, call, "timeout=10") == edit


@pytest.mark.parametrize(
    ("text", "removed", "edit"),
    [
        ("f(a, b=1, c=2)\n", "b", Edit(Location(1, 6), Location(1, 11), "")),
        ("f(a, c=2)\n", "c", Edit(Location(1, 4), Location(1, 9), "")),
        # One per line: the argument's lines go, its comment stays on a line of its own.
        ("f(\n    a,\n    c=2,  # the limit\n)\n", "c", Edit(Location(3, 1), Location(4, 1), "    # the limit\n")),
    ],
)
def test_an_argument_is_removed_with_its_comma(text, removed, edit):
    source, call = _call(text)
    keyword = next(keyword for keyword in call.keywords if keyword.arg == removed)
    assert remove_argument(source, call, keyword) == edit


def test_code_that_python_would_warn_about_is_checked_quietly():
    text = 'import re\n\nPATTERN = "\\d+"\n\n\nasync def f(x: "re.Pattern[\'\\d\']"):\n    time.sleep(1)\n'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = check_source(text.encode(), "app.py", Settings(), ALL_RULES)
    assert caught == []
    assert [(d.code, d.location.row) for d in found] == [("ASF101", 7)]
