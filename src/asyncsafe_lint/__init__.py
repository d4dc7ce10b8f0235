"""asyncsafe-lint: finds what blocks the event loop, waits forever, or uses deprecated
lifecycle hooks in async Python web services.

The public API is `check_paths`; the CLI and the pytest plugin's lint item both use it.
"""

from asyncsafe_lint.config import ConfigError, Settings, load
from asyncsafe_lint.diagnostics import Diagnostic, Location
from asyncsafe_lint.facts import FileResult
from asyncsafe_lint.runner import LintResult, check_file, check_paths

__all__ = [
    "ConfigError",
    "Diagnostic",
    "FileResult",
    "LintResult",
    "Location",
    "Settings",
    "check_file",
    "check_paths",
    "load",
]
__version__ = "0.1.0"
