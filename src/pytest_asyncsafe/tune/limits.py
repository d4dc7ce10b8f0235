"""The CPU and memory a container may use, as the kernel enforces them, and where each
figure came from: a worker count sized by the host's cores instead of the pod's limit is
how an 80-core node runs 160 workers in a 2-CPU pod.

CPU: cgroup v2 `cpu.max`, else v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, else the
CPU affinity mask, else the host's count.  Memory: cgroup v2 `memory.max`, else v1
`memory.limit_in_bytes`, else the host's `MemTotal`.  A quota of `max` (or v1's -1, or
v1's "no limit" near 2**63) is no limit and falls through.  The files are read under a
root that tests point at a temporary directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: cgroup v1 writes "no limit" as the largest page-aligned 64-bit value, or close to it.
_V1_UNLIMITED = 2**62


@dataclass(frozen=True)
class Limits:
    cpus: float
    memory_bytes: int
    #: Where each came from, e.g. "cgroup v2 cpu.max", "affinity mask", "--cpus".
    cpus_source: str
    memory_source: str


@dataclass(frozen=True)
class Places:
    """Where the kernel says it: the cgroup mount and `/proc`."""

    cgroup: Path = Path("/sys/fs/cgroup")
    proc: Path = Path("/proc")


def detect(places: Places = Places()) -> Limits:
    cpus, cpus_source = _cpus(places)
    memory, memory_source = _memory(places)
    return Limits(cpus, memory, cpus_source, memory_source)


def _cpus(places: Places) -> tuple[float, str]:
    v2 = _read(_group_file(places, "", "cpu.max"))
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        if quota != "max" and period:
            return int(quota) / int(period), "cgroup v2 cpu.max"
    quota_v1 = _read(_group_file(places, "cpu", "cpu.cfs_quota_us"))
    period_v1 = _read(_group_file(places, "cpu", "cpu.cfs_period_us"))
    if quota_v1 is not None and period_v1 is not None and int(quota_v1) > 0:
        return int(quota_v1) / int(period_v1), "cgroup v1 cpu.cfs_quota_us"
    if hasattr(os, "sched_getaffinity"):
        return float(len(os.sched_getaffinity(0))), "affinity mask"
    return float(os.cpu_count() or 1), "host CPUs"


def _memory(places: Places) -> tuple[int, str]:
    v2 = _read(_group_file(places, "", "memory.max"))
    if v2 is not None and v2 != "max":
        return int(v2), "cgroup v2 memory.max"
    v1 = _read(_group_file(places, "memory", "memory.limit_in_bytes"))
    if v1 is not None and 0 < int(v1) < _V1_UNLIMITED:
        return int(v1), "cgroup v1 memory.limit_in_bytes"
    return _host_memory(places), "host memory"


def _group_file(places: Places, controller: str, name: str) -> Path:
    """`name` in this process's cgroup for `controller` ("" for v2's unified hierarchy),
    as `/proc/self/cgroup` places it; the mount's own file when that path has none (in a
    container the namespace makes the group the mount's root)."""
    mount = places.cgroup / controller if controller else places.cgroup
    for line in (_read(places.proc / "self" / "cgroup") or "").splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller in controllers.split(",")) if controller else controllers == "":
            candidate = mount / path.lstrip("/") / name
            if candidate.is_file():
                return candidate
    return mount / name


def _host_memory(places: Places) -> int:
    for line in (_read(places.proc / "meminfo") or "").splitlines():
        key, _, value = line.partition(":")
        if key == "MemTotal":
            return int(value.split()[0]) * 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
