"""Replays a check whose output cannot have changed.

A check whose every result comes from the cache still starts Python, imports the
linter, reads the settings, walks the tree and reads the cache: about five times
what ruff takes.  Yet the usual warm run repeats a command, in the same directory,
with no file changed.  So each check that used the cache records what it printed
and its exit status, with everything its output depends on: the command line, the
current directory, the Python and linter that ran, and what it read of the file
system (the settings files, the linter's own files, every file it checked or looked
into, every directory it listed and every path it asked `isfile` of).  The same
command replays that output once all of it still holds, importing nothing of the
linter's analysis (only this module, `filesystem` and `cachedir`).

Recorded runs live in the cache directory, one file per command line and directory,
the `KEEP` most recent.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib

from asyncsafe_lint import __version__, cachedir
from asyncsafe_lint.filesystem import Snapshot, try_stamp

TYPE_CHECKING = False  # `typing` itself would add a third to a replay's time
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

#: How many recorded runs a cache directory keeps (one per command line and directory).
KEEP = 16
#: Changes whenever what a recorded run holds does.
_FORMAT = 1


def replay(arguments: Sequence[str]) -> int | None:
    """Prints the output the same command gave last time here and returns its exit
    status, when nothing that output depends on has changed; else None, printing
    nothing."""
    directory = cachedir.nearest(os.getcwd())
    if directory is None:
        return None
    key = _key(arguments)
    try:
        with open(_file(directory, key), "rb") as stream:
            recorded_key, data, output, status = marshal.load(stream)
        if recorded_key != key or not Snapshot.load(data).holds():
            return None
    except Exception:  # noqa: BLE001 - none recorded, or a truncated or foreign file: check afresh
        return None
    sys.stdout.write(output)
    return status  # type: ignore[no-any-return]


def start(settings_file: str | None) -> Snapshot:
    """The snapshot a check that may be recorded starts with: the settings files it
    will read, and the linter's own files, stamped before the check reads them."""
    snapshot = Snapshot()
    for path in (*_settings_candidates(), *([settings_file] if settings_file else []), *cachedir.linter_files()):
        if snapshot.is_file(path):
            snapshot.read(try_stamp(path))
    return snapshot


def record(arguments: Sequence[str], cache: str, snapshot: Snapshot, output: str, status: int) -> None:
    """Records a check's output and exit status, with the snapshot of what it read,
    in the cache directory `cache`.  Nothing is recorded where `replay` would not look,
    nor when the check read a file it could not stamp."""
    looked_in = cachedir.nearest(os.getcwd())
    if not snapshot.complete or looked_in is None or os.path.abspath(looked_in) != os.path.abspath(cache):
        return
    key = _key(arguments)
    file = _file(cache, key)
    cachedir.write(file, marshal.dumps((key, snapshot.dump(), output, status)), cache=cache)
    _forget_oldest(os.path.dirname(file))


def _key(arguments: Sequence[str]) -> tuple[object, ...]:
    """What a check's output depends on besides what it read."""
    return _FORMAT, __version__, sys.version, sys.executable, os.path.dirname(__file__), os.getcwd(), tuple(arguments)


def _file(cache: str, key: tuple[object, ...]) -> str:
    # A checksum picks the file (of the key's `repr`: `marshal` may encode equal keys
    # differently); the key inside the file says whether it is the run asked for.
    return os.path.join(cache, __version__, "runs", f"{zlib.crc32(repr(key).encode()):08x}.marshal")


def _settings_candidates() -> Iterable[str]:
    """Every `pyproject.toml` the settings may come from: in the current directory and
    above (`config.find_pyproject`)."""
    directory = os.getcwd()
    while True:
        yield os.path.join(directory, "pyproject.toml")
        parent = os.path.dirname(directory)
        if parent == directory:
            return
        directory = parent


def _forget_oldest(runs: str) -> None:
    """Keeps the `KEEP` most recently recorded runs."""
    try:
        entries = sorted(os.scandir(runs), key=lambda entry: entry.stat().st_mtime_ns, reverse=True)
        for entry in entries[KEEP:]:
            os.unlink(entry.path)
    except OSError:
        pass  # another run is pruning too
