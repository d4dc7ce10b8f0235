"""Backpressure: `LoadResult.rejected_fast`, the one assertion that a server started with
`--limit-concurrency` turns the excess away with fast 503s rather than letting it queue
or time out.  The verdict on hand-built results (no server), then fixtures_app's
`/slow` under real Uvicorn, with the limit and without, in one pytest session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest

from pytest_asyncsafe.load import LoadResult, LoadShape, Rejections
from pytest_asyncsafe.stats import Latencies

from .support import outcomes, run

#: Stall thresholds, latency budgets, capacities: these verdicts need the machine to themselves.
pytestmark = pytest.mark.machine


def result(
    *, statuses: dict[int, int], rejected_ms: Sequence[float] = (), errors: dict[str, int] | None = None
) -> LoadResult:
    """A run of `statuses` (and `errors`), its 503s taking `rejected_ms` milliseconds."""
    count = sum(statuses.values()) + sum((errors or {}).values())
    return LoadResult(
        "GET /slow",
        LoadShape(concurrency=40, requests=count),
        Latencies([0.2] * (sum(statuses.values()) - len(rejected_ms)) + [ms / 1000 for ms in rejected_ms]),
        Counter(statuses),
        Counter(errors or {}),
        rejected_latencies=Latencies(ms / 1000 for ms in rejected_ms),
    )


#: 100 503s of 1..100 ms: p99 99 ms.
HUNDRED = [float(ms) for ms in range(1, 101)]


# --- the verdict -----------------------------------------------------------------------------------


def test_fast_503s_and_nothing_else_amiss_pass_with_the_figures() -> None:
    verdict = result(statuses={200: 10, 503: 100}, rejected_ms=HUNDRED).rejected_fast(p99="100ms")

    assert verdict
    assert verdict == Rejections(count=110, rejected=100, p99=0.099, limit=0.1, errors=(), server_errors=())
    assert verdict.failures == []
    assert str(verdict) == repr(verdict)
    assert repr(verdict) == (
        "<rejected_fast: 100 of 110 answered 503, p99 99.0 ms <= 100.0 ms; "
        "every request got a response, none another 5xx>"
    )


def test_the_bound_is_inclusive_and_defaults_to_50ms() -> None:
    run_ = result(statuses={503: 100}, rejected_ms=[50.0] * 100)

    assert run_.rejected_fast()
    assert run_.rejected_fast(p99=0.05)
    assert not run_.rejected_fast(p99="49ms")


def test_no_503_means_the_load_never_reached_the_limit() -> None:
    verdict = result(statuses={200: 400}).rejected_fast()

    assert not verdict
    assert repr(verdict) == (
        "<rejected_fast FAILED: no request was rejected (0 of 400 answered 503): the load never went over "
        "the limit; send more concurrent requests than --limit-concurrency>"
    )


def test_slow_503s_fail_with_their_p99() -> None:
    verdict = result(statuses={200: 10, 503: 100}, rejected_ms=HUNDRED).rejected_fast(p99="50ms")

    assert not verdict
    assert repr(verdict) == (
        "<rejected_fast FAILED: the 503s were slow: p99 99.0 ms > 50.0 ms (100 of 110 answered 503)>"
    )


def test_requests_without_a_response_fail_by_kind() -> None:
    verdict = result(statuses={503: 90}, rejected_ms=[1.0] * 90, errors={"timeout": 8, "connect": 2}).rejected_fast()

    assert not verdict
    assert repr(verdict) == "<rejected_fast FAILED: 10 of 100 got no response (connect: 2, timeout: 8)>"


def test_other_5xx_fail_by_status() -> None:
    verdict = result(statuses={200: 5, 503: 90, 500: 3, 502: 2}, rejected_ms=[1.0] * 90).rejected_fast()

    assert not verdict
    assert repr(verdict) == "<rejected_fast FAILED: 5 of 100 answered another 5xx (500: 3, 502: 2)>"


def test_every_reason_is_given_at_once() -> None:
    verdict = result(statuses={200: 10, 500: 1}, errors={"timeout": 30}).rejected_fast()

    assert verdict.failures == [
        (
            "no request was rejected (0 of 41 answered 503): the load never went over the limit; "
            "send more concurrent requests than --limit-concurrency"
        ),
        "30 of 41 got no response (timeout: 30)",
        "1 of 41 answered another 5xx (500: 1)",
    ]


@pytest.mark.parametrize(
    ("p99", "message"),
    [
        ("fast", "rejected_fast: p99: invalid duration 'fast' (use e.g. 250ms, 2s or 1.5)"),
        ("-5ms", "rejected_fast: p99: invalid duration '-5ms' (use e.g. 250ms, 2s or 1.5)"),
        (-1, "rejected_fast: p99: a duration cannot be negative (-1)"),
        (float("inf"), "rejected_fast: p99: invalid duration inf (use e.g. 250ms, 2s or 1.5)"),
    ],
)
def test_a_bad_bound_is_named(p99: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        result(statuses={503: 1}, rejected_ms=[1.0]).rejected_fast(p99=p99)  # type: ignore[arg-type]
    assert str(raised.value) == message


def test_the_result_repr_shows_the_503s_when_there_are_some() -> None:
    shown = repr(result(statuses={200: 10, 503: 100}, rejected_ms=HUNDRED))
    assert shown.endswith(", errors {}, 503 x100 (p99 99.0 ms)>"), shown
    assert repr(result(statuses={200: 10})).endswith(", errors {}>")


# --- against fixtures_app ----------------------------------------------------------------------------

BACKPRESSURE = """
import httpx


