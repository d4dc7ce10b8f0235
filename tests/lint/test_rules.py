"""Every rule's VALID and INVALID examples, run through the whole engine."""

from __future__ import annotations

import pytest

from asyncsafe_lint.config import Settings
from asyncsafe_lint.engine import check_source
from asyncsafe_lint.fix import apply_fixes
from asyncsafe_lint.rule import DOC_SECTIONS, FixAvailability, Invalid
from asyncsafe_lint.rules import ALL_RULES
from asyncsafe_lint.rules.asf002_io_error import IOErrorRule
from asyncsafe_lint.rules.asf003_newer_syntax import NewerSyntax

from .expectations import expected, reported

SETTINGS = Settings(blocking_calls=(("mylib.fetch", "use `mylib.afetch()`"),))


def _examples(kind: str) -> list[object]:
    return [
        pytest.param(rule, source, id=f"{rule.code}-{index}")
        for rule in ALL_RULES
        for index, source in enumerate(getattr(rule, kind))
    ]


@pytest.mark.parametrize(("rule", "example"), _examples("invalid"))
def test_invalid_example_reports_what_it_states(rule, example: Invalid):
    found = [d for d in check_source(example.source.encode(), "example.py", SETTINGS, ALL_RULES) if d.code == rule.code]
    wanted = expected(example.source)
    assert wanted, "an INVALID example must annotate at least one line"
    assert {code for _, code in wanted} == {rule.code}
    assert reported(found) == wanted
    in_order = sorted(found, key=lambda d: d.location)
    assert len(in_order) == len(example.messages), [d.message for d in in_order]
    for diagnostic, message in zip(in_order, example.messages, strict=True):
        assert message in diagnostic.message
    text, applied = apply_fixes(example.source, found, unsafe=True)
    assert (text if applied else None) == example.fixed


@pytest.mark.parametrize(("rule", "source"), _examples("valid"))
def test_valid_example_is_not_flagged(rule, source):
    diagnostics = check_source(source.encode(), "example.py", SETTINGS, ALL_RULES)
    assert [d for d in diagnostics if d.code == rule.code] == []


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_rule_is_documented_in_ruffs_sections(rule):
    headings = [line[3:] for line in rule.docs.splitlines() if line.startswith("## ")]
    assert headings == list(DOC_SECTIONS)
    assert rule.name == rule.name.lower() and " " not in rule.name and "_" not in rule.name
    assert rule.summary and rule.message


@pytest.mark.parametrize("rule", [r for r in ALL_RULES if r is not IOErrorRule], ids=lambda rule: rule.code)
def test_rule_has_examples(rule):
    # io-error is about files that cannot be read, which no source string can show;
    # tests/lint/test_bad_input.py covers it.  What newer-syntax reports depends on the
    # Python running the linter (3.12 reads what 3.11 cannot): tests/lint/test_newer_syntax.py
    # covers it, interpreter by interpreter.
    if rule is not NewerSyntax:
        assert rule.invalid
    if rule.code != "ASF001":
        assert rule.valid


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_fix_availability_is_what_the_invalid_examples_show(rule):
    # What `rule --output-format json` says of fixes must be what the rule does (which
    # the examples state, and test_invalid_example_reports_what_it_states checks).
    fixed = [example.fixed is not None for example in rule.invalid]
    shown = {
        (True,): FixAvailability.ALWAYS,
        (False, True): FixAvailability.SOMETIMES,
        (False,): FixAvailability.NONE,
        (): FixAvailability.NONE,
    }[tuple(sorted(set(fixed)))]
    assert rule.fix_availability is shown


def test_codes_and_names_are_unique():
    assert len({r.code for r in ALL_RULES}) == len({r.name for r in ALL_RULES}) == len(ALL_RULES)
