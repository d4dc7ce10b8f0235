"""SARIF 2.1.0, in the shape GitHub code scanning accepts."""

from __future__ import annotations

import json
from urllib.parse import quote

from asyncsafe_lint.diagnostics import Diagnostic
from asyncsafe_lint.output.report import Report, absolute_path, relative_path, rule_for
from asyncsafe_lint.rule import Rule
from asyncsafe_lint.version import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/asyncsafe/asyncsafe"
#: The base that relative artifact URIs are resolved against: the report's root.
SRCROOT = "%SRCROOT%"
#: GitHub shows no more of a rule's full description than this many characters.
DESCRIPTION_LIMIT = 1024


def render(report: Report) -> str:
    codes = {rule.code for rule in report.rules} | {d.code for d in report.diagnostics}
    rules = sorted((rule_for(report, code) for code in codes), key=lambda rule: rule.code)
    index = {rule.code: position for position, rule in enumerate(rules)}
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "asyncsafe-lint",
                        "informationUri": INFORMATION_URI,
                        "version": __version__,
                        "rules": [_descriptor(rule) for rule in rules],
                    }
                },
                # Columns count characters, not the UTF-16 code units SARIF assumes by default.
                "columnKind": "unicodeCodePoints",
                "originalUriBaseIds": {SRCROOT: {"uri": _directory_uri(report)}},
                "results": [_result(d, index[d.code], report) for d in report.diagnostics],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def _directory_uri(report: Report) -> str:
    uri = absolute_path(".", report.root).as_uri()
    # SARIF requires the URI of a base to end with a slash (`/` itself already does).
    return uri if uri.endswith("/") else f"{uri}/"


def _descriptor(rule: type[Rule]) -> dict[str, object]:
    docs = rule.docs.strip()
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": what_it_does(rule)},
        "help": {"text": docs, "markdown": docs},
        "helpUri": rule.url(),
        "defaultConfiguration": {"level": "error"},
    }


def what_it_does(rule: type[Rule]) -> str:
    """The rule's `## What it does` section: as many whole paragraphs as GitHub shows."""
    section = rule.docs.partition("## What it does\n")[2].split("\n## ", 1)[0]
    paragraphs = [" ".join(block.split()) for block in section.strip().split("\n\n")]
    text = paragraphs[0]
    if len(text) > DESCRIPTION_LIMIT:
        return text[: DESCRIPTION_LIMIT - 1].rsplit(" ", 1)[0] + "\u2026"
    for paragraph in paragraphs[1:]:
        if len(text) + 2 + len(paragraph) > DESCRIPTION_LIMIT:
            break
        text += "\n\n" + paragraph
    return text


def _result(diagnostic: Diagnostic, rule_index: int, report: Report) -> dict[str, object]:
    start, end = diagnostic.location, diagnostic.end_location
    relative = relative_path(diagnostic.filename, report.root)
    # A file outside the root has no URI relative to it; an absolute URI must then stand
    # alone, since SARIF forbids `uriBaseId` next to one.
    artifact = (
        {"uri": absolute_path(diagnostic.filename, report.root).as_uri()}
        if relative is None
        else {"uri": quote(relative.as_posix()), "uriBaseId": SRCROOT}
    )
    return {
        "ruleId": diagnostic.code,
        "ruleIndex": rule_index,
        "level": "error",
        "message": {"text": diagnostic.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact,
                    "region": {
                        "startLine": start.row,
                        "startColumn": start.column,
                        "endLine": end.row,
                        "endColumn": end.column,
                    },
                }
            }
        ],
    }
