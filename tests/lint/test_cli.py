"""`asyncsafe-lint` end to end: rule selection, `rule`, summaries, statistics,
configuration, exclusion and suppression comments, with exact outputs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from asyncsafe_lint import __version__
from asyncsafe_lint.cli import main
from asyncsafe_lint.rule import DOC_SECTIONS
from asyncsafe_lint.rules import ALL_RULES

SLEEP = (
    "ASF101 Blocking call `time.sleep()` in async function `{function}`: "
    "use `await asyncio.sleep()` (or `await anyio.sleep()`)"
)
REQUESTS = (
    "ASF201 `requests.get()` has no timeout: requests never times out on its own; "
    "pass `timeout=` (seconds, or a `(connect, read)` tuple)"
)

#: One ASF101 (row 7) and one ASF201 (row 11), nothing else.
APP = """\
import time

import requests


async def handler():
    time.sleep(1)


def fetch(url):
    return requests.get(url)
"""
APP_FINDINGS = [f"app.py:7:5: {SLEEP.format(function='handler')}", f"app.py:11:12: {REQUESTS}"]

#: SLEEP as shown when its fix applies: the ASF101 fix is safe, so it always does.
FIXABLE_SLEEP = SLEEP.replace("ASF101 ", "ASF101 [*] ")
#: APP_FINDINGS as shown without `--unsafe-fixes`: the sleep has a safe fix, the timeout an unsafe one.
SAFE_MARKED = [f"app.py:7:5: {FIXABLE_SLEEP.format(function='handler')}", f"app.py:11:12: {REQUESTS}"]

HAZARD = "import time\n\n\nasync def handler():\n    time.sleep(1)\n"


def fixable(count: int, hidden: int = 0) -> str:
    """The line after the summary when `count` findings have a fix that applies and
    `hidden` more have unsafe fixes only."""
    line = f"[*] {count} fixable with the `--fix` option"
    if hidden:
        fixes = "fix" if hidden == 1 else "fixes"
        line += f" ({hidden} hidden {fixes} can be enabled with the `--unsafe-fixes` option)"
    return f"{line}."


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project directory with its own `[tool.asyncsafe]`, as the current directory
    (so no configuration from above it, such as this repository's, can leak in)."""
    write(tmp_path / "pyproject.toml", "[tool.asyncsafe]\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *args: str) -> tuple[int, list[str], str]:
    """Exit code, stdout lines and stderr of `asyncsafe-lint ARGS`."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def findings(lines: list[str]) -> list[tuple[str, int, str]]:
    """(file, row, code) of each concise finding line; the summary line must come last,
    or before the line about fixes."""
    assert lines, "no output at all"
    if lines[-1].startswith(("No fixes available", "[*] ")):
        lines = lines[:-1]
    assert lines[-1] == "All checks passed!" or lines[-1].startswith("Found "), lines[-1]
    result = []
    for line in lines[:-1]:
        location, message = line.split(": ", 1)
        filename, row, _column = location.rsplit(":", 2)
        result.append((filename, int(row), message.split(" ", 1)[0]))
    return result


# --- rule selection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param([], ["ASF101", "ASF201"], id="default-selects-everything"),
        pytest.param(["--select", "ASF1"], ["ASF101"], id="select-prefix"),
        pytest.param(["--select", "ASF201,ASF101"], ["ASF101", "ASF201"], id="select-comma-list"),
        pytest.param(["--select", "ASF2", "--select", "ASF101"], ["ASF101", "ASF201"], id="select-repeated"),
        pytest.param(["--select", "ASF", "--ignore", "ASF1"], ["ASF201"], id="ignore-prefix"),
        pytest.param(
            ["--select", "ASF", "--ignore", "ASF1", "--extend-select", "ASF101"],
            ["ASF101", "ASF201"],
            id="more-specific-extend-select-beats-ignore",
        ),
        pytest.param(["--ignore", "ASF101", "--extend-select", "ASF1"], ["ASF201"], id="more-specific-ignore-wins"),
        pytest.param(["--select", "ASF1", "--ignore", "ASF"], ["ASF101"], id="more-specific-select-wins"),
        pytest.param(["--select", "ASF101", "--ignore", "ASF101"], [], id="tie-ignore-wins"),
        pytest.param(["--select", "ALL", "--ignore", "ASF2"], ["ASF101"], id="select-all"),
        pytest.param(["--select", "ASF", "--ignore", "ALL"], ["ASF101", "ASF201"], id="all-is-least-specific"),
        pytest.param(["--select", "ASF2", "--ignore", "ASF101"], ["ASF201"], id="ignore-unselected"),
    ],
)
def test_selection_precedence_follows_ruff(project, capsys, args, expected):
    write(project / "app.py", APP)
    code, lines, err = run(capsys, "check", *args)
    assert [c for _, _, c in findings(lines)] == expected
    assert code == (1 if expected else 0)
    assert err == ""


@pytest.mark.parametrize(
    ("config", "args", "expected"),
    [
        pytest.param('select = ["ASF2"]', [], ["ASF201"], id="config-select"),
        pytest.param('select = ["ASF2"]', ["--select", "ASF1"], ["ASF101"], id="cli-select-replaces-config"),
        pytest.param('select = ["ASF2"]', ["--extend-select", "ASF101"], ["ASF101", "ASF201"], id="cli-extends"),
        pytest.param('ignore = ["ASF201"]', ["--ignore", "ASF101"], [], id="ignores-add-up"),
        pytest.param('extend-select = ["ASF101"]\nignore = ["ASF1"]', [], ["ASF101", "ASF201"], id="config-extend"),
    ],
)
def test_selection_combines_configuration_and_command_line(project, capsys, config, args, expected):
    write(project / "pyproject.toml", f"[tool.asyncsafe]\n{config}\n")
    write(project / "app.py", APP)
    code, lines, _ = run(capsys, "check", *args)
    assert [c for _, _, c in findings(lines)] == expected
    assert code == (1 if expected else 0)


# --- summaries, statistics, exit codes ------------------------------------------------------


def test_findings_are_printed_in_concise_format_with_a_summary(project, capsys):
    write(project / "app.py", APP)
    assert run(capsys, "check") == (1, [*SAFE_MARKED, "Found 2 errors.", fixable(1, hidden=1)], "")


def test_one_finding_is_one_error(project, capsys):
    write(project / "app.py", HAZARD)
    assert run(capsys, "check", "app.py") == (
        1,
        [f"app.py:5:5: {FIXABLE_SLEEP.format(function='handler')}", "Found 1 error.", fixable(1)],
        "",
    )


def test_clean_code_passes(project, capsys):
    write(project / "app.py", "import asyncio\n\n\nasync def handler():\n    await asyncio.sleep(1)\n")
    assert run(capsys, "check") == (0, ["All checks passed!"], "")


def test_exit_zero_still_prints_findings(project, capsys):
    write(project / "app.py", APP)
    assert run(capsys, "check", "--exit-zero") == (0, [*SAFE_MARKED, "Found 2 errors.", fixable(1, hidden=1)], "")


def test_statistics_count_findings_per_rule(project, capsys):
    sleeps = "".join(f"    time.sleep({n})\n" for n in range(11))
    write(project / "app.py", f"{APP}\n\nasync def more():\n{sleeps}")
    code, lines, err = run(capsys, "check", "--statistics")
    assert (code, err) == (1, "")
    assert lines == [
        "12\tASF101\t[*] blocking-sleep",
        " 1\tASF201\t[ ] requests-without-timeout",
        "Found 13 errors.",
        fixable(12, hidden=1),
    ]


def test_statistics_of_a_clean_project(project, capsys):
    assert run(capsys, "check", "--statistics") == (0, ["All checks passed!"], "")


def test_statistics_as_json(project, capsys):
    write(project / "app.py", APP)
    code = main(["check", "--statistics", "--output-format", "json"])
    assert code == 1
    assert json.loads(capsys.readouterr().out) == [
        {"code": "ASF101", "name": "blocking-sleep", "count": 1, "fixable": True},
        {"code": "ASF201", "name": "requests-without-timeout", "count": 1, "fixable": False},
    ]


# --- `rule` ---------------------------------------------------------------------------------


def test_rule_prints_ruffs_sections(capsys):
    code, lines, err = run(capsys, "rule", "ASF101")
    assert (code, err) == (0, "")
    assert lines[:6] == [
        "# blocking-sleep (ASF101)",
        "",
        "`time.sleep()` in async code stops the whole event loop.",
        "",
        "Fix is sometimes available.",
        "",
    ]
    assert [line[3:] for line in lines if line.startswith("## ")] == list(DOC_SECTIONS)
    assert lines[6] == "## What it does"
    assert lines[-1] == "`time.sleep()` does)."


def test_rule_code_is_case_insensitive(capsys):
    code, lines, err = run(capsys, "rule", "asf101")
    assert (code, lines[0], err) == (0, "# blocking-sleep (ASF101)", "")
    assert run(capsys, "rule", "ASF101") == (code, lines, err)


def test_rule_as_json(capsys):
    assert main(["rule", "ASF101", "--output-format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["code"] == "ASF101"
    assert payload["name"] == "blocking-sleep"
    assert payload["explanation"].startswith("## What it does\nFlags `time.sleep()` called directly")


def test_rule_all_as_json_lists_every_rule(capsys):
    assert main(["rule", "--all", "--output-format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [entry["code"] for entry in payload] == [rule.code for rule in ALL_RULES]
    assert {"ASF001", "ASF002", "ASF101", "ASF201"} <= {entry["code"] for entry in payload}
    # Ruff's three phrases: a fix is "sometimes" available where it is not offered in
    # every case it could not be made safely enough.
    sometimes = ("ASF101", "ASF102", "ASF103", "ASF104", "ASF105", "ASF106", "ASF107", "ASF108", "ASF110")
    assert {entry["code"]: entry["fix"] for entry in payload if entry["fix"] != "Fix is not available."} == {
        **dict.fromkeys(sometimes, "Fix is sometimes available."),
        **dict.fromkeys(("ASF201", "ASF204", "ASF205", "ASF206"), "Fix is always available."),
        **dict.fromkeys(("ASF202", "ASF203", "ASF207", "ASF301"), "Fix is sometimes available."),
    }
    for entry, rule in zip(payload, ALL_RULES, strict=True):
        assert entry["name"] == rule.name
        headings = [line[3:] for line in entry["explanation"].splitlines() if line.startswith("## ")]
        assert headings == list(DOC_SECTIONS), rule.code


def test_rule_all_as_text_has_one_title_per_rule(capsys):
    code, lines, _ = run(capsys, "rule", "--all")
    assert code == 0
    titles = [line for line in lines if re.fullmatch(r"# [a-z0-9-]+ \(ASF[0-9]+\)", line)]
    assert titles == [f"# {r.name} ({r.code})" for r in ALL_RULES]


def test_unknown_rule_is_a_usage_error(capsys):
    assert run(capsys, "rule", "ASF999") == (
        2,
        [],
        "asyncsafe-lint: error: unknown rule code `ASF999` (see `asyncsafe-lint rule --all`)\n",
    )


# --- fixes: --fix, --unsafe-fixes, --diff, --fix-only -----------------------------------------

#: APP with both of its fixes applied (the sleep's is safe, the timeout's unsafe).
APP_FIXED = """\
import time

import requests
import asyncio


async def handler():
    await asyncio.sleep(1)


def fetch(url):
    return requests.get(url, timeout=10)
"""
#: What `--diff` shows for APP without `--unsafe-fixes`: the sleep's fix only.
SLEEP_DIFF = [
    "--- app.py",
    "+++ app.py",
    "@@ -1,10 +1,11 @@",
    " import time",
    " ",
    " import requests",
    "+import asyncio",
    " ",
    " ",
    " async def handler():",
    "-    time.sleep(1)",
    "+    await asyncio.sleep(1)",
    " ",
    " ",
    " def fetch(url):",
    "",
]
#: The same with `--unsafe-fixes`: one line more on each side, and the timeout.
APP_DIFF = [
    *SLEEP_DIFF[:2],
    "@@ -1,11 +1,12 @@",
    *SLEEP_DIFF[3:-1],
    "-    return requests.get(url)",
    "+    return requests.get(url, timeout=10)",
    "",
]
#: One more ASF101 whose call is not a statement of its own: it has no fix.
UNFIXABLE = "\n\nasync def value():\n    return time.sleep(2)\n"
#: APP_FINDINGS as they are shown when unsafe fixes count.
MARKED = [line.replace(": ASF101 ", ": ASF101 [*] ").replace(": ASF201 ", ": ASF201 [*] ") for line in APP_FINDINGS]
FIXABLE = "[*] 2 fixable with the `--fix` option."
#: After fixing without `--unsafe-fixes`: the timeout's fix is left, unsafe.
HIDDEN = "No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` option)."


def test_fixable_findings_are_marked_once_unsafe_fixes_count(project, capsys):
    write(project / "app.py", APP)
    assert run(capsys, "check", "--unsafe-fixes") == (1, [*MARKED, "Found 2 errors.", FIXABLE], "")
    # `--no-unsafe-fixes` drops the hint about the unsafe fix too, as in ruff.
    assert run(capsys, "check", "--no-unsafe-fixes") == (1, [*SAFE_MARKED, "Found 2 errors.", fixable(1)], "")


def test_fix_applies_only_safe_fixes_without_unsafe_fixes(project, capsys):
    write(project / "app.py", APP)
    assert run(capsys, "check", "--fix") == (
        1, [f"app.py:12:12: {REQUESTS}", "Found 2 errors (1 fixed, 1 remaining).", HIDDEN], "",
    )  # fmt: skip
    assert (project / "app.py").read_text() == APP_FIXED.replace(", timeout=10", "")
    # The timeout fix is unsafe: a second plain `--fix` leaves the file as it is.
    assert run(capsys, "check", "--fix") == (1, [f"app.py:12:12: {REQUESTS}", "Found 1 error.", HIDDEN], "")
    assert (project / "app.py").read_text() == APP_FIXED.replace(", timeout=10", "")


def test_plain_fix_rewrites_a_blocking_sleep(project, capsys):
    write(project / "app.py", HAZARD)
    assert run(capsys, "check", "--fix") == (0, ["Found 1 error (1 fixed, 0 remaining)."], "")
    fixed = "import time\nimport asyncio\n\n\nasync def handler():\n    await asyncio.sleep(1)\n"
    assert (project / "app.py").read_text() == fixed
    # A second `--fix` finds nothing to change, even asked to fail on a fix.
    assert run(capsys, "check", "--fix", "--exit-non-zero-on-fix") == (0, ["All checks passed!"], "")
    assert (project / "app.py").read_text() == fixed
    write(project / "app.py", HAZARD)
    assert run(capsys, "check", "--fix", "--exit-non-zero-on-fix") == (1, ["Found 1 error (1 fixed, 0 remaining)."], "")
    assert (project / "app.py").read_text() == fixed


def test_fix_writes_the_fixes_and_reports_what_remains(project, capsys):
    write(project / "app.py", APP + UNFIXABLE)
    code, lines, err = run(capsys, "check", "--fix", "--unsafe-fixes")
    assert (project / "app.py").read_text() == APP_FIXED + UNFIXABLE
    assert (code, err) == (1, "")
    # No `[*]` after fixing: what remains has no fix that applies.
    assert lines == [f"app.py:16:12: {SLEEP.format(function='value')}", "Found 3 errors (2 fixed, 1 remaining)."]
    # A second run changes nothing.
    assert run(capsys, "check", "--fix", "--unsafe-fixes") == (
        1, [f"app.py:16:12: {SLEEP.format(function='value')}", "Found 1 error."], ""
    )
    assert (project / "app.py").read_text() == APP_FIXED + UNFIXABLE


def test_fix_exits_zero_when_nothing_remains(project, capsys):
    write(project / "app.py", APP)
    assert run(capsys, "check", "--fix", "--unsafe-fixes") == (0, ["Found 2 errors (2 fixed, 0 remaining)."], "")
    assert (project / "app.py").read_text() == APP_FIXED
    write(project / "app.py", APP)
    assert run(capsys, "check", "--fix", "--unsafe-fixes", "--exit-non-zero-on-fix")[0] == 1


def test_fix_and_unsafe_fixes_from_the_configuration(project, capsys):
    write(project / "pyproject.toml", "[tool.asyncsafe]\nfix = true\nunsafe-fixes = true\ndefault-timeout = 3\n")
    write(project / "app.py", APP)
    assert run(capsys, "check", "--no-fix") == (1, [*MARKED, "Found 2 errors.", FIXABLE], "")
    assert (project / "app.py").read_text() == APP
    assert run(capsys, "check") == (0, ["Found 2 errors (2 fixed, 0 remaining)."], "")
    assert (project / "app.py").read_text() == APP_FIXED.replace("timeout=10", "timeout=3")


def test_diff_prints_the_change_and_writes_nothing(project, capsys):
    write(project / "app.py", APP)
    assert run(capsys, "check", "--diff", "--unsafe-fixes") == (1, [*APP_DIFF, "Would fix 2 errors."], "")
    assert (project / "app.py").read_text() == APP
    # Without unsafe fixes only the sleep's fix is shown.
    assert run(capsys, "check", "--diff") == (
        1, [*SLEEP_DIFF, "Would fix 1 error (1 additional fix available with `--unsafe-fixes`)."], "",
    )  # fmt: skip
    assert (project / "app.py").read_text() == APP
    write(project / "app.py", APP_FIXED)
    assert run(capsys, "check", "--diff", "--unsafe-fixes") == (0, [], "")


def test_fix_only_applies_and_reports_only_the_count(project, capsys):
    write(project / "app.py", APP + UNFIXABLE)
    assert run(capsys, "check", "--fix-only", "--unsafe-fixes") == (0, ["Fixed 2 errors."], "")
    assert (project / "app.py").read_text() == APP_FIXED + UNFIXABLE
    write(project / "app.py", APP)
    assert run(capsys, "check", "--fix-only", "--unsafe-fixes", "--exit-non-zero-on-fix") == (1, ["Fixed 2 errors."], "")
    assert run(capsys, "check", "--fix-only") == (0, [], "")
    write(project / "app.py", APP)
    assert run(capsys, "check", "--fix-only") == (
        0, ["Fixed 1 error (1 additional fix available with `--unsafe-fixes`)."], "",
    )  # fmt: skip
    assert (project / "app.py").read_text() == APP_FIXED.replace(", timeout=10", "")


def test_statistics_mark_rules_with_fixes(project, capsys):
    write(project / "app.py", APP + UNFIXABLE)
    code, lines, _ = run(capsys, "check", "--statistics", "--unsafe-fixes")
    assert (code, lines) == (
        1,
        ["2\tASF101\t[*] blocking-sleep", "1\tASF201\t[*] requests-without-timeout", "Found 3 errors.",
         FIXABLE],
    )  # fmt: skip
    main(["check", "--statistics", "--unsafe-fixes", "--output-format", "json"])
    assert [row["fixable"] for row in json.loads(capsys.readouterr().out)] == [True, True]


def test_json_output_carries_each_fix(project, capsys):
    write(project / "app.py", APP)
    assert main(["check", "--output-format", "json"]) == 1
    assert [finding["fix"] for finding in json.loads(capsys.readouterr().out)] == [
        {
            "applicability": "safe",
            "message": "Use `await asyncio.sleep()`",
            "edits": [
                {"content": "import asyncio\n", "location": {"row": 4, "column": 1}, "end_location": {"row": 4, "column": 1}},
                {"content": "await asyncio", "location": {"row": 7, "column": 5},
                 "end_location": {"row": 7, "column": 9}},
            ],
        },
        {
            "applicability": "unsafe",
            "message": "Add `timeout=10`",
            "edits": [{"content": ", timeout=10", "location": {"row": 11, "column": 28},
                       "end_location": {"row": 11, "column": 28}}],
        },
    ]  # fmt: skip


# --- configuration: per-file-ignores, exclude, --config -------------------------------------

CONFIG = """\
[tool.asyncsafe]
exclude = ["generated", "vendored_*.py"]

[tool.asyncsafe.per-file-ignores]
"legacy/*" = ["ASF1"]
"scripts/tool.py" = ["ALL"]
"conftest.py" = ["ASF201"]
"""


def _configured_project(root: Path) -> None:
    write(root / "pyproject.toml", CONFIG)
    for name in (
        "app.py",
        "legacy/old.py",
        "scripts/tool.py",
        "scripts/other.py",
        "tests/conftest.py",
        "generated/api.py",
        "pkg/generated/api.py",
        "pkg/vendored_lib.py",
    ):
        write(root / name, APP)


def test_per_file_ignores_and_exclude_from_the_configuration(tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    _configured_project(project)
    monkeypatch.chdir(tmp_path)  # not the project: --config alone decides, paths are relative to it
    code, lines, err = run(capsys, "check", "--config", "project/pyproject.toml", "project")
    assert (code, err) == (1, "")
    assert findings(lines) == [
        ("project/app.py", 7, "ASF101"),
        ("project/app.py", 11, "ASF201"),
        ("project/legacy/old.py", 11, "ASF201"),
        ("project/scripts/other.py", 7, "ASF101"),
        ("project/scripts/other.py", 11, "ASF201"),
        ("project/tests/conftest.py", 7, "ASF101"),
    ]
    assert lines[-2:] == ["Found 6 errors.", fixable(3, hidden=3)]


def test_config_file_is_the_one_given_not_the_nearest(tmp_path, monkeypatch, capsys):
    _configured_project(tmp_path)
    # Not named pyproject.toml, so the whole file is the table.
    write(tmp_path / "other.toml", 'select = ["ASF2"]\n')
    monkeypatch.chdir(tmp_path)
    code, lines, _ = run(capsys, "check", "--config", "other.toml", "app.py", "legacy/old.py")
    assert findings(lines) == [("app.py", 11, "ASF201"), ("legacy/old.py", 11, "ASF201")]


def test_force_exclude_applies_exclude_to_paths_named_explicitly(tmp_path, monkeypatch, capsys):
    _configured_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    excluded = ["generated/api.py", "pkg/vendored_lib.py", "pkg/generated/api.py"]

    # Without --force-exclude a file named on the command line is checked (as in ruff) ...
    code, lines, _ = run(capsys, "check", *excluded)
    assert code == 1
    assert [f for f, _, c in findings(lines) if c == "ASF101"] == sorted(excluded)

    # ... with it, it is skipped, whether excluded by its own name or a directory above it.
    assert run(capsys, "check", "--force-exclude", *excluded) == (0, ["All checks passed!"], "")

    # What is not excluded is still checked.
    code, lines, _ = run(capsys, "check", "--force-exclude", "app.py", *excluded)
    assert findings(lines) == [("app.py", 7, "ASF101"), ("app.py", 11, "ASF201")]


def test_an_excluded_directory_named_explicitly_is_walked_unless_force_exclude(tmp_path, monkeypatch, capsys):
    # `asyncsafe-lint check fixtures_app` must check the fixtures although the project's
    # configuration excludes them from `asyncsafe-lint check .` (as ruff does).
    _configured_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, lines, _ = run(capsys, "check", "generated")
    assert findings(lines) == [("generated/api.py", 7, "ASF101"), ("generated/api.py", 11, "ASF201")]
    assert run(capsys, "check", "--force-exclude", "generated") == (0, ["All checks passed!"], "")
    # Walking it still skips what is excluded below it.
    code, lines, _ = run(capsys, "check", "pkg")
    assert lines == ["All checks passed!"]


def test_default_excludes_apply_below_the_project_only(tmp_path, monkeypatch, capsys):
    # A project that itself lives in a directory called `build` (or `venv`, `dist`, ...).
    project = tmp_path / "build" / "project"
    write(project / "pyproject.toml", "[tool.asyncsafe]\n")
    write(project / "app.py", HAZARD)
    write(project / "build" / "lib" / "app.py", HAZARD)
    write(project / ".venv" / "lib" / "app.py", HAZARD)
    monkeypatch.chdir(project)
    code, lines, _ = run(capsys, "check")
    assert findings(lines) == [("app.py", 5, "ASF101")]
    code, lines, _ = run(capsys, "check", "--force-exclude", "app.py", "build/lib/app.py", ".venv/lib/app.py")
    assert findings(lines) == [("app.py", 5, "ASF101")]


# --- suppression comments -------------------------------------------------------------------

SUPPRESSED = """\
import time


async def handler():
    time.sleep(1)  # noqa
    time.sleep(2)  # noqa: ASF101
    time.sleep(3)  # noqa: ASF201
    time.sleep(4)  # asyncsafe: ignore[ASF101]
    time.sleep(5)  # asyncsafe: ignore[ASF201, ASF202]
    time.sleep(6)  # asyncsafe: ignore
    x = "# noqa"; time.sleep(7)
    time.sleep(8)  # NOQA:ASF201,ASF101
    time.sleep(9)  # type: ignore  # noqa: ASF101
    time.sleep(10)
    return x
"""


def test_noqa_and_asyncsafe_ignore_comments(project, capsys):
    write(project / "app.py", SUPPRESSED)
    code, lines, _ = run(capsys, "check")
    assert code == 1
    assert findings(lines) == [("app.py", 7, "ASF101"), ("app.py", 9, "ASF101"), ("app.py", 11, "ASF101"),
                               ("app.py", 14, "ASF101")]  # fmt: skip


def test_suppression_comments_stay_on_their_line_after_a_form_feed(project, capsys):
    # `str.splitlines()` splits at a form feed, Python does not: rows must not shift.
    write(project / "app.py", "import time\n\x0c\n\nasync def f():\n    time.sleep(1)  # noqa\n    time.sleep(2)\n")
    code, lines, _ = run(capsys, "check")
    assert lines == [f"app.py:6:5: {FIXABLE_SLEEP.format(function='f')}", "Found 1 error.", fixable(1)]
    code, lines, _ = run(capsys, "check", "--output-format", "full")
    assert lines[1:5] == ["  |", "6 |     time.sleep(2)", "  |     ^^^^^^^^^^^^^ ASF101", "  |"]


def test_noqa_for_one_rule_leaves_the_other(project, capsys):
    write(project / "app.py", "import requests, time\n\n\nasync def f():\n    time.sleep(requests.get(1))  # noqa: ASF201\n")
    code, lines, _ = run(capsys, "check", "--select", "ASF101,ASF201")
    assert findings(lines) == [("app.py", 5, "ASF101")]


# --- entry points ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(["rule", "--all", "--output-format", "json"], id="rule"),
        pytest.param(["check", "app.py", "--no-cache"], id="check"),
        pytest.param(["check", "app.py"], id="replayed-check"),
    ],
)
def test_a_reader_that_stops_early_ends_the_run_quietly(project, arguments):
    # `asyncsafe-lint ... | head`: the reader closes the pipe; the linter stops at its
    # next write, with no traceback and the status of a tool that SIGPIPE ended.
    write(project / "app.py", "import time\n\n\nasync def f():\n    time.sleep(1)\n")
    command = [sys.executable, "-m", "asyncsafe_lint", *arguments]
    if arguments[-1] == "app.py":
        subprocess.run(command, cwd=project, capture_output=True, timeout=60, check=False)  # recorded for replay
    reader, writer = os.pipe()
    os.close(reader)  # gone before the first write: a broken pipe, for certain
    try:
        completed = subprocess.run(command, cwd=project, stdout=writer, stderr=subprocess.PIPE, timeout=60, check=False)
    finally:
        os.close(writer)
    assert (completed.returncode, completed.stderr) == (128 + signal.SIGPIPE, b"")


def test_version_through_python_dash_m():
    completed = subprocess.run(
        [sys.executable, "-m", "asyncsafe_lint", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, f"asyncsafe-lint {__version__}\n", "")
    assert __version__ == version("pytest-asyncsafe")


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err
