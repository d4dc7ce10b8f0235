"""A run that uses none of the plugin pays nothing for it: nothing heavy is imported."""

from __future__ import annotations

import pytest


def test_a_run_without_the_fixtures_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_modules():
            heavy = sorted(m for m in ("httpx", "uvicorn", "fastapi", "asyncsafe_lint.checker") if m in sys.modules)
            assert heavy == []
            # Of the linter, only what escapes the text reports quote, and the package's
            # version (neither imports anything).
            assert sorted(m for m in sys.modules if m.startswith("asyncsafe_lint")) == [
                "asyncsafe_lint", "asyncsafe_lint.untrusted", "asyncsafe_lint.version"
            ]
            assert "pytest_asyncsafe.plugin" in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:anyio")
    result.assert_outcomes(passed=1)
