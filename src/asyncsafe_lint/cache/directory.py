"""The cache directory: where it is, how files are written into it, and which files
make the build of the linter its contents belong to.

It holds the per-file results (`results`) and the recorded runs (`replay`), under a
directory per linter version, and ignores itself for git, like `.ruff_cache`.  One that
git tracks anyway is never read nor written (`tracked`).
"""

from __future__ import annotations

import os

from asyncsafe_lint.filesystem import CACHE_DIRECTORY

ENVIRONMENT = "ASYNCSAFE_CACHE_DIR"


def default_directory(root: str | os.PathLike[str]) -> str:
    """`$ASYNCSAFE_CACHE_DIR`, else `.asyncsafe_cache` in the project root `root`."""
    return os.environ.get(ENVIRONMENT) or os.path.join(root, CACHE_DIRECTORY)


def nearest(start: str) -> str | None:
    """`$ASYNCSAFE_CACHE_DIR`, else the nearest `.asyncsafe_cache` at or above `start`,
    if any: where the cache most likely is, found without reading the settings."""
    configured = os.environ.get(ENVIRONMENT)
    if configured:
        return configured
    directory = start
    while True:
        candidate = os.path.join(directory, CACHE_DIRECTORY)
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def linter_files() -> list[str]:
    """The linter's own modules, in a stable order: what was cached or recorded by one
    build must not serve another (an editable install keeps its version when edited)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # asyncsafe_lint/
    return sorted(
        os.path.join(directory, name)
        for directory, _, names in os.walk(package)
        for name in names
        if name.endswith(".py")
    )


def tracked(directory: str) -> bool:
    """True when git tracks a file in the cache directory `directory`: a commit (or a
    pull request) put it there, so the linter keeps out of it.

    Told without starting git when it can be: a path git tracks is spelled out in its
    index (up to version 3), so an index without the directory's path holds no file
    of it.  Otherwise, git is asked, as it is when the path is there (it may be part
    of another path); a git that cannot answer leaves the directory untrusted."""
    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        return False
    found = _work_tree(os.path.dirname(directory))
    if found is None:
        return False
    top, index_file = found
    try:
        with open(index_file, "rb") as stream:
            index = stream.read()
    except OSError:
        return False  # nothing added yet
    relative = os.path.relpath(directory, top).replace(os.sep, "/")
    if index[4:8] in (b"\0\0\0\2", b"\0\0\0\3") and f"{relative}/".encode() not in index:
        return False
    import subprocess  # here: most runs never need it

    try:
        listed = subprocess.run(
            ["git", "-C", top, "ls-files", "-z", "--", relative], capture_output=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return True
    return bool(listed.stdout)


def _work_tree(start: str) -> tuple[str, str] | None:
    """The top of the git work tree `start` is in, and its index file; None outside one."""
    directory = start
    while True:
        dot_git = os.path.join(directory, ".git")
        if os.path.isdir(dot_git):
            return directory, os.path.join(dot_git, "index")
        if os.path.isfile(dot_git):  # a linked work tree or a submodule: `gitdir: <its git directory>`
            try:
                with open(dot_git) as stream:
                    git_dir = stream.read().strip().removeprefix("gitdir:").strip()
            except OSError:
                return None
            return directory, os.path.join(directory, git_dir, "index")
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def write(file: str | os.PathLike[str], contents: bytes, *, cache: str | os.PathLike[str]) -> None:
    """Writes `contents` to `file`, somewhere under the cache directory `cache`,
    atomically: a reader sees the old file or the new one, never half of one."""
    import tempfile  # here: a run that writes nothing never needs it

    os.makedirs(cache, exist_ok=True)
    ignore = os.path.join(cache, ".gitignore")
    if not os.path.exists(ignore):
        with open(ignore, "w") as stream:
            stream.write("# Created by asyncsafe-lint: never commit the cache.\n*\n")
    parent = os.path.dirname(file)
    os.makedirs(parent, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(contents)
        os.replace(temporary, file)
    except BaseException:
        os.unlink(temporary)
        raise
