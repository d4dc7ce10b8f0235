"""The server's life: a start that fails, a worker that dies, no process outliving pytest,
the fixtures with and without `--asyncsafe`, and what the ini file passes to Uvicorn."""

from __future__ import annotations

import fnmatch
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from .support import PRINT_PIDS, app_line, outcomes, printed_pids, run, stall_report, survivors, write_ini

#: Stall thresholds, latency budgets, capacities: these verdicts need the machine to themselves.
pytestmark = pytest.mark.machine

NEEDS_SERVER = """
def test_client(asyncsafe_client):
    assert asyncsafe_client.get("/health").status_code == 200

def test_server(asyncsafe_server):
    pass

def test_no_server():
    pass
"""


# --- a server that cannot start ----------------------------------------------------------


@pytest.mark.parametrize(
    ("app", "options", "header", "cause"),
    [
        pytest.param(
            "fixtures_app.factory:create_app_without_settings",
            ("--asyncsafe-factory",),
            (
                "asyncsafe: the server for fixtures_app.factory:create_app_without_settings exited with status 1"
                " before it was ready. Its output:"
            ),
            "fixtures_app.factory.MissingSetting: fixtures_app.factory: ORDERS_DATABASE_URL is not set",
            id="factory-raises",
        ),
        pytest.param(
            "fixtures_app.main:app",
            ("--asyncsafe-factory",),
            "asyncsafe: the server for fixtures_app.main:app exited with status 1 before it was ready. Its output:",
            "pytest_asyncsafe.worker.app.FactoryFailed: the app factory fixtures_app.main:app raised TypeError:"
            " FastAPI.__call__() missing 3 required positional arguments: 'scope', 'receive', and 'send' (if"
            " fixtures_app.main:app is the app itself, not a factory, leave asyncsafe_factory unset)",
            id="app-is-not-a-factory",
        ),
        pytest.param(
            "fixtures_app.nope:app",
            (),
            "asyncsafe: the server for fixtures_app.nope:app exited with status 1 before it was ready. Its output:",
            "ModuleNotFoundError: No module named 'fixtures_app.nope'",
            id="missing-module",
        ),
        pytest.param(
            "fixtures_app.broken:app",
            (),
            "asyncsafe: the server for fixtures_app.broken:app exited with status 1 before it was ready. Its output:",
            "ImportError: cannot import name 'DATABASE_URL' from 'fixtures_app.config' (*fixtures_app/config.py)",
            id="import-error",
        ),
        pytest.param(
            "fixtures_app.variants:failing_startup",
            (),
            "asyncsafe: the server for fixtures_app.variants:failing_startup exited with status 3 before it was ready."
            " Its output:",
            "fixtures_app.variants.DatabaseUnreachable: fixtures_app.variants: cannot reach the orders database at"
            " 127.0.0.1:1",
            id="lifespan-raises",
        ),
        # Under Gunicorn a worker that fails to boot stops the arbiter with status 3; when
        # both fail, the arbiter may meet the second one's failure while it stops, and
        # Gunicorn (27.0.1) lets that HaltServer escape: status 1, its traceback printed.
        pytest.param(
            "fixtures_app.factory:create_app_without_settings",
            ("--asyncsafe-factory", "--asyncsafe-server", "gunicorn", "--asyncsafe-workers", "2"),
            (
                "asyncsafe: the server for fixtures_app.factory:create_app_without_settings exited with status [13]"
                " before it was ready. Its output:"
            ),
            "fixtures_app.factory.MissingSetting: fixtures_app.factory: ORDERS_DATABASE_URL is not set",
            id="gunicorn-factory-raises",
        ),
        pytest.param(
            "fixtures_app.variants:failing_startup",
            ("--asyncsafe-server", "gunicorn", "--asyncsafe-workers", "2"),
            "asyncsafe: the server for fixtures_app.variants:failing_startup exited with status [13] before it was"
            " ready. Its output:",
            "*fixtures_app.variants.DatabaseUnreachable: fixtures_app.variants: cannot reach the orders database at"
            " 127.0.0.1:1",
            id="gunicorn-lifespan-raises",
        ),
    ],
)
def test_a_server_that_fails_to_start_errors_every_test_that_needs_it(
    project: pytest.Pytester, app: str, options: tuple[str, ...], header: str, cause: str
) -> None:
    project.makepyfile(test_needs=NEEDS_SERVER)
    result = run(project, "--asyncsafe", "--asyncsafe-app", app, *options)

    result.assert_outcomes(passed=1, errors=2)
    assert outcomes(result, "ERROR") == {"test_needs.py::test_client", "test_needs.py::test_server"}
    for test in ("test_client", "test_server"):
        result.stdout.fnmatch_lines([f"*_ ERROR at setup of {test} _*", header, "*", cause])
    # Once per test, not chained to itself ("During handling of the above exception...").
    assert len(fnmatch.filter(result.outlines, header)) == 2


