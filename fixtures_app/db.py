"""The data-access layer: plain synchronous functions over the app's SQLite database
and the pricing upstream.

Every function here blocks, and that is fine where they run: a worker thread, a `def`
route.  Called from a coroutine - even two modules away, through `repository.py` -
they stall the event loop (ASF110 reports the call in the coroutine, with the chain).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import requests


def query(database: Path, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(database)
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()


def fetch_json(url: str) -> dict[str, Any]:
    reply = requests.get(url, timeout=2.0)
    reply.raise_for_status()
    return reply.json()
