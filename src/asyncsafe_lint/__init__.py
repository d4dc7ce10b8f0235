"""asyncsafe-lint: finds what blocks the event loop, waits forever, or uses deprecated
lifecycle hooks in async Python web services.

The public API is `check_paths`; the CLI and the pytest plugin's lint item both use it.
Its names are imported on first use: the command line replays an unchanged run
without importing the analysis at all (see `replay`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` itself would add a third to a replay's time
if TYPE_CHECKING:
    from asyncsafe_lint.checker import LintResult, check_file, check_paths
    from asyncsafe_lint.config import ConfigError, Settings, load
    from asyncsafe_lint.diagnostics import Diagnostic, Location
    from asyncsafe_lint.facts import FileResult

from asyncsafe_lint.version import __version__

_MODULES = {
    "ConfigError": "config",
    "Diagnostic": "diagnostics",
    "FileResult": "facts",
    "LintResult": "checker",
    "Location": "diagnostics",
    "Settings": "config",
    "check_file": "checker",
    "check_paths": "checker",
    "load": "config",
}
__all__ = [
    "ConfigError",
    "Diagnostic",
    "FileResult",
    "LintResult",
    "Location",
    "Settings",
    "__version__",
    "check_file",
    "check_paths",
    "load",
]


def __getattr__(name: str) -> object:
    if name not in _MODULES:
        raise AttributeError(f"module 'asyncsafe_lint' has no attribute {name!r}")
    return getattr(__import__(f"asyncsafe_lint.{_MODULES[name]}", fromlist=[name]), name)
