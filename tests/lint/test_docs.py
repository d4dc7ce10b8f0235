"""The README's rule table and docs/rules.md are generated from the rules: fail on drift."""

from __future__ import annotations

from pathlib import Path

from asyncsafe_lint.docs import rule_table, rules_page, with_table

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "run `.venv/bin/python -m asyncsafe_lint.docs` to regenerate"


def test_readme_rule_table_matches_the_rules():
    readme = (ROOT / "README.md").read_text()
    assert rule_table() in readme, REGENERATE
    assert with_table(readme) == readme, REGENERATE


def test_rules_page_matches_the_rules():
    assert (ROOT / "docs" / "rules.md").read_text() == rules_page(), REGENERATE
