"""Authenticates what the linter writes to its cache directory, so that it trusts only
what this machine wrote there.

The cache directory is usually in the project, which a pull request controls: it may
commit a cache of its own, crafted to hide findings.  So every file the cache and the
recorded runs are kept in starts with a MAC of the rest: keyed BLAKE2b, a MAC by design
(as HMAC is for other hashes), with a key that no project can see or set.  The key is
32 random bytes in `key`, in the user's cache directory (`$XDG_CACHE_HOME/asyncsafe-lint`,
else `~/.cache/asyncsafe-lint`), created on first use and readable by the user alone.
Nothing is decoded before its MAC verifies.

A replay (see `replay`) verifies a record too, so this module imports only what Python
loads before it runs any code, and `_blake2`: `hashlib` would load OpenSSL, a third of
a replay's time.
"""

from __future__ import annotations

import os

try:
    from _blake2 import blake2b
except ImportError:  # an interpreter that builds BLAKE2 into hashlib only
    from hashlib import blake2b

from _operator import _compare_digest  # `hmac.compare_digest`, without importing hashlib

#: The MAC's length, in bytes, at the start of every file written with `sign`.
MAC_SIZE = 32
#: The key's file name, in `key_directory()`.
KEY_FILE = "key"

_key: bytes | None = None


class Untrusted(Exception):
    """This machine's key cannot be had, or cannot be trusted: nothing is signed or
    verified, so the cache is neither read nor written."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(path, why)
        #: The key's file, and what is wrong with it.
        self.path = path
        self.why = why


def key_directory() -> str:
    """`$XDG_CACHE_HOME/asyncsafe-lint`, else `~/.cache/asyncsafe-lint`."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache_home, "asyncsafe-lint")


def sign(data: bytes, purpose: bytes) -> bytes:
    """`data` with its MAC before it.  `purpose` (a few bytes: what the data is) goes
    into the MAC, so that a file written for one purpose never verifies as another's."""
    return _mac(data, purpose) + data


def verified(signed: bytes, purpose: bytes) -> bytes | None:
    """The data `sign` was given for `purpose`, if `signed` is what it returned on this
    machine; else None."""
    data = signed[MAC_SIZE:]
    return data if _compare_digest(signed[:MAC_SIZE], _mac(data, purpose)) else None


def _mac(data: bytes, purpose: bytes) -> bytes:
    return blake2b(data, digest_size=MAC_SIZE, key=machine_key(), person=purpose).digest()


def machine_key() -> bytes:
    """This machine's key, created on first use.  Raises Untrusted when it cannot be
    created or read, or when it could be another user's or read by another user."""
    global _key  # read once per process: a run signs and verifies several files
    if _key is None:
        _key = _read_key(os.path.join(key_directory(), KEY_FILE))
    return _key


def _read_key(path: str) -> bytes:
    try:
        return _open_key(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise Untrusted(path, f"cannot read this machine's cache key: {error.strerror}") from None
    try:
        _create_key(path)
        return _open_key(path)
    except OSError as error:
        raise Untrusted(path, f"cannot create this machine's cache key: {error.strerror}") from None


def _open_key(path: str) -> bytes:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        status = os.fstat(descriptor)
        if status.st_uid != os.getuid() or status.st_mode & 0o077:
            raise Untrusted(path, "this cache key is not yours, or others may read it: not trusted")
        key = os.read(descriptor, MAC_SIZE + 1)
    finally:
        os.close(descriptor)
    if len(key) != MAC_SIZE:
        raise Untrusted(path, f"this cache key is not {MAC_SIZE} bytes long: not trusted")
    return key


def _create_key(path: str) -> None:
    """Writes a new key to `path`, unless another process got there first."""
    import tempfile  # here: only the first run on a machine needs it

    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".key-")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(os.urandom(MAC_SIZE))
        # A link never replaces a file: of two runs creating the key at once, one wins
        # and the other reads the winner's key.
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
