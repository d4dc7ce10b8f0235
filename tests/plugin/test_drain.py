"""The SIGTERM drain check against fixtures_app: a clean drain, and each way a shutdown
goes wrong reported with its reason.  The `asyncsafe_drain` fixture is this suite's own
(the plugin is installed), serving real Uvicorn servers; the end-of-session item and
`assert_clean()`'s report are seen through pytester runs."""

from __future__ import annotations

import signal

import pytest
from fixtures_app.routes.lifecycle import SLOW_BODY

from pytest_asyncsafe.channel import pid_alive
from pytest_asyncsafe.drain import EXIT_MARGIN

from .support import app_line, run, write_ini


def where(relative: str, fragment: str, function: str) -> str:
    line, _, code = app_line(relative, fragment)
    return f"fixtures_app/{relative}:{line} in {function}: {code}"


@pytest.mark.parametrize(
    ("server", "workers", "exit_code"),
    [
        # Uvicorn re-raises SIGTERM after a one-worker shutdown; its supervisor returns 0,
        # and so does Gunicorn's arbiter.
        pytest.param("uvicorn", 1, -signal.SIGTERM, id="uvicorn-1"),
        pytest.param("uvicorn", 2, 0, id="uvicorn-2"),
        pytest.param("gunicorn", 2, 0, id="gunicorn-2"),
    ],
)
def test_a_clean_app_drains_cleanly_with_requests_in_flight(asyncsafe_drain, server, workers, exit_code):
    report = asyncsafe_drain(
        "/slow", in_flight=10, server=server, workers=workers, graceful_timeout="5s", params={"seconds": 1}
    )

    assert report.problems == []
    assert report.clean
    assert report.seen_in_flight == 10
    assert [(o.status, o.body_bytes) for o in report.completed] == [(200, len(SLOW_BODY))] * 10
    assert report.failed == []
    assert report.refused_after_signal, report.refusal
    assert report.lifespan_ok and report.lifespan_problems == []
    assert len(report.lifespan) == workers
    assert report.leaked_tasks == []
    assert report.exit_code == exit_code
    # The requests had a second to go: the drain waited for them, and not for the deadline.
    assert 0.5 < report.shutdown_seconds < 5 + EXIT_MARGIN
    assert report.log_errors == []
    assert "Application shutdown complete." in report.log
    report.assert_clean()


@pytest.mark.parametrize(
    ("server", "workers", "error_line", "exit_code"),
    [
        pytest.param("uvicorn", 1, "ERROR:    Application shutdown failed. Exiting.", -signal.SIGTERM, id="uvicorn-1"),
        pytest.param("gunicorn", 2, "] [ERROR] Application shutdown failed. Exiting.", 0, id="gunicorn-2"),
    ],
)
def test_a_lifespan_shutdown_that_raises_is_named(asyncsafe_drain, server, workers, error_line, exit_code):
    report = asyncsafe_drain(
        app="fixtures_app.shutdown:raising_shutdown",
        server=server,
        workers=workers,
        in_flight=2,
        params={"seconds": 0.5},
    )

    assert not report.clean
    assert not report.lifespan_ok
    assert len(report.completed) == 2 and report.refused_after_signal
    line, _, _ = app_line("shutdown.py", "raise MetricsUnreachable(")
    assert report.lifespan_problems == [
        f"lifespan shutdown raised in worker pid {pid}: fixtures_app.shutdown.MetricsUnreachable: "
        "fixtures_app.shutdown: cannot flush metrics to 127.0.0.1:1"
        f" (at fixtures_app/shutdown.py:{line} in flush_metrics)"
        for pid in report.lifespan
    ]
    assert len(report.lifespan) == workers
    assert any(line.endswith(error_line) for line in report.log_errors)
    assert report.exit_code == exit_code


def test_a_lifespan_shutdown_that_hangs_is_killed_and_shown_where_it_waits(asyncsafe_drain):
    report = asyncsafe_drain(
        app="fixtures_app.shutdown:hanging_shutdown", in_flight=2, graceful_timeout="1s", params={"seconds": 0.2}
    )

    assert report.killed
    assert report.exit_code == -signal.SIGKILL
    assert report.shutdown_seconds >= 1 + EXIT_MARGIN
    assert len(report.completed) == 2
    [problem] = report.lifespan_problems
    waiting = where("shutdown.py", "await outbox.join()", "hanging_lifespan")
    assert problem.startswith("lifespan shutdown did not complete in worker pid ")
    assert problem.endswith(f": waiting at {waiting}")
    assert "the server did not exit within 6000 ms (graceful timeout 1000 ms + 5000 ms): killed" in report.problems
    assert list(report.stuck) and not any(pid_alive(pid) for pid in report.stuck)


