"""Options and markers with bad values, and the lint item `--asyncsafe` adds."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .support import app_line, outcomes, run, write_ini

TRIVIAL = """
def test_nothing():
    pass
"""


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "--asyncsafe-block-threshold=10 parsecs",
            "ERROR: asyncsafe: --asyncsafe-block-threshold: invalid duration '10 parsecs' (use e.g. 250ms, 2s or 1.5)",
        ),
        ("--asyncsafe-workers=zero", "ERROR: asyncsafe: --asyncsafe-workers: expected a whole number, got 'zero'"),
        ("--asyncsafe-workers=0", "ERROR: asyncsafe: --asyncsafe-workers: must be at least 1, got 0"),
        (
            "--asyncsafe-loop=tokio",
            "ERROR: asyncsafe: --asyncsafe-loop: expected one of auto, asyncio, uvloop, got 'tokio'",
        ),
        (
            "--asyncsafe-http=curl",
            "ERROR: asyncsafe: --asyncsafe-http: expected one of auto, h11, httptools, got 'curl'",
        ),
        (
            "--asyncsafe-app=fixtures_app.main",
            "ERROR: asyncsafe: --asyncsafe-app: expected IMPORT:ATTRIBUTE (e.g. myapp.main:app), got 'fixtures_app.main'",
        ),
    ],
    ids=["threshold", "workers-word", "workers-zero", "loop", "http", "app"],
)
def test_a_bad_option_value_is_a_usage_error_naming_the_option(
    project: pytest.Pytester, option: str, message: str
) -> None:
    project.makepyfile(test_trivial=TRIVIAL)
    result = run(project, "--asyncsafe", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message.replace("[", "[[]")])


def test_a_bad_marker_value_errors_its_test_only(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_marker="""
        import pytest

        @pytest.mark.asyncsafe_block_threshold("soon")
        def test_typo():
            pass

        def test_fine():
            pass
        """
    )
    result = run(project, "--asyncsafe")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_typo _*",
            "asyncsafe_block_threshold: invalid duration 'soon' (use e.g. 250ms, 2s or 1.5)",
        ]
    )


# --- the lint item ----------------------------------------------------------------------------


def test_asyncsafe_collects_a_lint_item_that_lists_the_apps_findings(project: pytest.Pytester) -> None:
    write_ini(project, lint=True)
    project.makepyfile(test_trivial=TRIVIAL)
    line, column, _ = app_line("routes/hazards.py", "time.sleep(0.3)  # expect: ASF101")
    variants_line, variants_column, _ = app_line("variants.py", "time.sleep(0.3)  # expect: ASF101")

    result = run(project, "--asyncsafe")

    result.assert_outcomes(passed=1, failed=1)
    assert outcomes(result, "FAILED") == {"asyncsafe::lint"}
    result.stdout.fnmatch_lines(
        [
            "*_ asyncsafe-lint fixtures_app _*",
            (
                f"fixtures_app/routes/hazards.py:{line}:{column}: ASF101 Blocking call `time.sleep()` in async"
                " route GET /hazards/sleep: use `await asyncio.sleep()` (or `await anyio.sleep()`)"
            ),
            f"fixtures_app/variants.py:{variants_line}:{variants_column}: ASF101 * in lifespan `blocking_lifespan`*",
            "asyncsafe-lint: * finding(s)",
        ]
    )
    # An app module that cannot be imported is still linted: the linter only parses it.
    assert "internal error" not in result.stdout.str()

    without = run(project, "--asyncsafe", "-o", "asyncsafe_lint=false")
    without.assert_outcomes(passed=1)
    assert "asyncsafe::lint" not in without.stdout.str()
    assert "asyncsafe-lint" not in without.stdout.str()


def test_the_html_report_without_its_extra_is_one_message_naming_the_install(project: pytest.Pytester) -> None:
    # A `plotly` that cannot be imported stands first on the path: the extra, not installed.
    shadow = project.mkdir("shadow") / "plotly"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'plotly'\")\n")
    project.makepyfile(test_trivial=TRIVIAL)
    message = (
        "the HTML report draws its charts with plotly, which is not installed: pip install 'pytest-asyncsafe[report]'"
    )

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(shadow.parent), prepend=os.pathsep)
        result = run(project, "--asyncsafe", "--asyncsafe-html", "report.html")
        tune = subprocess.run(
            [sys.executable, "-m", "pytest_asyncsafe.tune.cli", "fixtures_app.sizing:app", "--html", "sizing.html"],
            cwd=project.path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: asyncsafe: --asyncsafe-html: {message}".replace("[", "[[]")])
    assert (tune.returncode, tune.stdout) == (2, "")
    assert tune.stderr == f"asyncsafe-tune: {message}\n"
    assert not (project.path / "report.html").exists() and not (project.path / "sizing.html").exists()
