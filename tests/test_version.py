"""The version is written once (src/asyncsafe_lint/version.py): the distribution's metadata,
`asyncsafe-lint --version`, pytest's header and the changelog all read the same."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

from asyncsafe_lint.version import __version__

ROOT = Path(__file__).resolve().parents[1]


def test_the_distribution_has_the_version_of_the_code():
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert importlib.metadata.version("pytest-asyncsafe") == __version__


def test_asyncsafe_lint_prints_it():
    completed = subprocess.run(
        [sys.executable, "-m", "asyncsafe_lint", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, f"asyncsafe-lint {__version__}\n", "")


def test_pytest_shows_it_in_its_header(pytester: pytest.Pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest()
    assert f"asyncsafe: {__version__}" in result.outlines[:6]


def test_the_changelog_has_a_section_for_it():
    # Keep a Changelog: `[Unreleased]` on top, then one dated section per release.  The
    # version in the code is either released (dated) or what `[Unreleased]` becomes.
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## .*$", changelog, flags=re.MULTILINE)
    assert headings[0] == "## [Unreleased]"
    released = [re.fullmatch(r"## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}", heading) for heading in headings[1:]]
    assert all(released), headings
    unreleased = changelog[
        changelog.index("## [Unreleased]") : changelog.find("\n## [", changelog.index("## [Unreleased]") + 1)
    ]
    assert __version__ in [match.group(1) for match in released if match] or (
        f"To be released as {__version__}" in unreleased
    )