def test_a_task_left_running_is_listed_with_where_it_was_created(asyncsafe_drain):
    report = asyncsafe_drain(app="fixtures_app.shutdown:leaky_shutdown", in_flight=2, params={"seconds": 0.2})

    assert report.lifespan_ok  # the shutdown itself completed...
    [leaked] = report.leaked_tasks  # ... with the poller still running
    created, _, _ = app_line("shutdown.py", "asyncio.create_task(poll_config_forever())")
    waiting, _, _ = app_line("shutdown.py", "await asyncio.sleep(0.5)")
    assert leaked.task.coroutine == "poll_config_forever"
    assert leaked.describe(report.root) == (
        f"worker pid {leaked.pid}: poll_config_forever(), created at fixtures_app/shutdown.py:{created} in "
        f"leaky_lifespan, waiting at fixtures_app/shutdown.py:{waiting} in poll_config_forever"
    )
    assert report.problems == [f"task left running after lifespan shutdown in {leaked.describe(report.root)}"]


def test_requests_longer_than_the_graceful_timeout_are_reported_by_path(asyncsafe_drain):
    report = asyncsafe_drain("/slow", in_flight=3, graceful_timeout="1s", params={"seconds": 5})

    assert report.completed == []
    assert report.failed == [("GET /slow", "answered 500 Internal Server Error")] * 3
    assert report.cancelled == [("GET /slow", False)] * 3
    assert "GET /slow (3) was still running when the graceful timeout (1000 ms) passed: Uvicorn cancelled it" in (
        report.problems
    )
    assert any("Cancel 3 running task(s), timeout graceful shutdown exceeded" in line for line in report.log_errors)
    # Cancelling is how Uvicorn ends a drain that overran: the lifespan shutdown still ran.
    assert report.lifespan_ok and not report.killed


def test_under_gunicorn_requests_longer_than_the_graceful_timeout_die_with_their_worker(asyncsafe_drain):
    report = asyncsafe_drain(
        "/slow", in_flight=2, server="gunicorn", workers=1, graceful_timeout="1s", params={"seconds": 5}
    )

    # Gunicorn's arbiter SIGKILLs what still runs at its graceful timeout: no cancellation,
    # no lifespan shutdown, and it exits normally itself.
    assert report.completed == [] and report.cancelled == []
    assert [request for request, _ in report.failed] == ["GET /slow"] * 2
    assert all(reason.startswith("the connection closed before the full response") for _, reason in report.failed)
    [pid] = report.lifespan
    assert report.lifespan_problems == [
        f"worker pid {pid} was still serving when the graceful timeout (1000 ms) passed: Gunicorn's arbiter killed "
        "it, and its lifespan shutdown never ran"
    ]
    assert not report.killed and report.exit_code == 0
    assert 1 <= report.shutdown_seconds < 1 + EXIT_MARGIN


def test_a_streaming_response_that_outlasts_the_graceful_timeout_is_named(asyncsafe_drain):
    report = asyncsafe_drain("/stream", in_flight=2, graceful_timeout="1s", params={"chunks": 10, "every": 0.5})

    assert report.cancelled == [("GET /stream", True)] * 2
    assert (
        "GET /stream (2) was a streaming response still sending when the graceful timeout (1000 ms) passed: "
        "Uvicorn cancelled it"
    ) in report.problems
    [(request, reason)] = set(report.failed)
    assert request == "GET /stream"
    assert reason.startswith("the connection closed before the full response")


def test_a_rolling_deploy_loses_what_the_load_balancer_sends_after_sigterm_and_a_prestop_saves_it(asyncsafe_drain):
    lost = asyncsafe_drain("/health", in_flight=0, rate=100, deregister_delay="2s")
    # SIGTERM as termination began: for the 2 s the load balancer still routed here,
    # nothing listened (a connection caught as the listener closed is reset).
    dropped = lost.traffic["refused"] + lost.traffic["reset"]
    assert 150 <= dropped <= 201 and lost.traffic["failed"] == 0
    assert lost.traffic["refused"] > 0
    assert (
        f"{lost.traffic['refused']} requests refused in the 2.0 s after SIGTERM while the load balancer still routed "
        "here: a preStop delay of at least 2 s"
    ) in lost.problems
    assert "  traffic at 100/s through the shutdown (preStop 0 s, out of rotation 2 s after termination began): " in (
        lost.describe()
    )

    saved = asyncsafe_drain("/health", in_flight=0, rate=100, deregister_delay="2s", prestop="3s")
    saved.assert_clean()
    assert set(saved.traffic) == {"completed"} and 195 <= saved.traffic["completed"] <= 201


def test_under_gunicorn_the_requests_after_sigterm_are_counted_too(asyncsafe_drain):
    lost = asyncsafe_drain("/health", in_flight=0, server="gunicorn", rate=100, deregister_delay="1s")
    assert 70 <= lost.traffic["refused"] + lost.traffic["reset"] <= 101
    assert any(" after SIGTERM while the load balancer still routed here: a preStop delay of at least 1 s" in problem
               for problem in lost.problems)  # fmt: skip


# --- through pytest: assert_clean() and the end-of-session item ---------------------------------

DRAIN_TEST = """
def test_drain(asyncsafe_drain):
    asyncsafe_drain(app="fixtures_app.shutdown:leaky_shutdown", in_flight=2, params={"seconds": 0.2}).assert_clean()
"""


