"""Per-file results of earlier runs, so that a run re-checks only the files that changed.

One pickle per linter build and settings, under `<project root>/.asyncsafe_cache/`: a
new release, an edited rule or a changed setting starts an empty cache of its own.  In
it, each entry is keyed by what the per-file step depends on besides the file's
contents (its path, its module name...) and holds the content hash of the file it was
computed from and the result, whatever object that is.  Each result stays pickled on
its own until it is read: a run that reads few of them does not pay for the others.

Each entry records the stamp of its file (see `filesystem`), so a file whose `stat`
still matches is not read again.  An entry may also depend on no file (`recall`,
`remember`): its key then says all it depends on.  The entries of files that no longer
exist are dropped whenever the cache is written.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import os
import pickle
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING

from asyncsafe_lint import __version__, cachedir
from asyncsafe_lint.filesystem import Stamp, current

if TYPE_CHECKING:
    from asyncsafe_lint.config import Settings


class Cache:
    """The entries of one cache file: looked up during a run, written once at its end."""

    def __init__(self, directory: Path, file: Path, entries: dict[Hashable, tuple[Stamp | None, bytes]]) -> None:
        self.directory = directory
        self.file = file
        self._entries = entries
        self._changed = False

    @classmethod
    def load(cls, directory: Path, settings: Settings) -> Cache:
        """The cache for `settings` under `directory`; empty when there is none yet or
        when it cannot be read."""
        file = directory / __version__ / f"{_key(settings)}.pickle"
        try:
            with file.open("rb") as stream:
                entries = pickle.load(stream)
        except Exception:  # noqa: BLE001 - a missing, truncated or foreign file: start afresh
            entries = {}
        return cls(directory, file, entries if isinstance(entries, dict) else {})

    def get(self, key: Hashable) -> object | None:
        """The cached result for `key` if its file still holds what it was computed from."""
        old, blob = self._entries.get(key, (None, b""))
        if old is None:
            return None
        new = current(old)
        if new is None:
            return None
        if new is not old:  # the same contents under a new (or no longer racy) timestamp
            self._entries[key] = (new, blob)
            self._changed = True
        return pickle.loads(blob)

    def stamp(self, key: Hashable) -> Stamp | None:
        """The stamp of the file the entry for `key` was computed from."""
        old, _ = self._entries.get(key, (None, b""))
        return old

    def put(self, key: Hashable, before: Stamp, result: object) -> None:
        """Remembers `result`, computed from the file as `before` found it."""
        self._entries[key] = (before, _dumps(result))
        self._changed = True

    def recall(self, key: Hashable) -> object | None:
        """The result remembered for `key` by `remember`, if any."""
        old, blob = self._entries.get(key, (None, b""))
        return pickle.loads(blob) if old is None and blob else None

    def remember(self, key: Hashable, result: object) -> None:
        """Remembers `result`, which depends on nothing but `key`."""
        self._entries[key] = (None, _dumps(result))
        self._changed = True

    def save(self) -> None:
        """Writes the entries, if any changed."""
        if not self._changed:
            return
        # A deleted or renamed file's entries would otherwise stay for as long as the cache does.
        # A file has several entries (findings, facts): each path is looked at once.
        paths = {old.path for old, _ in self._entries.values() if old is not None}
        gone = {path for path in paths if not os.path.exists(path)}
        self._entries = {
            key: (old, blob) for key, (old, blob) in self._entries.items() if old is None or old.path not in gone
        }
        cachedir.write(self.file, _dumps(self._entries), cache=self.directory)
        self._changed = False


def _dumps(result: object) -> bytes:
    stream = io.BytesIO()
    _Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL).dump(result)
    return stream.getvalue()


class _Pickler(pickle.Pickler):
    """Pickles a dataclass as a call of its class with its field values.  Loading a
    frozen dataclass with slots the default way sets each field through a Python
    `__setstate__`, several times slower: a warm run loads every file's result."""

    def reducer_override(self, obj: object) -> object:
        fields = _init_fields(type(obj))
        if fields is None:
            return NotImplemented
        return type(obj), tuple(getattr(obj, name) for name in fields)


@functools.cache
def _init_fields(kind: type) -> tuple[str, ...] | None:
    """The fields of a dataclass whose `__init__` takes them all, in order, and only
    stores them; None for any other type."""
    if not dataclasses.is_dataclass(kind) or hasattr(kind, "__post_init__"):
        return None
    fields = dataclasses.fields(kind)
    if not all(field.init and not field.kw_only for field in fields):
        return None
    return tuple(field.name for field in fields)


def _key(settings: Settings) -> str:
    """Names the cache of one build of the linter with one set of settings.  The build is
    told by its own files' sizes and times, so that editing the linter (an editable
    install keeps its version) never serves findings of the code before the edit."""
    fingerprint = hashlib.blake2b(repr(settings).encode(), digest_size=16)
    for source in cachedir.linter_files():
        stat = os.stat(source)
        fingerprint.update(f"{source}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return fingerprint.hexdigest()
