"""The Python interpreters this machine has that asyncsafe supports (3.11 and newer),
one per minor version, as `<major.minor> <path>` lines, oldest first: those on PATH
(`python3.N`) first, then pyenv's (`$PYENV_ROOT/versions/*`, `~/.pyenv` by default).
Nothing is downloaded: `make test-pythons` tests what is here.  Exits 1 if none is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: The oldest Python that pyproject.toml's `requires-python` admits.
OLDEST = (3, 11)
#: Newer than any release yet: what PATH is searched for.
NEWEST_MINOR = 20


def candidates() -> list[str]:
    on_path = [shutil.which(f"python3.{minor}") for minor in range(OLDEST[1], NEWEST_MINOR + 1)]
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    pyenv = sorted(str(python) for python in root.glob("versions/*/bin/python3"))
    return [path for path in [*on_path, *pyenv] if path]


def version(python: str) -> tuple[int, int] | None:
    """The interpreter's (major, minor), or None if it does not run."""
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    major, minor = done.stdout.split() if done.returncode == 0 else ("0", "0")
    return int(major), int(minor)


def main() -> int:
    found: dict[tuple[int, int], str] = {}
    for python in candidates():
        found_version = version(python)
        if found_version is not None and found_version >= OLDEST:
            found.setdefault(found_version, python)
    if not found:
        print(f"no Python {OLDEST[0]}.{OLDEST[1]} or newer found on PATH or in pyenv", file=sys.stderr)
        return 1
    for (major, minor), python in sorted(found.items()):
        print(f"{major}.{minor} {python}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