FACTORY = """
def test_built_in_each_worker(asyncsafe_server, asyncsafe_client):
    for _ in range(4):
        built = asyncsafe_client.get("/built", headers={"Connection": "close"}).json()
        assert built["built_in"] == built["served_by"]
        assert built["served_by"] in asyncsafe_server.worker_pids

def test_blocking(asyncsafe_client):
    assert asyncsafe_client.get("/hazards/sleep").status_code == 200
"""


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_a_factory_is_called_in_every_worker_and_its_app_watched(project: pytest.Pytester, server: str) -> None:
    write_ini(project, app="fixtures_app.factory:create_app", extra="asyncsafe_factory = true")
    project.makepyfile(test_factory=FACTORY)

    result = run(project, "--asyncsafe", "--asyncsafe-workers", "2", "--asyncsafe-server", server)

    result.assert_outcomes(passed=1, failed=1)
    assert outcomes(result, "FAILED") == {"test_factory.py::test_blocking"}
    line, _, code = app_line("routes/hazards.py", "time.sleep(0.3)  # expect: ASF101")
    where = f"fixtures_app/routes/hazards.py:{line}"
    result.stdout.fnmatch_lines(
        [
            "*_ test_blocking _*",
            *stall_report(request="GET /hazards/sleep", where=where, function="blocking_sleep", code=code),
        ]
    )


def test_a_server_that_never_gets_ready_errors_within_the_startup_timeout(project: pytest.Pytester) -> None:
    project.makepyfile(test_needs=NEEDS_SERVER)
    started = time.monotonic()
    result = run(
        project,
        "--asyncsafe",
        "--asyncsafe-app",
        "fixtures_app.variants:never_ready",
        "--asyncsafe-workers",
        "2",
        "--asyncsafe-startup-timeout",
        "1s",
    )
    took = time.monotonic() - started

    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_client _*",
            (
                "asyncsafe: the server for fixtures_app.variants:never_ready was not ready within 1000 ms"
                " (0 of 2 workers ready). Its output:"
            ),
        ]
    )
    # Not the 10 s graceful shutdown (plus 5) a server that never served has nothing to drain for.
    assert took < 8, f"the session took {took:.1f} s"


# --- a worker that dies ----------------------------------------------------------------------

CRASH = f"""
import httpx

def test_before(asyncsafe_server, asyncsafe_client):
    {PRINT_PIDS}
    assert asyncsafe_client.get("/health").status_code == 200

def test_crash(asyncsafe_client):
    try:
        asyncsafe_client.get("/hazards/crash")
    except httpx.HTTPError:
        pass  # the connection dies with the worker

def test_after(asyncsafe_client):
    assert asyncsafe_client.get("/items").status_code == 200
"""


def test_a_worker_dying_mid_test_fails_that_test_with_its_last_output(project: pytest.Pytester) -> None:
    project.makepyfile(test_crash=CRASH)
    result = run(project, "-s", "--asyncsafe", "--asyncsafe-workers", "2")

    result.assert_outcomes(passed=2, failed=1)
    assert outcomes(result, "FAILED") == {"test_crash.py::test_crash"}
    result.stdout.fnmatch_lines(
        [
            "*_ test_crash _*",
            "asyncsafe: Uvicorn worker pid * of fixtures_app.main:app died during this test. The server's last output:",
            "*",
            "fixtures_app: worker * is going down (exit status 70)",
        ]
    )
    text = result.stdout.str()
    died = int(re.search(r"Uvicorn worker pid (\d+) of", text).group(1))
    going_down = int(re.search(r"fixtures_app: worker (\d+) is going down", text).group(1))
    _, *workers = printed_pids(result.outlines)
    assert died == going_down and died in workers


# --- no process outlives pytest -------------------------------------------------------------

