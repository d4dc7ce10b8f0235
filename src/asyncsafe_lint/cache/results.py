"""Per-file results of earlier runs, so that a run re-checks only the files that changed.

One file per linter build and settings, under `<project root>/.asyncsafe_cache/`: a
new release, an edited rule or a changed setting starts an empty cache of its own.  In
it, each entry is keyed by what the per-file step depends on besides the file's
contents (its path, its module name...) and holds the content hash of the file it was
computed from and the result, as plain data (see `plain`).  Each result stays encoded
until it is read: a run that reads few of them does not pay for the others.

The file is signed with this machine's key (see `signing`): one that does not verify,
forged or copied from elsewhere, is ignored and rebuilt.  Without a key, nothing is
read or written.

Each entry records the stamp of its file (see `filesystem`), so a file whose `stat`
still matches is not read again.  An entry may also depend on no file (`recall`,
`remember`): its key then says all it depends on.  The entries of files that no longer
exist are dropped whenever the cache is written.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from asyncsafe_lint.cache import plain, signing
from asyncsafe_lint.cache.directory import linter_files, write
from asyncsafe_lint.filesystem import Stamp, current
from asyncsafe_lint.version import __version__

if TYPE_CHECKING:
    from asyncsafe_lint.config import Settings

T = TypeVar("T")
#: What an entry is keyed by: a tuple of plain values, or a name.
Key = tuple[str | bool, ...] | str
#: Goes into the cache file's MAC (see `signing.sign`).
PURPOSE = b"results"
#: The file as plain data: each entry's key (its `repr`), the fields of the stamp of
#: the file it was computed from (None: it depends on no file), and its result.
_Entries = dict[str, tuple[tuple[str, bytes, int, int, int] | None, bytes]]


class Cache:
    """The entries of one cache file: looked up during a run, written once at its end."""

    def __init__(
        self, directory: Path, file: Path, entries: dict[str, tuple[Stamp | None, bytes]], *, writable: bool = True
    ) -> None:
        self.directory = directory
        self.file = file
        self._entries = entries
        self._changed = False
        self._writable = writable
        #: What a `--verbose` run says about the cache: the file it ignored, and why.
        self.notes: list[tuple[str, str]] = []

    @classmethod
    def load(cls, directory: Path, settings: Settings) -> Cache:
        """The cache for `settings` under `directory`; empty when there is none yet or
        when it cannot be trusted or read."""
        file = directory / __version__ / f"{_key(settings)}.results"
        try:
            signing.machine_key()
        except signing.Untrusted as error:
            cache = cls(directory, file, {}, writable=False)
            cache.notes.append((error.path, f"{error.why}; running without the cache"))
            return cache
        try:
            data = signing.verified(file.read_bytes(), PURPOSE)
        except OSError:
            return cls(directory, file, {})
        cache = cls(directory, file, {})
        if data is None:
            cache.notes.append((str(file), "ignored: its authentication fails (forged, or copied); rebuilding it"))
            return cache
        # Written by this very build: the file's name tells the build (see `_key`).
        entries = plain.loads(_Entries, data)
        cache._entries = {
            key: (None if fields is None else Stamp(*fields), blob) for key, (fields, blob) in entries.items()
        }
        return cache

    def get(self, key: Key, kind: type[T]) -> T | None:
        """The cached result for `key`, a `kind`, if its file still holds what it was
        computed from."""
        old, blob = self._entries.get(repr(key), (None, b""))
        if old is None:
            return None
        new = current(old)
        if new is None:
            return None
        if new is not old:  # the same contents under a new (or no longer racy) timestamp
            self._entries[repr(key)] = (new, blob)
            self._changed = True
        return plain.loads(kind, blob)

    def stamp(self, key: Key) -> Stamp | None:
        """The stamp of the file the entry for `key` was computed from."""
        old, _ = self._entries.get(repr(key), (None, b""))
        return old

    def put(self, key: Key, before: Stamp, result: object) -> None:
        """Remembers `result`, computed from the file as `before` found it."""
        self._entries[repr(key)] = (before, plain.dumps(result))
        self._changed = True

    def recall(self, key: Key, kind: type[T]) -> T | None:
        """The result remembered for `key` by `remember`, a `kind`, if any."""
        old, blob = self._entries.get(repr(key), (None, b""))
        return plain.loads(kind, blob) if old is None and blob else None

    def remember(self, key: Key, result: object) -> None:
        """Remembers `result`, which depends on nothing but `key`."""
        self._entries[repr(key)] = (None, plain.dumps(result))
        self._changed = True

    def save(self) -> None:
        """Writes the entries, if any changed."""
        if not self._changed or not self._writable:
            return
        # A deleted or renamed file's entries would otherwise stay for as long as the cache does.
        # A file has several entries (findings, facts): each path is looked at once.
        paths = {old.path for old, _ in self._entries.values() if old is not None}
        gone = {path for path in paths if not os.path.exists(path)}
        self._entries = {
            key: (old, blob) for key, (old, blob) in self._entries.items() if old is None or old.path not in gone
        }
        entries = {key: (None if old is None else old.fields(), blob) for key, (old, blob) in self._entries.items()}
        write(self.file, signing.sign(plain.dumps(entries), PURPOSE), cache=self.directory)
        self._changed = False


def _key(settings: Settings) -> str:
    """Names the cache of one build of the linter with one set of settings.  The build is
    told by its own files' sizes and times, so that editing the linter (an editable
    install keeps its version) never serves findings of the code before the edit."""
    fingerprint = hashlib.blake2b(repr(settings).encode(), digest_size=16)
    for source in linter_files():
        stat = os.stat(source)
        fingerprint.update(f"{source}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return fingerprint.hexdigest()
