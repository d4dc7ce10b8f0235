"""What a worker process costs in memory, from `/proc/<pid>/smaps_rollup`: RSS (what
`ps` and most dashboards show, counting every page the worker shares with its siblings
in full), PSS (each shared page divided among the processes sharing it: the number that
adds up across forked workers, so the one to size a container by) and USS (its own
pages only: what exiting it would free)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Memory:
    rss_bytes: int
    pss_bytes: int
    uss_bytes: int


def measure(pid: int, proc: Path = Path("/proc")) -> Memory | None:
    """Worker `pid`'s memory now; None once it has exited."""
    try:
        text = (proc / str(pid) / "smaps_rollup").read_text()
    except OSError:
        return None
    fields: dict[str, int] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon and value.strip().endswith("kB"):
            fields[key] = int(value.split()[0]) * 1024
    return Memory(
        rss_bytes=fields.get("Rss", 0),
        pss_bytes=fields.get("Pss", 0),
        uss_bytes=fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0),
    )