HOLD = f"""
import time

def test_hold(asyncsafe_server):
    {PRINT_PIDS}
    time.sleep(60)
"""


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_no_server_process_survives_pytest_being_killed(project: pytest.Pytester, server: str) -> None:
    project.makepyfile(test_hold=HOLD)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-s",
        "--asyncsafe",
        "--asyncsafe-workers",
        "2",
        "--asyncsafe-server",
        server,
    ]
    pytest_process = subprocess.Popen(command, cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line.decode(errors="replace")) for line in pytest_process.stdout]
    )
    reader.start()
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        seen: list[str] = []
        while not pids and time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=max(deadline - time.monotonic(), 0.01)))
            except queue.Empty:
                break
            if "ASYNCSAFE-PIDS" in seen[-1]:
                pids = printed_pids(seen[-1:])
        assert pids, "the inner test never printed its pids:\n" + "".join(seen)
        assert len(pids) == 3  # the supervisor (Gunicorn's arbiter) and two workers

        pytest_process.send_signal(signal.SIGKILL)
        pytest_process.wait(10)
        # The lifeline gives the server a SIGTERM at once (and its process group a SIGKILL
        # after the graceful timeout + 5 s, here 15 s: so this is the SIGTERM at work).
        assert survivors(pids, timeout=8.0) == []
    finally:
        if pytest_process.poll() is None:
            pytest_process.kill()
            pytest_process.wait()
        for pid in pids:  # never leave one behind, even when the test failed
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reader.join(10)


# --- the fixtures, with and without --asyncsafe ---------------------------------------------

FIXTURES = """
import httpx
import pytest

FACTORY_PIDS = []

@pytest.fixture
def anyio_backend():
    return "asyncio"

def test_client(asyncsafe_client):
    assert asyncsafe_client.get("/items").json()[0]["name"] == "Espresso cup"

def test_blocking_is_not_judged(asyncsafe_client):
    assert asyncsafe_client.get("/hazards/sleep").status_code == 200

def test_factory(asyncsafe_server, asyncsafe_server_factory):
    server = asyncsafe_server_factory(workers=2, loop="uvloop")
    assert len(server.worker_pids) == 2
    assert server.base_url != asyncsafe_server.base_url
    assert server.base_url.startswith("http://127.0.0.1:")
    assert httpx.get(server.base_url + "/health", timeout=10).status_code == 200
    FACTORY_PIDS.extend([server.pid, *server.worker_pids])

def test_factory_server_was_stopped_after_its_test():
    assert FACTORY_PIDS
    import os
    for pid in FACTORY_PIDS:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        with open(f"/proc/{pid}/stat") as stat:
            assert stat.read().rpartition(")")[2].split()[0] == "Z", f"pid {pid} still runs"

@pytest.mark.anyio
async def test_async_client(asyncsafe_async_client):
    response = await asyncsafe_async_client.get("/health")
    assert response.status_code == 200
"""


def test_without_asyncsafe_the_fixtures_serve_and_nothing_is_judged(project: pytest.Pytester) -> None:
    write_ini(project, lint=True)  # no lint item either: linting is part of --asyncsafe
    project.makepyfile(test_fixtures=FIXTURES)
    result = run(project)

    result.assert_outcomes(passed=5)
    assert "asyncsafe::lint" not in result.stdout.str()
    assert "asyncsafe: event loop" not in result.stdout.str()


# --- what the ini file hands to the server --------------------------------------------------

ENVIRONMENT = """
def test_env(asyncsafe_client):
    response = asyncsafe_client.get("/env/ASYNCSAFE_GREETING")
    assert response.json() == {"name": "ASYNCSAFE_GREETING", "value": "hello from the ini file"}
    # `--header` is a Uvicorn option: it is on every response.
    assert response.headers["x-served-by"] == "asyncsafe-tests"
"""


