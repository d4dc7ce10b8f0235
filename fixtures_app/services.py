"""Synchronous domain helpers.

Plain `def` functions may block: that is fine wherever they run on a worker thread
(`run_in_threadpool`, `asyncio.to_thread`, a sync route or dependency, a sync background
task).  It is not fine to *call* them directly from a coroutine - but seeing that needs a
call graph across modules, which the per-file rules do not have (yet).
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
from pathlib import Path

from fixtures_app.resources import REVENUE_REPORT


def rebuild_search_index(catalog: Path) -> int:
    """Re-tokenise the catalog for search.  Slow and synchronous: ~0.3 s of blocking.

    Calling this straight from an `async def` stalls the loop just like `time.sleep`
    would; the per-file linter cannot see it because the blocking call is here, in
    another module.
    """
    time.sleep(0.3)
    with catalog.open(encoding="utf-8") as lines:
        return sum(1 for _ in lines)


def legacy_sync_fetch(url: str, timeout: float = 2.0) -> dict[str, object]:
    """The old reporting SDK's fetch: synchronous HTTP under the hood.

    `pyproject.toml` lists this function in `[tool.asyncsafe] blocking-calls`, so
    calling it from async code is flagged (ASF109) although the linter cannot look
    inside it.
    """
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def read_flags(path: Path) -> dict[str, bool]:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def count_catalog_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def revenue_report(database: Path, limit: int = 10) -> list[tuple[int, str, float]]:
    connection = sqlite3.connect(database)
    try:
        return connection.execute(REVENUE_REPORT, (limit,)).fetchall()
    finally:
        connection.close()


def append_audit_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as log:
        log.write(line.rstrip("\n") + "\n")


def burn_cpu(seconds: float) -> int:
    """Pure-Python arithmetic for `seconds`: a stand-in for any CPU-bound work
    (templating a huge page, hashing a password in Python, parsing a big document)."""
    deadline = time.perf_counter() + seconds
    state, rounds = 1, 0
    while time.perf_counter() < deadline:
        for _ in range(1_000):
            state = (state * 1_103_515_245 + 12_345) % 2_147_483_648
        rounds += 1
    return state ^ rounds
