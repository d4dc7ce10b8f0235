"""`asyncsafe-tune`'s arithmetic: the container's limits read from cgroup v1 and v2 files
(in a temporary root laid out as the kernel lays them out), a worker's memory from its
`smaps_rollup`, sizes as users write them, the capacity search's verdict on a step, and
the recommendation from measured points."""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

import pytest

from pytest_asyncsafe.load.result import LoadResult
from pytest_asyncsafe.load.shape import LoadShape
from pytest_asyncsafe.stats import Latencies
from pytest_asyncsafe.tune.capacity import Goal, Point, _verdict
from pytest_asyncsafe.tune.cli import parse_size
from pytest_asyncsafe.tune.limits import Limits, Places, detect
from pytest_asyncsafe.tune.memory import Memory, measure
from pytest_asyncsafe.tune.recommend import recommend
from pytest_asyncsafe.tune.sweep import TuneError, default_workers

AFFINITY = float(len(os.sched_getaffinity(0)))
MEMINFO = "MemTotal:       24683584 kB\nMemFree:        23252880 kB\n"


def machine(tmp_path: Path, files: dict[str, str], cgroup: str = "0::/\n") -> Places:
    for name, text in {**files, "proc/meminfo": MEMINFO, "proc/self/cgroup": cgroup}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return Places(cgroup=tmp_path / "sys/fs/cgroup", proc=tmp_path / "proc")


@pytest.mark.parametrize(
    ("files", "cgroup", "expected"),
    [
        pytest.param(
            {"sys/fs/cgroup/cpu.max": "200000 100000\n", "sys/fs/cgroup/memory.max": "1073741824\n"},
            "0::/\n",
            Limits(2.0, 2**30, "cgroup v2 cpu.max", "cgroup v2 memory.max"),
            id="v2",
        ),
        pytest.param(
            {"sys/fs/cgroup/cpu.max": "max 100000\n", "sys/fs/cgroup/memory.max": "max\n"},
            "0::/\n",
            Limits(AFFINITY, 24683584 * 1024, "affinity mask", "host memory"),
            id="v2-no-limits",
        ),
        pytest.param(
            {
                "sys/fs/cgroup/kubepods/pod1/cpu.max": "150000 100000\n",
                "sys/fs/cgroup/kubepods/pod1/memory.max": "536870912\n",
            },
            "0::/kubepods/pod1\n",
            Limits(1.5, 2**29, "cgroup v2 cpu.max", "cgroup v2 memory.max"),
            id="v2-nested-group",
        ),
        pytest.param(
            {
                "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "50000\n",
                "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
                "sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n",
            },
            "4:memory:/\n1:cpu,cpuacct:/\n",
            Limits(0.5, 2**28, "cgroup v1 cpu.cfs_quota_us", "cgroup v1 memory.limit_in_bytes"),
            id="v1",
        ),
        pytest.param(
            {
                "sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n",
                "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
                "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
            },
            "4:memory:/\n1:cpu,cpuacct:/\n",
            Limits(AFFINITY, 24683584 * 1024, "affinity mask", "host memory"),
            id="v1-no-limits",
        ),
    ],
)
def test_the_limits_are_read_from_cgroup_files_and_say_where_from(
    tmp_path: Path, files: dict[str, str], cgroup: str, expected: Limits
) -> None:
    assert detect(machine(tmp_path, files, cgroup)) == expected


def test_a_workers_memory_is_read_from_its_smaps_rollup(tmp_path: Path) -> None:
    rollup = tmp_path / "4242" / "smaps_rollup"
    rollup.parent.mkdir()
    rollup.write_text(
        "00400000-7ffd [rollup]\nRss:  120000 kB\nPss:  80000 kB\nShared_Clean:  30000 kB\n"
        "Private_Clean:  10000 kB\nPrivate_Dirty:  60000 kB\n"
    )
    assert measure(4242, tmp_path) == Memory(120000 * 1024, 80000 * 1024, 70000 * 1024)
    assert measure(4243, tmp_path) is None
    real = measure(os.getpid())
    assert real is not None and 0 < real.uss_bytes <= real.pss_bytes <= real.rss_bytes


