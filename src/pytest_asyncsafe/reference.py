"""The site's options reference, docs/reference.md, written from what the code registers:
the plugin's options, ini keys, fixtures and markers, the command lines of asyncsafe-lint
and asyncsafe-tune, and the keys of `[tool.asyncsafe]`.

`python -m pytest_asyncsafe.reference` rewrites the page; tests/test_reference.py fails
when it drifts from the code, and compares it with what pytest itself registers.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from asyncsafe_lint import commands
from asyncsafe_lint.config import KEYS
from pytest_asyncsafe import plugin
from pytest_asyncsafe.settings import add_options
from pytest_asyncsafe.tune import cli as tune_cli

COMMAND = "python -m pytest_asyncsafe.reference"


@dataclass(frozen=True)
class Row:
    """One line of a reference table: what to type, and what it does."""

    name: str
    detail: str
    text: str


class _Recorder:
    """Stands in for pytest's parser: `add_options` declares the options and ini keys
    through these three methods, and this keeps what it declares, in order."""

    def __init__(self) -> None:
        self.options: list[Row] = []
        self.inis: list[Row] = []

    def getgroup(self, name: str, description: str = "") -> _Recorder:
        return self

    def addoption(self, *names: str, **attrs: object) -> None:
        metavar = attrs.get("metavar")
        if attrs.get("nargs") == "?":
            detail = f"[={metavar}]"
        else:
            detail = "" if metavar is None else str(metavar)
        self.options.append(Row(", ".join(names), detail, _help(str(attrs.get("help", "")))))

    def addini(self, name: str, help: str, type: str | None = None, default: object = None) -> None:
        self.inis.append(Row(name, f"{type or 'string'}, default {_default(default)}", help))


def _help(text: str) -> str:
    # argparse's help strings escape `%` as `%%`.
    return text.replace("%%", "%")


def _default(value: object) -> str:
    if value is None or value == [] or value == "":
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def pytest_options() -> _Recorder:
    recorder = _Recorder()
    add_options(cast(pytest.Parser, recorder))
    return recorder


def fixtures() -> list[Row]:
    """The plugin's fixtures: every one is named `asyncsafe_*`, and nothing else there is."""
    found = [(name, value) for name, value in vars(plugin).items() if name.startswith("asyncsafe_") and callable(value)]
    return [Row(name, "", " ".join(inspect.cleandoc(value.__doc__ or "").split())) for name, value in found]


def markers() -> list[Row]:
    rows = []
    for line in plugin.MARKERS:
        signature, _, text = line.partition(": ")
        name, arguments, _ = signature.partition("(")
        rows.append(Row(name, signature if arguments else "", text))
    return rows


def cli_options(parser: argparse.ArgumentParser) -> list[Row]:
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.choices is not None:
            detail = "|".join(str(choice) for choice in action.choices)
        elif action.nargs == 0:
            detail = ""
        else:
            detail = str(action.metavar or action.dest.upper())
        names = ", ".join(action.option_strings) or action.dest
        if isinstance(action, argparse.BooleanOptionalAction):
            detail = ""
        rows.append(Row(names, detail, _help(action.help or "")))
    return rows


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(cast(dict[str, argparse.ArgumentParser], action.choices))
    return {}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def table(headers: tuple[str, str, str], rows: list[Row]) -> str:
    lines = [f"| {' | '.join(headers)} |", "| --- | --- | --- |"]
    lines += [f"| {_cell(_code(row.name))} | {_cell(_code(row.detail))} | {_cell(row.text)} |" for row in rows]
    return "\n".join(lines)


def page() -> str:
    options = pytest_options()
    lint = commands.build_parser()
    tune = tune_cli.parser()
    parts = [
        "# Reference",
        f"Generated from the code by `{COMMAND}`: what the plugin and the two commands "
        "register, word for word. The concept pages explain each one; the rules have "
        "[a page of their own](rules.md).",
        "## pytest options",
        "`pytest --help` lists them too, under `asyncsafe`. Every option but the baselines' "
        "has an ini key of the same name without the dashes; the command line wins. "
        "Durations read `250ms`, `2s` or `1.5` (seconds).",
        table(("Option", "Value", "What it does"), options.options),
        "## ini keys",
        "In `[tool.pytest.ini_options]` of `pyproject.toml`, or `[pytest]` of `pytest.ini`.",
        table(("Key", "Type", "What it does"), options.inis),
        "## Fixtures",
        table(("Fixture", "", "What it gives"), fixtures()),
        "## Markers",
        table(("Marker", "Arguments", "What it does"), markers()),
        "## asyncsafe-lint",
        _cell(lint.description or ""),
        table(("Option", "Value", "What it does"), cli_options(lint)),
    ]
    for name, command in subcommands(lint).items():
        parts += [
            f"### asyncsafe-lint {name}",
            command.description or "",
            table(("Option", "Value", "What it does"), cli_options(command)),
        ]
    parts += [
        "### [tool.asyncsafe]",
        "The keys asyncsafe-lint reads from the nearest `pyproject.toml`; any other is an error.",
        table(("Key", "", "What it sets"), [Row(key, "", text) for key, text in KEYS.items()]),
        "## asyncsafe-tune",
        tune.description or "",
        table(("Option", "Value", "What it does"), cli_options(tune)),
    ]
    return "\n\n".join(parts) + "\n"


def main(root: Path) -> None:
    (root / "docs" / "reference.md").write_text(page())


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
