"""`asyncsafe::keepalive` against real servers: the server's idle-connection timeout,
measured on a kept-alive connection, held to the load balancer's
(`asyncsafe_lb_idle_timeout`).  Uvicorn's default 5 s fails against 60 s and names the
option; a server that outlasts the load balancer passes."""

from __future__ import annotations

import pytest

from pytest_asyncsafe.keepalive import verdict

from .support import run, write_ini

ONE = """
def test_health(asyncsafe_client):
    assert asyncsafe_client.get("/health").status_code == 200
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(
            "asyncsafe_lb_idle_timeout = 60s",
            "Uvicorn closes idle connections after 5.? s, the load balancer keeps them 60 s: set --timeout-keep-alive "
            "65 (in production, and in asyncsafe_server_args). A request the load balancer sends on a connection the "
            "server is closing fails with a 502.",
            id="uvicorn-default-against-60s",
        ),
        pytest.param(
            "asyncsafe_lb_idle_timeout = 3s\nasyncsafe_server = gunicorn\nasyncsafe_server_args = --keep-alive 2",
            "Gunicorn's Uvicorn workers close idle connections after 2.? s, the load balancer keeps them 3 s: set "
            "--keep-alive 8 (in production, *",
            id="gunicorn-2s-against-3s",
        ),
    ],
)
def test_a_server_that_closes_idle_connections_first_fails_naming_the_option(
    project: pytest.Pytester, extra: str, message: str
) -> None:
    write_ini(project, extra=extra)
    project.makepyfile(test_one=ONE)
    result = run(project, "--asyncsafe", "-rf")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*_ the server keeps idle connections longer than the load balancer's * _*", message])
    result.stdout.fnmatch_lines(["FAILED asyncsafe::keepalive*"])


def test_a_server_that_outlasts_the_load_balancer_passes(project: pytest.Pytester) -> None:
    write_ini(project, extra="asyncsafe_lb_idle_timeout = 2s\nasyncsafe_server_args = --timeout-keep-alive 7")
    project.makepyfile(test_one=ONE)
    result = run(project, "--asyncsafe", "-v")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["asyncsafe::keepalive PASSED*"])


def test_no_item_without_a_load_balancer_timeout(project: pytest.Pytester) -> None:
    project.makepyfile(test_one=ONE)
    result = run(project, "--asyncsafe", "--co", "-q")
    assert result.ret == pytest.ExitCode.OK
    assert [line for line in result.stdout.lines if "::" in line] == ["test_one.py::test_health"]


def test_the_verdict_and_the_timeout_it_recommends() -> None:
    assert verdict("uvicorn", None, 60) is None  # still open past the load balancer's
    assert verdict("uvicorn", 75.0, 60) is None
    assert verdict("uvicorn", 60.0, 60) is not None  # the same is not longer: they race
    assert (verdict("uvicorn", 5.0, 60.5) or "").startswith(
        "Uvicorn closes idle connections after 5.0 s, the load balancer keeps them 60.5 s: set --timeout-keep-alive 66 "
    )
