"""What the lifespan opens at startup and closes at shutdown.

Everything in this module is synchronous and slow on purpose (it writes megabytes to
disk and seeds a database), which is why the lifespan runs it in a worker thread
rather than on the event loop.  The seed files are generated once per version of this
module and copied into each workspace: generating them took 3 s of every worker's
startup, and the tests start hundreds of workers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from fixtures_app.config import AppConfig
from fixtures_app.upstream import StubUpstream

#: Rows in the `orders` table: enough that the unindexed revenue report takes ~0.2 s.
ORDER_ROWS = 500_000
#: Lines in the catalog dump that the file hazards read back.
CATALOG_LINES = 200_000

REVENUE_REPORT = """
    SELECT customer, sku, SUM(quantity * price) AS revenue
    FROM orders
    GROUP BY customer, sku
    ORDER BY revenue DESC
    LIMIT ?
"""
#: The same, with the named parameter SQLAlchemy's `text()` binds.
REVENUE_REPORT_NAMED = REVENUE_REPORT.replace("LIMIT ?", "LIMIT :limit")


@dataclass
class Workspace:
    """The scratch files the hazards read and write."""

    root: Path
    catalog: Path
    database: Path
    audit_log: Path
    flags: Path
    owned: bool = False


@dataclass
class Resources:
    """The shared state the lifespan hands to every request, through `app.state`."""

    config: AppConfig
    workspace: Workspace
    upstream_url: str
    #: The one async HTTP client of the app: pooled connections, explicit timeouts.
    http: httpx.AsyncClient
    stub: StubUpstream | None = None
    counters: dict[str, int] = field(default_factory=dict)


def prepare_workspace(config: AppConfig) -> Workspace:
    """Create (or reuse) the scratch directory and seed it.  Blocking: run it in a thread."""
    owned = config.workdir is None
    root = Path(tempfile.mkdtemp(prefix="fixtures-app-")) if owned else Path(config.workdir)  # type: ignore[arg-type]
    root.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(
        root=root,
        catalog=root / "catalog.jsonl",
        database=root / "shop.sqlite3",
        audit_log=root / "audit.log",
        flags=root / "flags.json",
        owned=owned,
    )
    seed = _seed_files()
    shutil.copyfile(seed / workspace.catalog.name, workspace.catalog)
    shutil.copyfile(seed / workspace.database.name, workspace.database)
    workspace.flags.write_text(json.dumps({"new_checkout": True, "dark_mode": False}), encoding="utf-8")
    workspace.audit_log.touch()
    return workspace


def _seed_files() -> Path:
    """The directory of the generated catalog and database, made on first use.  Named for
    this user and this module's source, so that an edit to the seeding makes new files;
    made under another name and renamed into place, so that workers starting together
    never read a half-written one."""
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    seed = Path(tempfile.gettempdir()) / f"fixtures-app-seed-{os.getuid()}-{digest}"
    if seed.is_dir() and seed.stat().st_uid == os.getuid():
        return seed
    building = Path(tempfile.mkdtemp(prefix="fixtures-app-seeding-"))
    _write_catalog(building / "catalog.jsonl")
    _seed_database(building / "shop.sqlite3")
    try:
        building.rename(seed)
    except OSError:  # another worker's is in place already
        shutil.rmtree(building, ignore_errors=True)
    return seed


def _write_catalog(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for number in range(CATALOG_LINES):
            record = {"sku": f"SKU-{number:06d}", "name": f"Item {number}", "price": round(number * 0.37, 2)}
            out.write(json.dumps(record) + "\n")


def _seed_database(path: Path) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.executescript(
            """
            DROP TABLE IF EXISTS orders;
            DROP TABLE IF EXISTS audit;
            CREATE TABLE orders (
                id INTEGER PRIMARY KEY,
                customer INTEGER NOT NULL,
                sku TEXT NOT NULL,
                quantity INTEGER NOT NULL,
                price REAL NOT NULL
            );
            CREATE TABLE audit (id INTEGER PRIMARY KEY, at REAL NOT NULL, method TEXT, path TEXT);
            """
        )
        # Generated inside SQLite: far faster than half a million Python-side inserts.
        connection.execute(
            """
            INSERT INTO orders (customer, sku, quantity, price)
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            SELECT (i * 7919) % 5000, printf('SKU-%04d', (i * 104729) % 2000), 1 + i % 9,
                   ((i * 31337) % 10000) / 100.0
            FROM n
            """,
            (ORDER_ROWS,),
        )
        connection.commit()
    finally:
        connection.close()


def remove_workspace(workspace: Workspace) -> None:
    """Delete the scratch directory if this process created it.  Blocking."""
    if workspace.owned:
        shutil.rmtree(workspace.root, ignore_errors=True)
