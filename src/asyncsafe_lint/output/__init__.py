"""Output formats: each a function from a `Report` (`output.report`) to the text to print."""

from __future__ import annotations

from collections.abc import Callable

from asyncsafe_lint.output import concise, full, github, gitlab, json, json_lines, sarif
from asyncsafe_lint.output.report import Report

Formatter = Callable[[Report], str]

FORMATS: dict[str, Formatter] = {
    "concise": concise.render,
    "full": full.render,
    "json": json.render,
    "json-lines": json_lines.render,
    "github": github.render,
    "gitlab": gitlab.render,
    "sarif": sarif.render,
}