def test_asyncsafe_env_and_uvicorn_args_reach_the_server(project: pytest.Pytester) -> None:
    write_ini(
        project,
        app="fixtures_app.variants:blocking_startup",
        extra="""
        asyncsafe_env =
            ASYNCSAFE_GREETING = hello from the ini file
        asyncsafe_uvicorn_args = --limit-concurrency 100 --header x-served-by:asyncsafe-tests
        """,
    )
    project.makepyfile(test_env=ENVIRONMENT)
    result = run(project, "--asyncsafe")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        (
            "asyncsafe_uvicorn_args = --bogus",
            "*asyncsafe: invalid Uvicorn options '--bogus': No such option*--bogus*",
        ),
        (
            "asyncsafe_uvicorn_args = --port 8000",
            "*asyncsafe: Uvicorn options may not set --port: the plugin binds 127.0.0.1 itself",
        ),
        (
            "asyncsafe_server_args = --timeout-graceful-shutdown 3",
            "*asyncsafe: Uvicorn options may not set --timeout-graceful-shutdown: use asyncsafe_graceful_timeout",
        ),
        (
            "asyncsafe_uvicorn_args = --header nocolon",
            "*asyncsafe: invalid Uvicorn options '--header nocolon': Invalid value for '--header': "
            "Expected 'Name:Value' format, got 'nocolon'.",
        ),
        (
            "asyncsafe_uvicorn_args = --backlog 10\nasyncsafe_server_args = --backlog 20",
            "*asyncsafe: asyncsafe_uvicorn_args and asyncsafe_server_args are both set: keep one",
        ),
        (
            "asyncsafe_server = gunicorn\nasyncsafe_uvicorn_args = --backlog 10",
            "*asyncsafe: asyncsafe_uvicorn_args: Uvicorn's options, but the server is gunicorn: use "
            "asyncsafe_server_args",
        ),
        (
            "asyncsafe_server = gunicorn\nasyncsafe_server_args = --bogus",
            "*asyncsafe: invalid Gunicorn options: unrecognized arguments: --bogus",
        ),
        (
            "asyncsafe_server = gunicorn\nasyncsafe_server_args = --timeout 30 --workers 3",
            "*asyncsafe: Gunicorn options may not set --workers: use asyncsafe_workers",
        ),
        (
            "asyncsafe_server = gunicorn\nasyncsafe_server_args = --max-requests many",
            "*asyncsafe: invalid Gunicorn options: argument --max-requests: invalid int value: 'many'",
        ),
        (
            "asyncsafe_server = gunicorn\nasyncsafe_server_args = --forwarded-allow-ips '*' app:app",
            "*asyncsafe: Gunicorn options may not name the app (app:app): use asyncsafe_app",
        ),
        (
            "asyncsafe_server = hypercorn",
            "*asyncsafe: --asyncsafe-server: expected one of uvicorn, gunicorn, got 'hypercorn'",
        ),
    ],
    ids=[
        "unknown-option",
        "owned-option",
        "owned-graceful-timeout",
        "header-without-colon",
        "both-keys",
        "uvicorn-args-under-gunicorn",
        "gunicorn-unknown-option",
        "gunicorn-owned-option",
        "gunicorn-bad-value",
        "gunicorn-app-argument",
        "unknown-server",
    ],
)
def test_bad_server_args_give_a_clear_error(project: pytest.Pytester, ini: str, message: str) -> None:
    write_ini(project, app="fixtures_app.variants:blocking_startup", extra=ini)
    project.makepyfile(test_needs=NEEDS_SERVER)
    result = run(project, "--asyncsafe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


# --- no false positives under load ----------------------------------------------------------

LOAD = """
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

TOTAL, THREADS, BUDGET = 2000, 8, 30.0

def test_load(asyncsafe_server):
    deadline = time.monotonic() + BUDGET

    def client(number):
        done = 0
        with httpx.Client(base_url=asyncsafe_server.base_url, timeout=10) as http:
            for request in range(TOTAL // THREADS):
                if time.monotonic() > deadline:
                    break
                assert http.get("/items" if (number + request) % 2 else "/health").status_code == 200
                done += 1
        return done

    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        done = sum(pool.map(client, range(THREADS)))
    print(f"ASYNCSAFE-LOAD {done} requests in {time.monotonic() - started:.2f} s")
    assert done == TOTAL

def test_after(asyncsafe_client):
    assert asyncsafe_client.get("/health").status_code == 200
"""


def test_a_clean_app_under_concurrent_load_passes(project: pytest.Pytester) -> None:
    project.makepyfile(test_load=LOAD)
    result = run(project, "-s", "--asyncsafe", "--asyncsafe-workers", "2")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*ASYNCSAFE-LOAD 2000 requests in * s*"])
    assert "stall(s), worst" not in result.stdout.str()


# --- pytest-xdist: a server per xdist worker -------------------------------------------------

PER_XDIST_WORKER = """
import os

import pytest


@pytest.mark.parametrize("n", range(4))
def test_port(asyncsafe_server, asyncsafe_client, pytestconfig, n):
    assert asyncsafe_client.get("/health").status_code == 200
    worker = os.environ["PYTEST_XDIST_WORKER"]
    seen = pytestconfig.rootpath / f"seen-{worker}-{n}.txt"
    seen.write_text(f"{worker} {asyncsafe_server.port} {asyncsafe_server.pid}")
"""


def test_each_xdist_worker_gets_its_own_server(project: pytest.Pytester) -> None:
    project.makepyfile(test_xdist=PER_XDIST_WORKER)
    result = run(project, "--asyncsafe", "-n", "2", "--dist", "each")
    result.assert_outcomes(passed=8)
    seen = {tuple(path.read_text().split()) for path in project.path.glob("seen-*.txt")}
    by_worker = {worker: (port, pid) for worker, port, pid in seen}
    # Each xdist worker ran every test against one server, and no two shared one.
    assert sorted(by_worker) == ["gw0", "gw1"] and len(seen) == 2
    assert len({port for port, _ in by_worker.values()}) == len({pid for _, pid in by_worker.values()}) == 2
