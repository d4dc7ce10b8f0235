"""Where nodes are, as findings and fixes count them (rows, character columns)."""

from __future__ import annotations

import ast
import warnings

from asyncsafe_lint.config import Settings
from asyncsafe_lint.diagnostics import Location
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


def test_code_that_python_would_warn_about_is_checked_quietly():
    text = 'import re\n\nPATTERN = "\\d+"\n\n\nasync def f(x: "re.Pattern[\'\\d\']"):\n    time.sleep(1)\n'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = check_source(text.encode(), "app.py", Settings(), ALL_RULES)
    assert caught == []
    assert [(d.code, d.location.row) for d in found] == [("ASF101", 7)]
