"""docs/reference.md is generated from the code, and lists what the code registers: every
option, ini key, fixture and marker pytest knows from the plugin, and every flag of the two
commands, no more and no less."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from asyncsafe_lint.commands import build_parser
from asyncsafe_lint.config import KEYS
from pytest_asyncsafe.reference import page, subcommands
from pytest_asyncsafe.tune.cli import parser as tune_parser

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference.md"
REGENERATE = "run `.venv/bin/python -m pytest_asyncsafe.reference` to regenerate docs/reference.md"


def listed(heading: str) -> set[str]:
    """The names in the first column of the table under `heading` in the committed page."""
    text = REFERENCE.read_text()
    start = text.index(f"\n{heading}\n")
    end = text.find("\n#", start + len(heading) + 2)
    section = text[start : None if end == -1 else end]
    names = set()
    for row in re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE):
        names.update(row.split(", "))
    return names


def flags(parser: argparse.ArgumentParser) -> set[str]:
    """Every flag a parser's own help shows (its usage and its options), but --help."""
    return set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", parser.format_help())) - {"-h", "--help"}


def test_reference_matches_the_code():
    assert REFERENCE.read_text() == page(), REGENERATE


def test_every_pytest_option_and_ini_key_is_listed(pytestconfig):
    group = pytestconfig._parser.getgroup("asyncsafe")
    options = {name for option in group.options for name in option.names()}
    inis = {name for name in pytestconfig._parser._inidict if name.startswith("asyncsafe")}
    assert len(options) == 18 and len(inis) == 20
    assert listed("## pytest options") == options, REGENERATE
    assert listed("## ini keys") == inis, REGENERATE


def test_every_fixture_is_listed(pytester: pytest.Pytester):
    # `pytest --fixtures` names each fixture with where it is defined.
    lines = pytester.runpytest("--fixtures").outlines
    registered = {line.split()[0] for line in lines if re.search(r"pytest_asyncsafe[/\\]plugin\.py:\d+$", line)}
    assert len(registered) == 8, lines
    assert listed("## Fixtures") == registered, REGENERATE


def test_every_marker_is_listed(pytester: pytest.Pytester):
    def markers(*args: str) -> set[str]:
        lines = pytester.parseconfigure(*args).getini("markers")
        return {re.split(r"[(:]", line, maxsplit=1)[0] for line in lines}

    registered = markers() - markers("-p", "no:asyncsafe")
    assert registered == {"asyncsafe_allow_blocking", "asyncsafe_block_threshold", "asyncsafe_lint", "latency_budget"}
    assert listed("## Markers") == registered, REGENERATE


@pytest.mark.parametrize(
    ("heading", "parser"),
    [
        ("## asyncsafe-lint", build_parser()),
        ("### asyncsafe-lint check", subcommands(build_parser())["check"]),
        ("### asyncsafe-lint rule", subcommands(build_parser())["rule"]),
        ("## asyncsafe-tune", tune_parser()),
    ],
    ids=["lint", "check", "rule", "tune"],
)
def test_every_command_line_flag_is_listed(heading, parser):
    assert {name for name in listed(heading) if name.startswith("-")} == flags(parser), REGENERATE


def test_every_configuration_key_is_listed():
    assert listed("### [tool.asyncsafe]") == set(KEYS) and len(KEYS) == 11, REGENERATE
