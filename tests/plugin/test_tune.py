"""`asyncsafe-tune` on this 2-CPU machine, against `fixtures_app/sizing.py` under real
Uvicorn: a CPU-bound route scales to the CPUs and no further, `--cpus` confines and sizes,
a memory limit too small for two workers of a heavy app is named, and bad input is one
line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .support import REPO_ROOT, run

#: The sweeps below are bounded by `--max-seconds`; this bounds the process as well.
TIMEOUT = 120

#: Capacities: these measurements need the machine to themselves.
pytestmark = [pytest.mark.machine, pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="sizes for two CPUs")]


def tune(tmp_path: Path, *arguments: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / "tune.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest_asyncsafe.tune.cli", *arguments, "--json", str(out), "--max-seconds", "90"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return done, json.loads(out.read_text()) if out.exists() else {}


def capacity(report: dict[str, Any], workers: int) -> float:
    [point] = [p for p in report["points"] if p["workers"] == workers]
    return float(point["capacity_rps"])


def test_a_cpu_bound_route_scales_to_two_cpus_and_no_further(tmp_path: Path) -> None:
    done, report = tune(
        tmp_path, *"fixtures_app.sizing:app --path /compute --workers 1,2,4 --p99 100ms --cpus 2".split()
    )

    assert done.returncode == 0, done.stderr
    assert capacity(report, 2) >= 1.5 * capacity(report, 1)
    assert capacity(report, 4) < 1.2 * capacity(report, 2)
    assert report["recommendation"]["bound"] == "cpu"
    assert report["recommendation"]["cpu_bound"] is True
    # One worker per CPU for a CPU-bound app, whatever 4 measured on 2 CPUs.
    assert report["recommendation"]["workers"] == 2
    assert [p["generator_bound"] for p in report["points"]] == [False, False, False]
    # The table, and a progress line per step on stderr.
    assert done.stdout.splitlines()[2].split() == [
        "workers", "capacity", "req/s", "p50", "p99", "CPU/worker", "PSS/worker", "RSS/worker", "memory", "needed",
        "loop", "busy", "threads", "verdict",
    ]  # fmt: skip
    assert f"recommendation: {report['recommendation']['reason']} (bound: cpu)" in done.stdout
    assert "4 worker(s): starting the server" in done.stderr


def test_confined_to_one_cpu_it_recommends_one_worker(tmp_path: Path) -> None:
    done, report = tune(
        tmp_path, "fixtures_app.sizing:app", "--path", "/compute", "--workers", "1,2", "--p99", "100ms", "--cpus", "1"
    )

    assert done.returncode == 0, done.stderr
    assert report["limits"]["cpus"] == 1 and report["limits"]["cpus_source"] == "--cpus"
    assert capacity(report, 2) < 1.2 * capacity(report, 1)
    assert (report["recommendation"]["workers"], report["recommendation"]["bound"]) == (1, "cpu")


def test_a_step_the_generator_cannot_send_is_sent_from_more_processes_and_the_point_marked(tmp_path: Path) -> None:
    # Each iteration of the scenario costs the generator ~4 ms of CPU: one worker awaiting
    # 20 ms answers far more than the generator's processes can send.
    done, report = tune(
        tmp_path,
        *"fixtures_app.sizing:app --scenario fixtures_app.sizing:signed_requests --workers 1 --p99 100ms".split(),
    )

    assert done.returncode == 0, done.stderr
    [point] = report["points"]
    assert (point["generator_bound"], point["generators"]) == (True, len(os.sched_getaffinity(0)))
    assert point["capacity_rps"] > 0
    assert f"): again from {point['generators']} processes" in done.stderr
    assert "generator could not keep up" in done.stderr
    assert f"1 worker(s): {point['capacity_rps']:,.0f} req/s at p99 " in done.stderr
    assert "ms (generator-bound: the capacity is a lower bound)" in done.stderr
    assert done.stdout.splitlines()[4].endswith("  recommended, generator-bound")
    assert report["recommendation"]["reason"].endswith(
        "; the capacity of 1 worker(s) is a lower bound: the load generator could not send more, even from as "
        "many processes as CPUs"
    )


def test_a_factory_under_gunicorn_with_its_environment(tmp_path: Path) -> None:
    # The stub upstream /safe/http awaits answers after the delay the environment sets.
    done, report = tune(
        tmp_path,
        *"fixtures_app.factory:create_app --factory --server gunicorn --env FIXTURES_UPSTREAM_DELAY=0.05".split(),
        *"--path /safe/http --workers 2 --p99 500ms".split(),
    )

    assert done.returncode == 0, done.stderr
    [point] = report["points"]
    assert point["workers"] == 2 and point["capacity_rps"] > 0
    assert 0.05 <= point["p50"] < 0.5
    # Both workers measured: each holds the app (and its catalog) in memory.
    assert point["pss_bytes_per_worker"] > 10 * 2**20
    assert report["recommendation"]["cpu_bound"] is False
    assert "I/O-bound (" in report["recommendation"]["reason"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(
            ("fixtures_app.nope:app", "--path", "/"),
            "asyncsafe-tune: asyncsafe: the server for fixtures_app.nope:app exited with status 1 before it was "
            'ready. uvicorn.importer.ImportFromStringError: Could not import module "fixtures_app.nope".',
            id="app-fails-to-import",
        ),
        pytest.param(
            ("fixtures_app.sizing:app", "--path", "/wait", "--workers", "0"),
            "asyncsafe-tune: --workers: each count must be at least 1, got '0'",
            id="zero-workers",
        ),
        pytest.param(
            ("fixtures_app.sizing:app", "--path", "/wait", "--workers", "1", "--p99", "0.001"),
            "asyncsafe-tune: no worker count met the budget (p99 <= 1 ms, errors <= 0.0%) at any rate: the budget "
            "is out of reach of this app here",
            id="unreachable-budget",
        ),
        pytest.param(
            ("fixtures_app.sizing:app", "--workers", "1"),
            "asyncsafe-tune: give --path (or --scenario): what to load",
            id="nothing-to-load",
        ),
        pytest.param(
            ("fixtures_app.sizing:app", "--workers", "1", "--scenario", "fixtures_app.sizing:nope"),
            "asyncsafe-tune: --scenario fixtures_app.sizing:nope: module 'fixtures_app.sizing' has no attribute 'nope'",
            id="scenario-not-found",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, arguments: tuple[str, ...], message: str) -> None:
    done, report = tune(tmp_path, *arguments)

    assert done.returncode == 2
    assert report == {}
    assert [line for line in done.stderr.splitlines() if line.startswith("asyncsafe-tune: ")] == [message]
    assert done.stdout == ""


HEAVY = """
def test_sized(asyncsafe_tune):
    report = asyncsafe_tune(
        path="/compute", workers=[1, 2], p99="100ms", memory="250MiB", app="fixtures_app.sizing:heavy_app"
    )
    assert report.limits.memory_bytes == 250 * 2**20 and report.limits.memory_source == "memory="
    assert all(100 * 2**20 < point.memory.pss_bytes < 200 * 2**20 for point in report.points)
    assert report.point(2).capacity_rps >= 1.5 * report.point(1).capacity_rps
    recommendation = report.recommendation
    assert (recommendation.workers, recommendation.bound, recommendation.cpu_bound) == (1, "memory", True)
    assert "; 2 workers would serve more but need " in recommendation.reason
    assert " of 250.0 MiB (memory=); CPU-bound (" in recommendation.reason
"""


def test_a_memory_limit_too_small_for_two_heavy_workers_recommends_one_and_names_memory(
    project: pytest.Pytester,
) -> None:
    # Through the fixture: `asyncsafe_tune` returns the report a test asserts on.
    project.makepyfile(test_sized=HEAVY)
    result = run(project, "--asyncsafe")
    result.assert_outcomes(passed=1)