def test_assert_clean_fails_with_the_whole_report(project: pytest.Pytester) -> None:
    write_ini(project)
    project.makepyfile(test_drain=DRAIN_TEST)

    result = run(project)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            (
                "E * asyncsafe: drain of fixtures_app.shutdown:leaky_shutdown (1 worker, graceful timeout 10.0 s) "
                "with 2 x GET /slow in flight"
            ),
            "E *   UNCLEAN:",
            (
                "E *   - task left running after lifespan shutdown in worker pid *: poll_config_forever(), created at "
                "fixtures_app/shutdown.py:* in leaky_lifespan, waiting at fixtures_app/shutdown.py:* in "
                "poll_config_forever"
            ),
            "E *   requests completed: 2 of 2 *",
            "E *   new connections after SIGTERM: refused * after the signal*",
            "E *   lifespan shutdown: completed in every worker",
            "E *   tasks left running: 1",
            "E *   exit: status -15 after *s (expected -15: with 1 worker Uvicorn re-raises SIGTERM once it has shut down)",
        ]
    )


TRIVIAL = """
def test_health(asyncsafe_client):
    assert asyncsafe_client.get("/health").status_code == 200
"""

#: Runs the shutdown item first, as `--ff` does when only it failed last time.
SHUTDOWN_FIRST = """
import pytest

@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items):
    yield
    items.sort(key=lambda item: item.nodeid != "asyncsafe::shutdown")
"""


def test_tests_after_a_reordered_shutdown_item_get_a_new_server(project: pytest.Pytester) -> None:
    write_ini(project, shutdown=True)
    project.makepyfile(test_trivial=TRIVIAL)
    project.makeconftest(SHUTDOWN_FIRST)

    result = run(project, "--asyncsafe", "-v")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["asyncsafe::shutdown PASSED*", "test_trivial.py::test_health PASSED*"])


def test_every_asyncsafe_run_ends_with_a_shutdown_check_that_passes_on_a_clean_app(project: pytest.Pytester) -> None:
    write_ini(project, shutdown=True, extra="asyncsafe_drain_path = /slow?seconds=0.5")
    project.makepyfile(test_trivial=TRIVIAL)

    result = run(project, "--asyncsafe", "-v", "--asyncsafe-drain-in-flight", "4")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["test_trivial.py::test_health PASSED*", "asyncsafe::shutdown PASSED*"])

    # The same four requests really are in flight: a graceful timeout shorter than they
    # take makes Uvicorn cancel all four, and the item says so.
    cut_short = run(
        project, "--asyncsafe", "-v", "--asyncsafe-drain-in-flight", "4", "--asyncsafe-graceful-timeout", "200ms"
    )

    cut_short.assert_outcomes(passed=1, failed=1)
    cut_short.stdout.fnmatch_lines(
        [
            "asyncsafe::shutdown FAILED*",
            "*_ SIGTERM drain of the session's server with 4 x GET /slow?seconds=0.5 in flight _*",
            "  - GET /slow (4) was still running when the graceful timeout (200 ms) passed: Uvicorn cancelled it",
        ]
    )


def test_the_shutdown_check_fails_on_an_app_whose_shutdown_hangs(project: pytest.Pytester) -> None:
    write_ini(
        project, app="fixtures_app.shutdown:hanging_shutdown", shutdown=True, extra="asyncsafe_graceful_timeout = 1s"
    )
    project.makepyfile(test_slow="def test_slow(asyncsafe_client):\n    asyncsafe_client.get('/slow?seconds=0')\n")

    result = run(project, "--asyncsafe", "-v")

    result.assert_outcomes(passed=1, failed=1)
    waiting = where("shutdown.py", "await outbox.join()", "hanging_lifespan")
    result.stdout.fnmatch_lines(
        [
            "asyncsafe::shutdown FAILED*",
            "*_ SIGTERM drain of the session's server with none in flight _*",
            (
                "asyncsafe: drain of fixtures_app.shutdown:hanging_shutdown (1 worker, graceful timeout 1000 ms) "
                "with no request in flight"
            ),
            "  UNCLEAN:",
            f"  - lifespan shutdown did not complete in worker pid *: waiting at {waiting}",
            "  - the server did not exit within 6000 ms (graceful timeout 1000 ms + 5000 ms): killed",
        ]
    )


def test_the_shutdown_check_is_off_without_asyncsafe_or_when_disabled(project: pytest.Pytester) -> None:
    write_ini(project, shutdown=True)
    # The item is added at collection whether a test uses the server or not (the run
    # above shows it after a test that does): no test here needs one.
    project.makepyfile(test_trivial="def test_nothing():\n    pass\n")

    plain = run(project, "-v")
    disabled = run(project, "--asyncsafe", "-v", "-o", "asyncsafe_shutdown=false")

    plain.assert_outcomes(passed=1)
    disabled.assert_outcomes(passed=1)
    assert "asyncsafe::shutdown" not in plain.stdout.str() + disabled.stdout.str()
