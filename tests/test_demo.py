"""`make demo` closes with what was meant to happen (demo/conftest.py): the failures it
shows on purpose, and any test that ended otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parents[1] / "demo" / "conftest.py"

TESTS = """
import pytest

@pytest.mark.intended_failure("it is meant to fail")
def test_meant_to_fail():
    assert False

@pytest.mark.intended_failure("it should have failed")
def test_meant_to_fail_but_passes():
    pass

def test_meant_to_pass():
    pass

def test_meant_to_pass_but_fails():
    assert False

def test_meant_to_pass_but_skipped():
    pytest.skip("as an invalid load run ends: neither passed nor failed")
"""


@pytest.fixture
def demo(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_demo=TESTS)
    return pytester


def test_every_test_that_ended_otherwise_than_intended_is_named(demo: pytest.Pytester) -> None:
    result = demo.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=2, failed=2, skipped=1)
    section = result.outlines[result.outlines.index(next(l for l in result.outlines if "demo: what was meant" in l)) :]
    assert section[1:7] == [
        "1 failed on purpose, each for its hazard:",
        "  test_meant_to_fail              it is meant to fail",
        "1 passed, as they should: the safe routes, clean loads and clean drains.",
        "  UNEXPECTED: test_meant_to_pass_but_fails failed; it is meant to pass",
        "  UNEXPECTED: test_meant_to_pass_but_skipped ended skipped; it is meant to pass",
        "  UNEXPECTED: test_meant_to_fail_but_passes passed; it is meant to fail (it should have failed)",
    ]
    assert "Every test ended as the demo intends." not in result.outlines


def test_a_demo_that_went_as_intended_says_so(demo: pytest.Pytester) -> None:
    result = demo.runpytest("-p", "no:cacheprovider", "--strict-markers", "-k", "not but")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= demo: what was meant to happen =*",
            "1 failed on purpose, each for its hazard:",
            "  test_meant_to_fail  it is meant to fail",
            "1 passed, as they should: the safe routes, clean loads and clean drains.",
            "Every test ended as the demo intends.",
        ]
    )
