"""Which files to check: walk the paths given, skip what is excluded."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from asyncsafe_lint.config import Settings

SUFFIXES = (".py", ".pyi")


def discover(paths: Sequence[Path], settings: Settings) -> Iterator[Path]:
    """Files to check, in a stable order.  A path named explicitly is checked even when
    `exclude` matches it (as in ruff), unless `force_exclude` is set; so is a directory
    named explicitly, whose entries are then excluded on their own names and paths only.
    A path that does not exist is yielded as it is, for the engine to report."""
    seen: set[Path] = set()
    for path in paths:
        if settings.force_exclude and settings.is_force_excluded(path.absolute()):
            continue
        candidates = _walk(path, settings) if path.is_dir() else iter((path,))
        for candidate in candidates:
            if candidate not in seen:
                seen.add(candidate)
                yield candidate


def _walk(directory: Path, settings: Settings) -> Iterator[Path]:
    for root, dirnames, filenames in os.walk(directory):
        base = Path(root)
        absolute = base.absolute()
        dirnames[:] = sorted(d for d in dirnames if not settings.is_excluded(absolute / d))
        for filename in sorted(filenames):
            if filename.endswith(SUFFIXES) and not settings.is_excluded(absolute / filename):
                yield base / filename
