"""With `--asyncsafe`, the app's own package is linted by asyncsafe-lint as one
collected test item, so one CI command covers both tools."""

from __future__ import annotations

import sys
from importlib.machinery import PathFinder
from pathlib import Path

import pytest

from asyncsafe_lint.untrusted import printable, printable_lines

LINT_ITEM = "asyncsafe::lint"


class LintFailure(Exception):
    pass


class LintItem(pytest.Item):
    def __init__(self, *, package: Path, rootdir: Path, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.package = package
        self.rootdir = rootdir
        self.add_marker("asyncsafe_lint")

    def runtest(self) -> None:
        # Imported here: a run that never lints never imports the linter.
        import asyncsafe_lint
        from asyncsafe_lint.output.concise import header
        from asyncsafe_lint.output.report import Report

        settings = asyncsafe_lint.load(start=self.rootdir)
        result = asyncsafe_lint.check_paths([self.package], settings)
        # The concise format, as `asyncsafe-lint check` prints it (it needs no source lines).
        report = Report(result.diagnostics, settings.rules, self.rootdir, lambda filename: ())
        lines = [header(diagnostic, report) for diagnostic in result.diagnostics]
        lines += [
            "\n".join([f"internal error while checking {printable(path)}:", *printable_lines(trace)])
            for path, trace in result.crashes.items()
        ]
        if lines:
            raise LintFailure("\n".join([*lines, f"asyncsafe-lint: {len(result.diagnostics)} finding(s)"]))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: object = None) -> str:
        if isinstance(excinfo.value, LintFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.package, None, f"asyncsafe-lint {printable(self.package.name)}"


def app_package(app: str, rootdir: Path) -> Path | None:
    """The directory of the top-level package of `module:attribute`, found without importing it."""
    top = app.partition(":")[0].split(".")[0]
    spec = PathFinder.find_spec(top, [str(rootdir), *sys.path])
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin) if spec.origin else None
