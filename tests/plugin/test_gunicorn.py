"""`asyncsafe_server = "gunicorn"`: fixtures_app under Gunicorn's arbiter with two
`uvicorn_worker.UvicornWorker` workers, judged as under Uvicorn, and Gunicorn's own
failure mode - a worker its arbiter kills for exceeding `--timeout` - reported as such.

(The factory, startup failures and no orphan after SIGKILL are parameters of
tests/plugin/test_server.py; drains under Gunicorn are in tests/plugin/test_drain.py.)
"""

from __future__ import annotations

import re

import pytest

from .support import app_line, function_lines, outcomes, run, stall_report, write_ini

#: Stall thresholds, latency budgets, capacities: these verdicts need the machine to themselves.
pytestmark = pytest.mark.machine

GUNICORN = """
asyncsafe_server = gunicorn
asyncsafe_workers = 2
"""

STALLS = """
import re

import pytest


def test_runs_under_gunicorn(asyncsafe_server):
    assert len(asyncsafe_server.worker_pids) == 2
    assert re.search(r"\\[INFO\\] Starting gunicorn \\d", asyncsafe_server.logs)
    assert "Using worker: " in asyncsafe_server.logs


def test_clean(asyncsafe_client):
    assert asyncsafe_client.get("/items").status_code == 200


def test_blocking_sleep(asyncsafe_client):
    assert asyncsafe_client.get("/hazards/sleep").status_code == 200


def test_cpu_loop(asyncsafe_client):
    assert asyncsafe_client.get("/hazards/cpu", params={"milliseconds": 300}).status_code == 200


@pytest.mark.parametrize("path", ["/safe/sleep", "/safe/sleep/thread", "/safe/file/sync-route", "/safe/db/sync-route"])
def test_safe(asyncsafe_client, path):
    assert asyncsafe_client.get(path).status_code == 200


@pytest.mark.latency_budget(p95="20ms")
def test_budget(asyncsafe_load):
    asyncsafe_load.get("/slow", params={"seconds": 0.05}, requests=24, concurrency=4)
"""


def test_under_gunicorn_each_stall_fails_its_own_test_and_a_budget_miss_its_own(project: pytest.Pytester) -> None:
    write_ini(project, extra=GUNICORN)
    project.makepyfile(test_gunicorn=STALLS)

    result = run(project, "--asyncsafe", "--asyncsafe-loop", "uvloop")

    result.assert_outcomes(passed=6, failed=3)
    failed = {"test_blocking_sleep", "test_cpu_loop", "test_budget"}
    assert outcomes(result, "FAILED") == {f"test_gunicorn.py::{name}" for name in failed}
    sleep_line, _, sleep_code = app_line("routes/hazards.py", "time.sleep(0.3)  # expect: ASF101")
    result.stdout.fnmatch_lines(
        [
            "*_ test_blocking_sleep _*",
            *stall_report(
                request="GET /hazards/sleep",
                where=f"fixtures_app/routes/hazards.py:{sleep_line}",
                function="blocking_sleep",
                code=sleep_code,
            ),
            "*_ test_cpu_loop _*",
            *stall_report(request="GET /hazards/cpu", where="fixtures_app/routes/hazards.py:*", function="cpu_bound"),
            "*_ test_budget _*",
            "E   *BudgetMiss: latency budget missed (p95): GET /slow?seconds=0.05, 4 concurrent, 24 requests (24 counted, *s)",
            "E         metric |     budget | measured | verdict",
            "E         -------+------------+----------+--------",
            "E         p95    | <= 20.0 ms | * ms | FAIL",
        ]
    )
    cpu_lines = [
        int(line) for line in re.findall(r"fixtures_app/routes/hazards.py:(\d+) in cpu_bound", result.stdout.str())
    ]
    assert cpu_lines and set(cpu_lines) <= set(function_lines("routes/hazards.py", "cpu_bound"))


TIMEOUT = """
import time

import httpx
import pytest


def test_stuck_past_the_timeout(asyncsafe_client):
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        asyncsafe_client.get("/hazards/cpu", params={"milliseconds": 5000})


def test_the_run_goes_on_with_a_new_worker(asyncsafe_server, asyncsafe_client):
    deadline = time.monotonic() + 20
    while len(asyncsafe_server.live_workers()) < 2 and time.monotonic() < deadline:
        asyncsafe_server.poll()
        time.sleep(0.05)
    assert len(asyncsafe_server.live_workers()) == 2
    for _ in range(4):
        assert asyncsafe_client.get("/items", headers={"Connection": "close"}).status_code == 200
"""


def test_a_worker_killed_for_exceeding_gunicorns_timeout_fails_its_test_showing_where_it_was_stuck(
    project: pytest.Pytester,
) -> None:
    write_ini(project, extra=f"{GUNICORN}asyncsafe_server_args = --timeout 2")
    project.makepyfile(test_timeout=TIMEOUT)

    result = run(project, "--asyncsafe", "--asyncsafe-loop", "asyncio")

    result.assert_outcomes(passed=1, failed=1)
    assert outcomes(result, "FAILED") == {"test_timeout.py::test_stuck_past_the_timeout"}
    result.stdout.fnmatch_lines(
        [
            "*_ test_stuck_past_the_timeout _*",
            "asyncsafe: Gunicorn's arbiter killed worker pid * of fixtures_app.main:app during this test: it had not"
            " reported alive within --timeout 2 (WORKER TIMEOUT), and the arbiter starts another in its place",
            "  its event loop had been blocked for * when it died",
            "  while serving: GET /hazards/cpu",
            "  fixtures_app/routes/hazards.py:* in cpu_bound",
        ]
    )
    # (Each appears twice where the short summary quotes the whole message, as on CI.)
    [blocked] = set(re.findall(r"its event loop had been blocked for (\d+) ms when it died", result.stdout.str()))
    # The worker reports alive every half timeout (uvicorn-worker) and the arbiter looks
    # about once a second: the loop was blocked for between 1 and 3 of the 2 seconds.
    assert 1000 <= int(blocked) < 4500
    [line] = set(re.findall(r"fixtures_app/routes/hazards.py:(\d+) in cpu_bound", result.stdout.str()))
    assert int(line) in function_lines("routes/hazards.py", "cpu_bound")
    assert "WORKER TIMEOUT" in result.stdout.str()


def test_choosing_gunicorn_without_the_extra_says_what_to_install(project: pytest.Pytester) -> None:
    write_ini(project, extra=GUNICORN)
    # As if the `gunicorn` extra were not installed: importing it fails.
    project.makeconftest("import sys\n\nsys.modules['gunicorn'] = None\n")
    project.makepyfile(test_nothing="def test_nothing():\n    pass\n")

    result = run(project, "--asyncsafe")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.errlines == [
        "ERROR: asyncsafe: asyncsafe_server = gunicorn needs Gunicorn and uvicorn-worker, and gunicorn is not "
        "installed: pip install 'pytest-asyncsafe[gunicorn]'",
        "",
    ]
