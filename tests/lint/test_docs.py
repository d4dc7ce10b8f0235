"""The rule table of docs/linter.md and docs/rules.md are generated from the rules: fail on drift."""

from __future__ import annotations

from pathlib import Path

from asyncsafe_lint.docs import rule_table, rules_page, with_table

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "run `.venv/bin/python -m asyncsafe_lint.docs` to regenerate"


def test_linter_page_rule_table_matches_the_rules():
    page = (ROOT / "docs" / "linter.md").read_text()
    assert rule_table() in page, REGENERATE
    assert with_table(page) == page, REGENERATE


def test_rules_page_matches_the_rules():
    assert (ROOT / "docs" / "rules.md").read_text() == rules_page(), REGENERATE
