"""asyncsafe-lint: finds what blocks the event loop, waits forever, or uses deprecated
lifecycle hooks in async Python web services.

The public API is `check_paths`; the plugin's lint item and the CLI both use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from asyncsafe_lint.config import ConfigError, Settings, load
from asyncsafe_lint.diagnostics import Diagnostic, Location
from asyncsafe_lint.engine import check_source, file_error
from asyncsafe_lint.files import discover

__all__ = ["ConfigError", "Diagnostic", "Location", "Settings", "check_file", "check_paths", "load"]
__version__ = "0.1.0"


def check_file(path: Path, settings: Settings) -> list[Diagnostic]:
    """Every finding in one file; a file that cannot be read is one `io-error` finding."""
    try:
        source = path.read_bytes()
    except OSError as error:
        return [file_error(str(path), error.strerror or str(error))]
    return check_source(source, str(path), settings, settings.rules_for(path.absolute()))


def check_paths(paths: Sequence[Path | str], settings: Settings | None = None) -> list[Diagnostic]:
    """Every finding in the files under `paths`, sorted by file and position."""
    settings = settings if settings is not None else load()
    found = [d for path in discover([Path(p) for p in paths], settings) for d in check_file(path, settings)]
    return sorted(found, key=lambda d: d.sort_key)