@pytest.mark.parametrize(
    ("text", "size"),
    [("1GiB", 2**30), ("512MiB", 2**29), ("1.5G", 1_500_000_000), ("64k", 64_000), ("1000", 1000), ("2 GiB", 2**31)],
)
def test_sizes_read_as_users_write_them(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_size_that_is_not_one_says_so() -> None:
    with pytest.raises(TuneError, match=r"^--memory: expected a size such as 1GiB or 512MiB, got 'lots'$"):
        parse_size("lots")


def test_the_default_counts_go_up_to_twice_the_cpus() -> None:
    assert default_workers(2) == [1, 2, 4]
    assert default_workers(1) == [1, 2]
    assert default_workers(0.5) == [1]


def point(
    workers: int,
    capacity: float,
    pss_mib: float = 50,
    cpu_ms: float = 3.0,
    p50_ms: float = 3.2,
    generator_bound: bool = False,
) -> Point:
    return Point(
        workers, capacity, 0.004, 0.008, 0.010, 0.0, 0.9, Memory(0, int(pss_mib * 2**20), 0), 0.8, 0.002, 3, 40,
        cpu_ms / 1000, p50_ms / 1000, generator_bound, 1,
    )  # fmt: skip


LIMITS = Limits(2.0, 2**30, "cgroup v2 cpu.max", "cgroup v2 memory.max")


def test_the_smallest_count_near_the_best_is_recommended_and_the_cpu_named() -> None:
    recommendation = recommend([point(1, 300), point(2, 580), point(4, 600)], LIMITS)
    assert (recommendation.workers, recommendation.bound, recommendation.cpu_bound) == (2, "cpu", True)
    assert recommendation.reason == (
        "2 workers: 580 req/s at p99 10 ms; more workers add +3% (CPU limit 2, cgroup v2 cpu.max); over 2 workers "
        "they share the same CPUs; CPU-bound (3.0 ms of CPU per request of 3.2 ms): about one worker per CPU"
    )


def test_past_one_worker_per_cpu_a_cpu_bound_app_gets_no_more_and_an_io_bound_one_two_per_cpu() -> None:
    # 4 workers on 2 CPUs measured 15% over 2: the host's slack, not the container's.
    cpu_bound = recommend([point(1, 300), point(2, 500), point(4, 575)], LIMITS)
    assert (cpu_bound.workers, cpu_bound.bound) == (2, "cpu")
    assert "; more workers add +15% (CPU limit 2, cgroup v2 cpu.max); over 2 workers they share" in cpu_bound.reason
    waiting = [
        point(1, 300, cpu_ms=0.5, p50_ms=20),
        point(2, 500, cpu_ms=0.5, p50_ms=20),
        point(4, 575, cpu_ms=0.5, p50_ms=20),
    ]
    io_bound = recommend(waiting, LIMITS)
    assert (io_bound.workers, io_bound.bound, io_bound.cpu_bound) == (4, "cpu", False)


def test_a_capacity_the_generator_could_not_reach_is_called_a_lower_bound() -> None:
    recommendation = recommend([point(1, 300), point(2, 580, generator_bound=True)], LIMITS)
    assert recommendation.workers == 2
    assert recommendation.reason.endswith(
        "about one worker per CPU; the capacity of 2 worker(s) is a lower bound: the load generator could not send "
        "more, even from as many processes as CPUs"
    )


def test_a_count_that_would_not_fit_in_memory_is_not_recommended_and_memory_named() -> None:
    recommendation = recommend([point(1, 300, pss_mib=500), point(2, 580, pss_mib=500)], LIMITS)
    assert (recommendation.workers, recommendation.bound) == (1, "memory")
    assert recommendation.reason.startswith(
        "1 worker: 300 req/s at p99 10 ms; 2 workers would serve more but need 1.2 GiB of 1.0 GiB "
        "(cgroup v2 memory.max); "
    )
    lonely = recommend([point(1, 300, pss_mib=1000)], LIMITS)
    assert (lonely.workers, lonely.bound) == (1, "memory")
    assert lonely.reason.startswith("even 1 worker would need 1.2 GiB of 1.0 GiB (cgroup v2 memory.max); ")


def test_an_io_bound_app_is_told_from_a_cpu_bound_one() -> None:
    recommendation = recommend([point(1, 300, cpu_ms=0.4, p50_ms=21.0), point(2, 590, cpu_ms=0.4, p50_ms=21.0)], LIMITS)
    assert not recommendation.cpu_bound
    assert recommendation.reason.endswith("I/O-bound (0.4 ms of CPU per request of 21.0 ms): up to two workers per CPU")


def test_no_count_meeting_the_budget_is_bound_by_latency() -> None:
    recommendation = recommend([point(1, 0), point(2, 0)], LIMITS)
    assert recommendation.bound == "latency"
    assert math.isclose(point(1, 0).cpu_per_request, 0.003)


def step(latencies: list[float], elapsed: float) -> LoadResult:
    """A step of the search: 200 requests scheduled at 250/s, answered with `latencies`
    (in the order answered), the last answer `elapsed` after the first was due."""
    shape = LoadShape(concurrency=32, duration=0.8, rate=250.0)
    return LoadResult("GET /wait", shape, Latencies(latencies), Counter({200: len(latencies)}), elapsed=elapsed)


def test_a_step_answered_at_its_rate_meets_however_long_each_request_took() -> None:
    # Its last request, due 0.796 s in, answered 30 ms later like every other.
    kept_up = step([0.030] * 200, elapsed=0.796 + 0.030)

    assert _verdict(kept_up, 250.0, Goal(0.100)) == "answered 251/s, p99 30.0 ms, errors 0.0%: meets the budget"


def test_a_step_whose_answers_fell_behind_its_rate_misses() -> None:
    # The queue grew too little to show in the thirds' medians (8 ms), but the last
    # answers came 60 ms late.
    fell_behind = step([0.030] * 67 + [0.038] * 123 + [0.090] * 10, elapsed=0.796 + 0.090)

    assert _verdict(fell_behind, 250.0, Goal(0.100)) == "answered 234/s, p99 90.0 ms, errors 0.0%: misses the budget"


def test_a_step_whose_queue_grew_misses() -> None:
    grew = step([0.030] * 67 + [0.045] * 133, elapsed=0.796 + 0.045)

    assert _verdict(grew, 250.0, Goal(0.100)) == "answered 247/s, p99 45.0 ms, errors 0.0%: misses the budget"
