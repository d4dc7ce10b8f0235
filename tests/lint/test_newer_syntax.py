"""Syntax newer than the Python the linter runs on: read anyway, every finding on its
real line and column (`downlevel`); `ASF003` for what cannot be read; `ASF001` for what
no Python accepts, or what is newer than the project's target."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from asyncsafe_lint.config import ConfigError, Settings, from_table
from asyncsafe_lint.downlevel import downlevel
from asyncsafe_lint.engine import check_source
from asyncsafe_lint.rules import ALL_RULES
from asyncsafe_lint.source import lines_with_ends

ROUTE = """\
import time

import requests
from fastapi import FastAPI

app = FastAPI()


@app.get("/items")
async def items(d: dict):
{body}
"""


def findings(source: str, settings: Settings | None = None) -> list[tuple[int, int, str]]:
    found = check_source(source.encode(), "app.py", settings or Settings(), ALL_RULES)
    return [(d.location.row, d.location.column, d.code) for d in found]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # PEP 758 (3.14): several exception types without parentheses.
        (
            "    try:\n        pass\n    except ValueError, KeyError:\n        time.sleep(1)\n",
            [(14, 9, "ASF101")],
        ),
        ("    try:\n        pass\n    except* ValueError, KeyError:\n        time.sleep(1)\n", [(14, 9, "ASF101")]),
        # PEP 750 (3.14): a template string, its replacement fields read where they are.
        (
            '    return t"{time.sleep(1)} and {requests.get(d["u"], timeout=1)}"\n',
            [(11, 15, "ASF101"), (11, 35, "ASF102")],
        ),
        # PEP 701 (3.12): an f-string that reuses its quotes, alone and in a concatenation.
        ('    return f"{d["k"]}: {requests.get(d["u"], timeout=1)}"\n', [(11, 25, "ASF102")]),
        ('    return "a" f"{d["k"]}" "b" f"{time.sleep(1)}"\n', [(11, 35, "ASF101")]),
        # PEP 695 (3.12): a `type` statement and type parameters, around the blocking call.
        ("    type Pair = tuple[int, int]\n    time.sleep(1)\n", [(12, 5, "ASF101")]),
        ("    def first[T](items: list[T]) -> T:\n        return items[0]\n    time.sleep(1)\n", [(13, 5, "ASF101")]),
    ],
)
def test_blocking_calls_in_newer_syntax_are_found_where_they_are(body, expected):
    assert findings(ROUTE.format(body=body)) == expected


def test_the_text_read_has_every_line_and_column_of_the_file():
    source = 'x = f"{d["k"]}"\r\ntry:\n    pass\nexcept A, B:\n    pass\ntype T = int\n'
    older = downlevel(source)
    assert older is not None
    assert [len(line) for line in lines_with_ends(older.text)] == [len(line) for line in lines_with_ends(source)]
    assert older.text == 'x = (  d["k"],)\r\ntry:\n    pass\nexcept A   :\n    pass\npass        \n'


def test_code_no_python_accepts_is_still_a_syntax_error():
    assert findings("async def handler(:\n    pass\n") == [(1, 19, "ASF001")]
    assert downlevel("async def handler(:\n    pass\n") is None


def test_syntax_newer_than_the_projects_target_is_a_syntax_error():
    source = ROUTE.format(body="    try:\n        pass\n    except ValueError, KeyError:\n        time.sleep(1)\n")
    (found,) = check_source(source.encode(), "app.py", Settings(target_version=(3, 12)), ALL_RULES)
    assert (found.location.row, found.location.column, found.code, found.message) == (
        13,
        5,
        "ASF001",
        "SyntaxError: `except A, B:` without parentheses is Python 3.14 syntax; the project targets Python 3.12",
    )
    assert findings(source, Settings(target_version=(3, 14))) == [(14, 9, "ASF101")]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="type parameters over several lines parse natively from 3.12")
def test_what_cannot_be_read_in_older_syntax_is_newer_syntax_not_a_syntax_error():
    source = "def first[\n    T,\n](items: list[T]) -> T:\n    return items[0]\n"
    (found,) = check_source(source.encode(), "app.py", Settings(), ALL_RULES)
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert (found.location.row, found.location.column, found.code, found.message) == (
        1,
        10,
        "ASF003",
        f"This file uses Python 3.12 syntax (type parameters (`[T]`)); asyncsafe-lint runs on Python {running}: "
        "run it with Python 3.12, e.g. pre-commit's `language_version: python3.12`",
    )


@pytest.mark.parametrize(
    ("table", "requires", "target"),
    [
        ({}, None, None),
        ({"target-version": "py312"}, ">=3.10", (3, 12)),
        ({}, ">=3.11", (3, 11)),
        ({}, "~=3.13.1", (3, 13)),
        ({}, ">=3.10,<4", (3, 10)),
        ({}, "<4", None),
    ],
)
def test_the_target_is_target_version_else_requires_python(table, requires, target):
    assert from_table(table, Path("/project/pyproject.toml"), requires).target_version == target


@pytest.mark.parametrize("value", ["3.12", "py2", 312])
def test_a_bad_target_version_is_named(value):
    with pytest.raises(ConfigError) as raised:
        from_table({"target-version": value}, Path("/project/pyproject.toml"))
    assert str(raised.value) == (
        f"/project/pyproject.toml: `target-version` must name a Python 3 release as ruff does (`py312`), not {value!r}"
    )
