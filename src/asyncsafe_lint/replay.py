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
linter's analysis (only this module, `filesystem`, `cache.directory` and `cache.signing`).

Recorded runs live in the cache directory, one file per command line and directory,
the `KEEP` most recent.  Each is signed with this machine's key (see `signing`): one
that does not verify, forged or copied from elsewhere, is never replayed, nor is any
in a cache directory that git tracks.
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib

from asyncsafe_lint.cache import signing
from asyncsafe_lint.cache.directory import linter_files, nearest, tracked, write
from asyncsafe_lint.filesystem import Snapshot, try_stamp
from asyncsafe_lint.version import __version__

TYPE_CHECKING = False  # `typing` itself would add a third to a replay's time
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

#: How many recorded runs a cache directory keeps (one per command line and directory).
KEEP = 16
#: Changes whenever what a recorded run holds does.
_FORMAT = 2
#: Goes into each record's MAC (see `signing.sign`): a record of another format never verifies.
PURPOSE = b"recorded run %d" % _FORMAT


def replay(arguments: Sequence[str]) -> tuple[int | None, tuple[str, str] | None]:
    """Prints the output the same command gave last time here and returns its exit
    status, when nothing that output depends on has changed; else None, printing
    nothing.  With it, what a `--verbose` run says of a record it ignored, if it did:
    the file and why (see `Cache.notes`)."""
    directory = nearest(os.getcwd())
    if directory is None or tracked(directory):
        return None, None
    key = _key(arguments)
    file = _file(directory, key)
    try:
        with open(file, "rb") as stream:
            data = signing.verified(stream.read(), PURPOSE)
    except (OSError, signing.Untrusted):
        return None, None  # none recorded, or no key: the check says why
    if data is None:
        return None, (file, "ignored: its authentication fails (forged, copied, or of another format)")
    recorded_key, snapshot, output, status = marshal.loads(data)
    if recorded_key != key or not Snapshot.load(snapshot).holds():
        return None, None
    sys.stdout.write(output)
    return status, None


def start(settings_file: str | None) -> Snapshot:
    """The snapshot a check that may be recorded starts with: the settings files it
    will read, and the linter's own files, stamped before the check reads them."""
    snapshot = Snapshot()
    for path in (*_settings_candidates(), *([settings_file] if settings_file else []), *linter_files()):
        if snapshot.is_file(path):
            snapshot.read(try_stamp(path))
    return snapshot


def record(arguments: Sequence[str], cache: str, snapshot: Snapshot, output: str, status: int) -> None:
    """Records a check's output and exit status, with the snapshot of what it read,
    in the cache directory `cache`.  Nothing is recorded where `replay` would not look,
    nor when the check read a file it could not stamp."""
    looked_in = nearest(os.getcwd())
    if not snapshot.complete or looked_in is None or os.path.abspath(looked_in) != os.path.abspath(cache):
        return
    key = _key(arguments)
    file = _file(cache, key)
    try:
        signed = signing.sign(marshal.dumps((key, snapshot.dump(), output, status)), PURPOSE)
    except signing.Untrusted:
        return  # the check said why
    write(file, signed, cache=cache)
    _forget_oldest(os.path.dirname(file))


def _key(arguments: Sequence[str]) -> tuple[int, str, str, str, str, str, tuple[str, ...]]:
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