def warmed(server):
    # The app's first request builds its validators (~25 ms of blocked loop): a cold
    # start, not backpressure, and it would delay the 503s queued behind it.
    assert httpx.get(server.base_url + "/slow", params={"seconds": 0}).status_code == 200
    return server


def test_limited(asyncsafe_load, asyncsafe_server_factory):
    server = warmed(asyncsafe_server_factory(server_args="--limit-concurrency 10"))
    result = asyncsafe_load.on(server).get("/slow", params={"seconds": 0.2}, concurrency=20, requests=400)
    print("ASYNCSAFE-VERDICT", result.rejected_fast(p99="50ms"), flush=True)
    assert result.rejected_fast(p99="50ms")
    # Uvicorn counts open connections against the limit too: 20 at once leave room for
    # a few 200s (none if the server accepts every connection before reading a request).
    assert set(result.status_counts) <= {200, 503}
    assert result.status_counts[200] + result.status_counts[503] == 400
    assert result.status_counts[503] > 300
    assert not result.errors


def test_unlimited(asyncsafe_load, asyncsafe_server_factory):
    server = warmed(asyncsafe_server_factory())
    result = asyncsafe_load.on(server).get("/slow", params={"seconds": 0.2}, concurrency=40, requests=80)
    assert dict(result.status_counts) == {200: 80}
    assert result.rejected_fast(p99="50ms")
"""


def test_a_limited_server_rejects_fast_and_an_unlimited_one_is_told_it_was_never_over(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_backpressure=BACKPRESSURE)
    result = run(project, "-s")

    result.assert_outcomes(passed=1, failed=1)
    assert outcomes(result, "FAILED") == {"test_backpressure.py::test_unlimited"}
    result.stdout.fnmatch_lines(
        [
            (
                "*ASYNCSAFE-VERDICT <rejected_fast: * of 400 answered 503, p99 * ms <= 50.0 ms; "
                "every request got a response, none another 5xx>"
            )
        ]
    )
    result.stdout.fnmatch_lines(
        [
            (
                "E       AssertionError: assert <rejected_fast FAILED: no request was rejected (0 of 80 answered 503): "
                "the load never went over the limit; send more concurrent requests than --limit-concurrency>"
            ),
        ]
    )
