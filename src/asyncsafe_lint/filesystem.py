"""What a run reads of the file system, kept so that a later run can tell whether it
still holds: the files it read (their stamps), the directories it listed and the paths
it asked `isfile` of.

A stamp is a file's content hash and its `stat` when it was read.  Like git's index,
a file whose `stat` still matches is not read again; a modification time too close to
when the stamp was taken is not trusted (the file may have changed again within the
same clock tick), and such a file is hashed.

Replaying a run (see `replay`) uses this module and nothing of the linter's analysis,
so it imports only modules that Python has loaded before it runs any code: even
`typing` would add a third to a replay's time.
"""

from __future__ import annotations

import os
import time

#: A modification time this close to the moment it was recorded may hide a later edit
#: (filesystem clocks tick coarsely; FAT's every 2 seconds).
RACY_NS = 2_000_000_000
#: The cache directory's usual name.  Listings leave it out: a run creates it, and it
#: never holds code (it is excluded from checks and its name is no module's).
CACHE_DIRECTORY = ".asyncsafe_cache"

#: An entry of a directory listing: a file, a directory, a link to a directory (listed,
#: but never walked into), or anything else (a dangling link, a socket...).
FILE, DIRECTORY, LINKED_DIRECTORY, OTHER = range(4)
#: A directory's entries: name -> one of the kinds above.
Listing = dict[str, int]


class Stamp:
    """What a file held when it was read: its content hash, and its `stat` then."""

    __slots__ = ("digest", "mtime_ns", "path", "seen_ns", "size")

    def __init__(self, path: str, digest: bytes, size: int, mtime_ns: int, seen_ns: int) -> None:
        self.path = path
        self.digest = digest
        self.size = size
        self.mtime_ns = mtime_ns
        #: When the `stat` was taken.
        self.seen_ns = seen_ns

    def fields(self) -> tuple[str, bytes, int, int, int]:
        return self.path, self.digest, self.size, self.mtime_ns, self.seen_ns

    def unchanged(self, stat: os.stat_result) -> bool:
        """True when `stat` alone shows the file is as it was."""
        return (
            stat.st_size == self.size and stat.st_mtime_ns == self.mtime_ns and self.seen_ns - self.mtime_ns > RACY_NS
        )


def stamp(path: str | os.PathLike[str]) -> Stamp:
    """Takes the stamp of `path`, before it is read (a later edit then shows as a
    mismatch next time).  Raises OSError for a file that cannot be read."""
    seen = time.time_ns()
    stat = os.stat(path)
    with open(path, "rb") as file:
        contents = file.read()
    return Stamp(os.path.abspath(path), digest(contents), stat.st_size, stat.st_mtime_ns, seen)


def try_stamp(path: str | os.PathLike[str]) -> Stamp | None:
    """`stamp(path)`, or None for a file that cannot be read."""
    try:
        return stamp(path)
    except OSError:
        return None


def current(old: Stamp) -> Stamp | None:
    """`old` while its file still holds what it held, told by `stat` alone when it can
    be; a new stamp when only the `stat` changed; None when the contents changed or
    the file cannot be read."""
    try:
        stat = os.stat(old.path)
        if old.unchanged(stat):
            return old
        if stat.st_size != old.size:
            return None
        new = stamp(old.path)
    except OSError:
        return None
    return new if new.digest == old.digest else None


def digest(contents: bytes) -> bytes:
    # hashlib loads OpenSSL, a tenth of a replay's time; a replay seldom hashes anything.
    from hashlib import blake2b

    return blake2b(contents, digest_size=16).digest()


def list_directory(directory: str) -> Listing | None:
    """The entries of `directory` (links followed); None when it cannot be listed."""
    try:
        with os.scandir(directory or ".") as entries:
            return {entry.name: _kind(entry) for entry in entries if entry.name != CACHE_DIRECTORY}
    except OSError:
        return None


def _kind(entry: os.DirEntry[str]) -> int:
    if entry.is_dir():
        return LINKED_DIRECTORY if entry.is_symlink() else DIRECTORY
    return FILE if entry.is_file() else OTHER


class Snapshot:
    """The answers one run got from the file system, each question asked once."""

    def __init__(self) -> None:
        #: Absolute path -> the stamp of the file as the run read it.
        self.stamps: dict[str, Stamp] = {}
        self.files: dict[str, bool] = {}
        self.listings: dict[str, Listing | None] = {}
        #: False once the run read a file it could not stamp (or two different
        #: contents of one file): then no later run can tell whether it still holds.
        self.complete = True

    def is_file(self, path: str) -> bool:
        if path not in self.files:
            self.files[path] = os.path.isfile(path)
        return self.files[path]

    def listing(self, directory: str) -> Listing | None:
        if directory not in self.listings:
            self.listings[directory] = list_directory(directory)
        return self.listings[directory]

    def read(self, stamp: Stamp | None) -> None:
        """Records that the run used a file's contents, as `stamp` shows them (None: a
        file that could not be stamped)."""
        if stamp is None:
            self.complete = False
            return
        seen = self.stamps.setdefault(stamp.path, stamp)
        if seen.digest != stamp.digest:
            self.complete = False

    def holds(self) -> bool:
        """True when every answer is still the same."""
        return (
            self.complete
            and all(os.path.isfile(path) == is_file for path, is_file in self.files.items())
            and all(list_directory(directory) == listing for directory, listing in self.listings.items())
            and all(current(stamp) is not None for stamp in self.stamps.values())
        )

    def dump(
        self,
    ) -> tuple[tuple[tuple[str, bytes, int, int, int], ...], dict[str, bool], dict[str, Listing | None], bool]:
        """The snapshot as built-in types only, for `marshal`."""
        return tuple(stamp.fields() for stamp in self.stamps.values()), self.files, self.listings, self.complete

    @classmethod
    def load(cls, data: tuple[object, ...]) -> Snapshot:
        """The snapshot `dump` gave `data` of.  Raises for data of another shape."""
        stamps, files, listings, complete = data
        snapshot = cls()
        snapshot.stamps = {fields[0]: Stamp(*fields) for fields in stamps}  # type: ignore[attr-defined]
        snapshot.files, snapshot.listings, snapshot.complete = files, listings, complete  # type: ignore[assignment]
        return snapshot
