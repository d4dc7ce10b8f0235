"""Every `--output-format`, rendered from hand-built reports and checked exactly."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from asyncsafe_lint import __version__
from asyncsafe_lint.diagnostics import Action, Applicability, Change, Diagnostic, Edit, Fix, Location, Span
from asyncsafe_lint.output import FORMATS
from asyncsafe_lint.output.github import escape_data, escape_property
from asyncsafe_lint.output.report import Report, display_path
from asyncsafe_lint.output.sarif import what_it_does
from asyncsafe_lint.output.summary import fix_summary, summary
from asyncsafe_lint.rule import Rule
from asyncsafe_lint.rules import ALL_RULES, BY_CODE
from asyncsafe_lint.rules.asf101_blocking_sleep import BlockingSleep

ROOT = Path("/project")
SLEEP = (
    "Blocking call `time.sleep()` in async function `handler`: use `await asyncio.sleep()` (or `await anyio.sleep()`)"
)
ODD = "/project/app/odd, name.py"
#: Everything the escaping formats must escape: `%`, `,`, `:` and a newline.
ODD_MESSAGE = "SyntaxError: 100% sure, expected ':'\nor a newline"


def _diagnostic(filename: str, start: tuple[int, int], end: tuple[int, int], code: str, message: str) -> Diagnostic:
    return Diagnostic(filename, Location(*start), Location(*end), code, BY_CODE[code].name, message)


DIAGNOSTICS = (
    # Outside the root, and unreadable: no source to show.
    _diagnostic("/elsewhere/script.py", (1, 1), (1, 1), "ASF002", "Cannot check this file: No such file"),
    # Absolute but under the root, with an empty span.
    _diagnostic(ODD, (2, 16), (2, 16), "ASF001", ODD_MESSAGE),
    # Relative to the root; two identical findings on different lines.
    _diagnostic("app/routes.py", (4, 5), (4, 18), "ASF101", SLEEP),
    _diagnostic("app/routes.py", (5, 5), (5, 18), "ASF101", SLEEP),
)
SOURCES = {
    ODD: ["async def f():", "    return 100%"],
    "app/routes.py": ["import time", "", "async def handler():", "    time.sleep(1)", "    time.sleep(1)"],
}


def _report(diagnostics=DIAGNOSTICS, rules=(BlockingSleep,), sources=SOURCES) -> Report:
    # Only ASF101 is enabled: file errors must still be described where a format needs it.
    return Report(diagnostics, rules, ROOT, lambda filename: sources.get(filename, []))


REPORT = _report()
EMPTY = _report(diagnostics=())


def test_format_names_in_cli_order():
    assert list(FORMATS) == ["concise", "full", "json", "json-lines", "github", "gitlab", "sarif"]


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("app/routes.py", "app/routes.py"),
        ("/project/app/routes.py", "app/routes.py"),
        ("../project/app/routes.py", "app/routes.py"),
        ("/elsewhere/script.py", "/elsewhere/script.py"),
        # Lexically outside, though it starts with the root's name.
        ("app/../../etc/x.py", "app/../../etc/x.py"),
        ("/project-two/x.py", "/project-two/x.py"),
    ],
)
def test_display_path_is_relative_to_root_only_under_it(filename, shown):
    assert display_path(filename, ROOT) == shown


# --- concise ---------------------------------------------------------------------------------
def test_concise():
    assert FORMATS["concise"](REPORT) == (
        "/elsewhere/script.py:1:1: ASF002 Cannot check this file: No such file\n"
        # A newline in a message is shown, not obeyed: no text makes a line of its own.
        "app/odd, name.py:2:16: ASF001 SyntaxError: 100% sure, expected ':'\\nor a newline\n"
        f"app/routes.py:4:5: ASF101 {SLEEP}\n"
        f"app/routes.py:5:5: ASF101 {SLEEP}\n"
    )


#: A file whose name and code hold what a terminal acts on: clear the screen, then go
#: back to the start of the line and write over it.
HOSTILE = "/project/app/\x1b[2J.py"
HOSTILE_SOURCES = {HOSTILE: ["import time", "async def f():", '    x = "\x1b[2J\r"; time.sleep(1)\t# \u202e']}
HOSTILE_REPORT = _report(
    diagnostics=(_diagnostic(HOSTILE, (3, 18), (3, 31), "ASF101", SLEEP),), sources=HOSTILE_SOURCES
)


def test_a_file_name_and_a_line_of_code_are_shown_as_text():
    assert FORMATS["concise"](HOSTILE_REPORT) == f"app/\\x1b[2J.py:3:18: ASF101 {SLEEP}\n"
    assert FORMATS["full"](HOSTILE_REPORT) == (
        f"app/\\x1b[2J.py:3:18: ASF101 {SLEEP}\n"
        "  |\n"
        '3 |     x = "\\x1b[2J\\r"; time.sleep(1)\t# \\u202e\n'
        # Underlined where the call is shown, past the escapes before it.
        "  | " + " " * 21 + "^" * 13 + " ASF101\n"
        "  |\n"
        "\n"
    )


# --- full ------------------------------------------------------------------------------------
def test_full():
    assert FORMATS["full"](REPORT) == (
        "/elsewhere/script.py:1:1: ASF002 Cannot check this file: No such file\n"
        "\n"
        "app/odd, name.py:2:16: ASF001 SyntaxError: 100% sure, expected ':'\\nor a newline\n"
        "  |\n"
        "2 |     return 100%\n"
        "  |                ^ ASF001\n"
        "  |\n"
        "\n"
        f"app/routes.py:4:5: ASF101 {SLEEP}\n"
        "  |\n"
        "4 |     time.sleep(1)\n"
        "  |     ^^^^^^^^^^^^^ ASF101\n"
        "  |\n"
        "\n"
        f"app/routes.py:5:5: ASF101 {SLEEP}\n"
        "  |\n"
        "5 |     time.sleep(1)\n"
        "  |     ^^^^^^^^^^^^^ ASF101\n"
        "  |\n"
        "\n"
    )


def test_full_multiline_span_tabs_and_wide_gutter():
    lines = [""] * 11 + ["\tx = time.sleep(", "\t\t1,", "\t)"]
    diagnostic = _diagnostic("deep.py", (12, 6), (14, 3), "ASF101", SLEEP)
    report = _report(diagnostics=(diagnostic,), sources={"deep.py": lines})
    assert FORMATS["full"](report) == (
        f"deep.py:12:6: ASF101 {SLEEP}\n   |\n12 | \tx = time.sleep(\n   | \t    ^^^^^^^^^^^ ASF101\n   |\n\n"
    )


def test_full_prints_only_the_header_past_the_end_of_the_file():
    diagnostic = _diagnostic("app/routes.py", (9, 1), (9, 1), "ASF001", "SyntaxError: unexpected EOF")
    assert (
        FORMATS["full"](_report(diagnostics=(diagnostic,)))
        == "app/routes.py:9:1: ASF001 SyntaxError: unexpected EOF\n\n"
    )


# --- json / json-lines -----------------------------------------------------------------------
def _expected_json() -> list[dict[str, object]]:
    def finding(filename, start, end, code, message):
        return {
            "code": code,
            "name": BY_CODE[code].name,
            "message": message,
            "filename": filename,
            "location": {"row": start[0], "column": start[1]},
            "end_location": {"row": end[0], "column": end[1]},
            "fix": None,
            "noqa_row": start[0],
            "url": BY_CODE[code].url(),
        }

    return [
        finding("/elsewhere/script.py", (1, 1), (1, 1), "ASF002", "Cannot check this file: No such file"),
        finding(ODD, (2, 16), (2, 16), "ASF001", ODD_MESSAGE),
        finding("/project/app/routes.py", (4, 5), (4, 18), "ASF101", SLEEP),
        finding("/project/app/routes.py", (5, 5), (5, 18), "ASF101", SLEEP),
    ]


def test_json():
    text = FORMATS["json"](REPORT)
    assert json.loads(text) == _expected_json()
    assert text.startswith('[\n  {\n    "code": "ASF002",\n')  # indented by 2, keys sorted as ruff's


def test_json_urls_are_the_rules_own():
    assert [f["url"] for f in json.loads(FORMATS["json"](REPORT))] == [
        "https://github.com/asyncsafe/asyncsafe/blob/main/docs/rules.md#asf002-io-error",
        "https://github.com/asyncsafe/asyncsafe/blob/main/docs/rules.md#asf001-syntax-error",
        "https://github.com/asyncsafe/asyncsafe/blob/main/docs/rules.md#asf101-blocking-sleep",
        "https://github.com/asyncsafe/asyncsafe/blob/main/docs/rules.md#asf101-blocking-sleep",
    ]


def test_json_noqa_row_is_where_the_engine_reads_noqa_comments():
    # The engine looks for `# noqa` on a finding's first line, however many lines it spans.
    diagnostic = _diagnostic("deep.py", (7, 5), (9, 6), "ASF101", SLEEP)
    (finding,) = json.loads(FORMATS["json"](_report(diagnostics=(diagnostic,))))
    assert finding["noqa_row"] == 7


def test_json_lines():
    text = FORMATS["json-lines"](REPORT)
    lines = text.splitlines()
    assert text.endswith("\n") and len(lines) == len(DIAGNOSTICS)
    assert [json.loads(line) for line in lines] == _expected_json()
    assert all('": ' not in line and '", "' not in line for line in lines)  # compact


# --- github ----------------------------------------------------------------------------------
def test_github():
    assert FORMATS["github"](REPORT) == (
        "::error title=asyncsafe-lint (ASF002),file=/elsewhere/script.py,line=1,col=1,endLine=1,endColumn=1"
        "::/elsewhere/script.py:1:1: ASF002 Cannot check this file: No such file\n"
        "::error title=asyncsafe-lint (ASF001),file=app/odd%2C name.py,line=2,col=16,endLine=2,endColumn=16"
        "::app/odd, name.py:2:16: ASF001 SyntaxError: 100%25 sure, expected ':'\\nor a newline\n"
        "::error title=asyncsafe-lint (ASF101),file=app/routes.py,line=4,col=5,endLine=4,endColumn=18"
        f"::app/routes.py:4:5: ASF101 {SLEEP}\n"
        "::error title=asyncsafe-lint (ASF101),file=app/routes.py,line=5,col=5,endLine=5,endColumn=18"
        f"::app/routes.py:5:5: ASF101 {SLEEP}\n"
    )


def test_github_escaping_matches_the_actions_toolkit():
    # `%` goes first, so an escape already in the text cannot be mistaken for one.
    assert escape_data("50%0A, a:b\r\nc") == "50%250A, a:b%0D%0Ac"
    assert escape_property("50%0A, a:b\r\nc") == "50%250A%2C a%3Ab%0D%0Ac"
    assert escape_property(r"C:\src\app.py") == r"C%3A\src\app.py"


# --- gitlab ----------------------------------------------------------------------------------
def _gitlab_issue(path, start, end, code, message, fingerprint):
    return {
        "description": f"{code}: {message}",
        "check_name": code,
        "fingerprint": fingerprint,
        "severity": "major",
        "location": {
            "path": path,
            "positions": {"begin": {"line": start[0], "column": start[1]}, "end": {"line": end[0], "column": end[1]}},
        },
    }


def test_gitlab():
    # sha256 of path, code, message and occurrence, NUL-separated: changing the recipe
    # would make GitLab report every finding as fixed and found again.
    assert json.loads(FORMATS["gitlab"](REPORT)) == [
        _gitlab_issue("/elsewhere/script.py", (1, 1), (1, 1), "ASF002", "Cannot check this file: No such file",
                      "2acb2d10b0c7314d905fb58136abbcd20c4e2e9a8accd12f07cca64bade86fd5"),
        _gitlab_issue("app/odd, name.py", (2, 16), (2, 16), "ASF001", ODD_MESSAGE,
                      "91a27a4997ed84c8593db775e6f28de8ab107e39de86d84d5d5db992f32f699c"),
        _gitlab_issue("app/routes.py", (4, 5), (4, 18), "ASF101", SLEEP,
                      "877f2e2173dd6714eb379c57ba18bfb041276616f707e3f05d78694f1d7c9e12"),
        _gitlab_issue("app/routes.py", (5, 5), (5, 18), "ASF101", SLEEP,
                      "47115f2606844656cde3ff766345dc1309a5dacc47b780664078976ab1a79e3c"),
    ]  # fmt: skip


def _fingerprints(report: Report) -> list[str]:
    return [issue["fingerprint"] for issue in json.loads(FORMATS["gitlab"](report))]


def test_gitlab_fingerprints_are_unique_and_survive_moved_lines():
    fingerprints = _fingerprints(REPORT)
    assert len(set(fingerprints)) == len(fingerprints)
    assert all(re.fullmatch("[0-9a-f]{64}", f) for f in fingerprints)
    # Code added above the findings moves them; GitLab must still see the same findings.
    moved = [
        Diagnostic(d.filename, Location(d.location.row + 3, 1), Location(d.end_location.row + 3, 2), d.code, d.name,
                   d.message)
        for d in DIAGNOSTICS
    ]  # fmt: skip
    assert _fingerprints(_report(diagnostics=moved)) == fingerprints


# --- sarif -----------------------------------------------------------------------------------
def _sarif(report: Report) -> dict:
    log = json.loads(FORMATS["sarif"](report))
    known = {**BY_CODE, **{rule.code: rule for rule in report.rules}}
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "asyncsafe-lint"
    assert driver["version"] == __version__
    assert driver["informationUri"] == "https://github.com/asyncsafe/asyncsafe"
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///project/"}}
    ids = [rule["id"] for rule in driver["rules"]]
    assert ids == sorted(set(ids))
    for descriptor in driver["rules"]:
        rule = known[descriptor["id"]]
        assert descriptor["name"] == rule.name
        assert len(descriptor["name"]) <= 255
        assert descriptor["shortDescription"] == {"text": rule.summary}
        assert descriptor["helpUri"] == rule.url()
        assert descriptor["help"] == {"text": rule.docs.strip(), "markdown": rule.docs.strip()}
        assert descriptor["defaultConfiguration"] == {"level": "error"}
        # GitHub rejects empty required strings and cuts descriptions at 1024 characters.
        for text in (descriptor["shortDescription"]["text"], descriptor["fullDescription"]["text"]):
            assert 0 < len(text) <= 1024
    for result in run["results"]:
        assert set(result) == {"ruleId", "ruleIndex", "level", "message", "locations"}
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == "error"
        assert result["message"]["text"]
        (location,) = result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        if "uriBaseId" in artifact:
            assert artifact["uriBaseId"] == "%SRCROOT%"
            assert not artifact["uri"].startswith("/") and "\\" not in artifact["uri"]
            assert ":" not in artifact["uri"]  # no scheme: relative to the base
        else:
            assert artifact["uri"].startswith("file:///")
        region = location["physicalLocation"]["region"]
        assert set(region) == {"startLine", "startColumn", "endLine", "endColumn"}
        assert all(type(value) is int and value >= 1 for value in region.values())
        assert (region["startLine"], region["startColumn"]) <= (region["endLine"], region["endColumn"])
    return run


def test_sarif():
    run = _sarif(REPORT)
    # ASF001 and ASF002 were not enabled, yet their findings need rules to point at.
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["ASF001", "ASF002", "ASF101"]
    assert run["tool"]["driver"]["rules"][2]["fullDescription"] == {
        "text": "Flags `time.sleep()` called directly in the body of an `async def` (a route, a dependency, "
        "middleware, a lifespan, or any coroutine), however `time` or `sleep` was imported or renamed."
    }
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["ASF002", "ASF001", "ASF101", "ASF101"]
    assert [r["ruleIndex"] for r in results] == [1, 0, 2, 2]
    assert [r["message"]["text"] for r in results] == [d.message for d in DIAGNOSTICS]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in results] == [
        {"uri": "file:///elsewhere/script.py"},
        {"uri": "app/odd%2C%20name.py", "uriBaseId": "%SRCROOT%"},
        {"uri": "app/routes.py", "uriBaseId": "%SRCROOT%"},
        {"uri": "app/routes.py", "uriBaseId": "%SRCROOT%"},
    ]
    assert [r["locations"][0]["physicalLocation"]["region"] for r in results] == [
        {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
        {"startLine": 2, "startColumn": 16, "endLine": 2, "endColumn": 16},
        {"startLine": 4, "startColumn": 5, "endLine": 4, "endColumn": 18},
        {"startLine": 5, "startColumn": 5, "endLine": 5, "endColumn": 18},
    ]


def test_sarif_describes_every_enabled_rule_even_without_results():
    run = _sarif(_report(diagnostics=(), rules=ALL_RULES))
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == [rule.code for rule in ALL_RULES]
    assert run["results"] == []


class _Wordy(Rule):
    """A rule outside the registry, found through `report.rules`."""

    code = "ASF999"
    name = "wordy"
    summary = "Says a lot"
    message = "Wordy"
    docs = (
        "\n## What it does\nFirst\nparagraph.\n\n- a list\n- of two\n\n"
        + "word " * 300
        + "\n\n## Why is this bad?\nNo.\n"
    )


def test_sarif_full_description_keeps_whole_paragraphs_that_fit():
    assert what_it_does(_Wordy) == "First paragraph.\n\n- a list - of two"
    run = _sarif(_report(diagnostics=(), rules=(_Wordy,)))
    assert run["tool"]["driver"]["rules"][0]["fullDescription"] == {"text": "First paragraph.\n\n- a list - of two"}


def test_sarif_full_description_cuts_a_long_first_paragraph_at_a_word():
    class Wordier(_Wordy):
        docs = "## What it does\n" + "word " * 300

    text = what_it_does(Wordier)
    assert len(text) <= 1024 and text == "word " * 203 + "word\u2026"


# --- every format ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [("concise", ""), ("full", ""), ("json", "[]\n"), ("json-lines", ""), ("github", ""), ("gitlab", "[]\n")],
)
def test_empty_run(name, expected):
    assert FORMATS[name](EMPTY) == expected


def test_empty_run_sarif():
    run = _sarif(EMPTY)
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["ASF101"]
    assert run["results"] == []


@pytest.mark.parametrize("name", list(FORMATS))
def test_output_ends_with_a_newline(name):
    assert FORMATS[name](REPORT).endswith("\n")


# --- fixes -----------------------------------------------------------------------------------

SAFE = Fix(
    "Use it",
    (Change(Action.AWAIT_INSTEAD, Span(Location(4, 5), Location(4, 18)), "asyncio.sleep"),),
    Applicability.SAFE,
)
UNSAFE = Fix(
    "Add it", (Change(Action.ADD_ARGUMENT, Span(Location(5, 5), Location(5, 18)), "timeout=10"),), Applicability.UNSAFE
)
#: The edits the fix engine works out for each fix (by its message).
EDITS = {
    "Use it": (Edit(Location(4, 1), Location(5, 1), "    await asyncio.sleep(1)\n"),),
    "Add it": (Edit(Location(5, 17), Location(5, 17), ", timeout=10"),),
}


def _fixed(diagnostic: Diagnostic, fix: Fix | None) -> Diagnostic:
    return dataclasses.replace(diagnostic, fix=fix)


WITH_FIXES = (_fixed(DIAGNOSTICS[2], SAFE), _fixed(DIAGNOSTICS[3], UNSAFE))


@pytest.mark.parametrize(
    ("show_fixes", "unsafe_fixes", "marked"),
    [(False, True, []), (True, False, [4]), (True, True, [4, 5])],
)
def test_concise_marks_findings_whose_fix_applies(show_fixes, unsafe_fixes, marked):
    report = Report(WITH_FIXES, (BlockingSleep,), ROOT, lambda _: [], show_fixes, unsafe_fixes)
    assert FORMATS["concise"](report) == "".join(
        f"app/routes.py:{row}:5: ASF101 {'[*] ' if row in marked else ''}{SLEEP}\n" for row in (4, 5)
    )


def test_json_fix_has_ruffs_shape():
    report = Report(WITH_FIXES, (BlockingSleep,), ROOT, lambda _: [], fix_edits=lambda d: EDITS[d.fix.message])  # type: ignore[union-attr]
    assert [finding["fix"] for finding in json.loads(FORMATS["json"](report))] == [
        {
            "applicability": "safe",
            "message": "Use it",
            "edits": [{"content": "    await asyncio.sleep(1)\n", "location": {"row": 4, "column": 1},
                       "end_location": {"row": 5, "column": 1}}],
        },
        {
            "applicability": "unsafe",
            "message": "Add it",
            "edits": [{"content": ", timeout=10", "location": {"row": 5, "column": 17},
                       "end_location": {"row": 5, "column": 17}}],
        },
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fixes", "fixed", "unsafe_fixes", "expected"),
    [
        ((), 0, None, "All checks passed!"),
        ((None,), 2, None, "Found 3 errors (2 fixed, 1 remaining)."),
        ((), 1, None, "Found 1 error (1 fixed, 0 remaining)."),
        ((SAFE, None), 0, None, "Found 2 errors.\n[*] 1 fixable with the `--fix` option."),
        ((SAFE, UNSAFE), 0, None, "Found 2 errors.\n[*] 1 fixable with the `--fix` option "
         "(1 hidden fix can be enabled with the `--unsafe-fixes` option)."),
        ((UNSAFE, UNSAFE), 0, None, "Found 2 errors.\nNo fixes available "
         "(2 hidden fixes can be enabled with the `--unsafe-fixes` option)."),
        ((UNSAFE, UNSAFE), 0, False, "Found 2 errors."),
        ((UNSAFE, SAFE), 0, True, "Found 2 errors.\n[*] 2 fixable with the `--fix` option."),
    ],
)  # fmt: skip
def test_summary_in_ruffs_words(fixes, fixed, unsafe_fixes, expected):
    found = [_fixed(DIAGNOSTICS[2], fix) for fix in fixes]
    assert summary(found, fixed, unsafe_fixes) == expected


@pytest.mark.parametrize(
    ("fixes", "fixed", "applied", "expected"),
    [
        ((), 0, False, None),
        ((), 1, False, "Would fix 1 error."),
        ((), 2, True, "Fixed 2 errors."),
        ((UNSAFE,), 2, False, "Would fix 2 errors (1 additional fix available with `--unsafe-fixes`)."),
        ((UNSAFE, UNSAFE), 1, True, "Fixed 1 error (2 additional fixes available with `--unsafe-fixes`)."),
        ((UNSAFE,), 0, False, "No errors would be fixed (1 fix available with `--unsafe-fixes`)."),
        ((UNSAFE, UNSAFE), 0, True, "No errors fixed (2 fixes available with `--unsafe-fixes`)."),
    ],
)
def test_fix_summary_in_ruffs_words(fixes, fixed, applied, expected):
    found = [_fixed(DIAGNOSTICS[2], fix) for fix in fixes]
    assert fix_summary(found, fixed, unsafe_fixes=False, applied=applied) == expected
