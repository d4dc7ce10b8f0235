"""Which files to check: walk the paths given, skip what is excluded."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from asyncsafe_lint.config import Settings
from asyncsafe_lint.filesystem import DIRECTORY, FILE, OTHER, Snapshot

SUFFIXES = (".py", ".pyi")


def discover(paths: Sequence[Path], settings: Settings, snapshot: Snapshot) -> Iterator[Path]:
    """Files to check, in a stable order.  A path named explicitly is checked even when
    `exclude` matches it (as in ruff), unless `force_exclude` is set; so is a directory
    named explicitly, whose entries are then excluded on their own names and paths only.
    A path that does not exist is yielded as it is, for the engine to report.  Links to
    directories are not walked into."""
    seen: set[Path] = set()
    for path in paths:
        if settings.force_exclude and settings.is_force_excluded(path.absolute()):
            continue
        candidates = _walk(path, settings, snapshot) if path.is_dir() else iter((path,))
        for candidate in candidates:
            if candidate not in seen:
                seen.add(candidate)
                yield candidate


def _walk(directory: Path, settings: Settings, snapshot: Snapshot) -> Iterator[Path]:
    """The directory's files, then its subdirectories', each in name order."""
    listing = snapshot.listing(str(directory)) or {}
    absolute = directory.absolute()
    names = sorted(listing)
    for name in names:
        # Anything but a directory, as `os.walk` has it: a dangling link is reported unreadable.
        if listing[name] in (FILE, OTHER) and name.endswith(SUFFIXES) and not settings.is_excluded(absolute / name):
            yield directory / name
    for name in names:
        if listing[name] == DIRECTORY and not settings.is_excluded(absolute / name):
            yield from _walk(directory / name, settings, snapshot)
