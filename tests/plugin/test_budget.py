"""Latency budgets: the marker's keywords, the verdict on a run, the miss table, the summary
table and the JSON of load runs, and how a budget miss and an invalid run report.  The
results are built by hand: no server, no load generator."""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_asyncsafe.budget import Budget, BudgetError, BudgetMiss, Row
from pytest_asyncsafe.load import LoadResult, LoadShape
from pytest_asyncsafe.plugin import BUDGET, _recorder
from pytest_asyncsafe.report import load_table, worker_lines
from pytest_asyncsafe.rundata import load_json
from pytest_asyncsafe.saturation import Saturation
from pytest_asyncsafe.session import AsyncsafeSession
from pytest_asyncsafe.settings import ServerSettings, Settings
from pytest_asyncsafe.stalls import Frame, Sample, Stall
from pytest_asyncsafe.stats import Latencies
from pytest_asyncsafe.threadpool import ThreadPool
from pytest_asyncsafe.units import describe_unfinished

from .support import APP_DIR, run, write_ini

#: Stall thresholds, latency budgets, capacities: these verdicts need the machine to themselves.
pytestmark = pytest.mark.machine

TEST = "tests/test_api.py::test_items"


def make_result(
    milliseconds: list[float],
    *,
    target: str = "GET /items",
    statuses: dict[int, int] | None = None,
    errors: dict[str, int] | None = None,
    elapsed: float = 0.5,
    invalid: str | None = None,
    shape: LoadShape | None = None,
    saturation: tuple[Saturation, ...] = (),
    threadpool: tuple[ThreadPool, ...] = (),
    per_worker: dict[int, int] | None = None,
    unfinished: list[float] | None = None,
) -> LoadResult:
    """A run whose answered requests took `milliseconds`, and whose `unfinished` ones had
    waited so many milliseconds when it ended (in its latencies too, as a run puts them)."""
    waits = [ms / 1000 for ms in unfinished or []]
    return LoadResult(
        target,
        shape or LoadShape(concurrency=10, requests=len(milliseconds)),
        Latencies([*(ms / 1000 for ms in milliseconds), *waits]),
        Counter(statuses if statuses is not None else {200: len(milliseconds)}),
        Counter(errors or {}),
        elapsed=elapsed,
        started=100.0,
        finished=100.0 + elapsed,
        invalid=invalid,
        saturation=saturation,
        threadpool=threadpool,
        per_worker=per_worker or {},
        unfinished=sorted(waits, reverse=True),
    )


#: Two workers: one at capacity, one with room to spare.
SATURATION = (Saturation(4242, 0.97, 0.012, 0.31, 0.48), Saturation(4243, 0.5, 0.001, 0.004, 0.02))
THREADPOOL = (ThreadPool(4242, 40, 40, 12, 0.08, 0.1), ThreadPool(4243, 3, 40, 0, 0.0, 0.0))

#: 1..100 ms: p50 50 ms, p90 90 ms, p95 95 ms, p99 99 ms, max 100 ms.
HUNDRED = [float(ms) for ms in range(1, 101)]


def session(*, enabled: bool = True) -> AsyncsafeSession:
    return AsyncsafeSession(Settings(enabled, ServerSettings(app=None)))


# --- parsing ---------------------------------------------------------------------------------
def test_parse_reads_durations_fractions_and_rates_in_a_fixed_order() -> None:
    budget = Budget.parse(
        {"min_rps": 150, "error_rate": "1%", "p99": 0.5, "p95": "90ms", "max": "2s", "p50": "1.5", "p90": 0},
        "latency_budget",
    )
    assert budget.limits == (
        ("p50", 1.5),
        ("p90", 0.0),
        ("p95", 0.09),
        ("p99", 0.5),
        ("max", 2.0),
        ("error_rate", 0.01),
        ("min_rps", 150.0),
    )
    assert Budget.parse({"error_rate": 0.05}, "x").to_json() == {"error_rate": 0.05}
    assert Budget.parse({"error_rate": "0.05"}, "x").to_json() == {"error_rate": 0.05}


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            {"p59": "1s"},
            "latency_budget: unknown keyword 'p59' (a budget takes p50=, p90=, p95=, p99=, max=, threadpool_wait=, error_rate=, min_rps=)",
        ),
        ({"p95": "fast"}, "latency_budget: p95: invalid duration 'fast' (use e.g. 250ms, 2s or 1.5)"),
        ({"p95": "-5ms"}, "latency_budget: p95: invalid duration '-5ms' (use e.g. 250ms, 2s or 1.5)"),
        ({"max": -1}, "latency_budget: max: a duration cannot be negative (-1)"),
        ({"p99": math.inf}, "latency_budget: p99: invalid duration inf (use e.g. 250ms, 2s or 1.5)"),
        ({"p50": True}, "latency_budget: p50: invalid duration True (use e.g. 250ms, 2s or 1.5)"),
        (
            {"error_rate": 5},
            "latency_budget: error_rate: expected a fraction between 0 and 1 (0.01 is 1%), got 5",
        ),
        (
            {"error_rate": -0.1},
            "latency_budget: error_rate: expected a fraction between 0 and 1 (0.01 is 1%), got -0.1",
        ),
        (
            {"error_rate": "some"},
            "latency_budget: error_rate: expected a fraction of the requests, e.g. 0.01 (or '1%'), got 'some'",
        ),
        ({"min_rps": -3}, "latency_budget: min_rps: cannot be negative (-3)"),
        ({"min_rps": "lots"}, "latency_budget: min_rps: expected a number of requests a second, got 'lots'"),
        (
            {},
            "latency_budget: no budget given (use some of p50=, p90=, p95=, p99=, max=, threadpool_wait=, error_rate=, min_rps=)",
        ),
    ],
    ids=[
        "unknown-key",
        "duration-word",
        "duration-negative-text",
        "duration-negative-number",
        "duration-infinite",
        "duration-bool",
        "error-rate-above-one",
        "error-rate-negative",
        "error-rate-word",
        "rps-negative",
        "rps-word",
        "empty",
    ],
)
def test_a_bad_budget_names_its_keyword_and_value(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(BudgetError) as raised:
        Budget.parse(mapping, "latency_budget")
    assert str(raised.value) == message


# --- evaluating ------------------------------------------------------------------------------
def test_evaluate_gives_a_row_per_keyword_and_a_bound_is_met_when_equal() -> None:
    result = make_result(HUNDRED, statuses={200: 99, 503: 1})  # 1% errors, 200 rps
    budget = Budget.parse(
        {"p50": "50ms", "p95": "94ms", "max": "100ms", "error_rate": 0.01, "min_rps": 200.5}, "latency_budget"
    )
    assert budget.evaluate(result) == [
        Row("p50", 0.05, 0.05, True),
        Row("p95", 0.094, 0.095, False),
        Row("max", 0.1, 0.1, True),
        Row("error_rate", 0.01, 0.01, True),
        Row("min_rps", 200.5, 200.0, False),
    ]


def test_a_run_without_a_single_response_misses_every_latency_bound() -> None:
    result = make_result([], statuses={}, errors={"connect": 50})
    [p95, rate] = Budget.parse({"p95": "1s", "error_rate": 0.5}, "x").evaluate(result)
    assert math.isnan(p95.measured) and not p95.passed
    assert rate == Row("error_rate", 0.5, 1.0, False)


def test_enforce_returns_the_rows_of_a_run_that_meets_its_budget() -> None:
    rows = Budget.parse({"p99": "100ms"}, "x").enforce(make_result(HUNDRED))
    assert rows == [Row("p99", 0.1, 0.099, True)]


def test_a_miss_is_an_assertion_error_with_the_budget_table() -> None:
    result = make_result(HUNDRED, statuses={200: 98, 500: 2})
    budget = Budget.parse({"p95": "90ms", "p50": 0.1, "error_rate": "1%", "min_rps": 150}, "latency_budget")
    with pytest.raises(BudgetMiss) as raised:
        budget.enforce(result)
    assert isinstance(raised.value, AssertionError)
    assert str(raised.value).splitlines() == [
        "latency budget missed (p95, error_rate): GET /items, 10 concurrent, 100 requests (100 counted, 0.50s)",
        "  metric     |       budget |  measured | verdict",
        "  -----------+--------------+-----------+--------",
        "  p50        |  <= 100.0 ms |   50.0 ms | pass",
        "  p95        |   <= 90.0 ms |   95.0 ms | FAIL",
        "  error_rate |     <= 1.00% |     2.00% | FAIL",
        "  min_rps    | >= 150.0 rps | 200.0 rps | pass",
    ]


def test_a_miss_says_what_unfinished_requests_count_as_and_the_rows_they_failed() -> None:
    # 97 answered in 1..97 ms, 3 unanswered after 1.5, 1.2 and 1.2 s: max and p99 are theirs.
    result = make_result(HUNDRED[:97], unfinished=[1200.0, 1500.0, 1200.0])
    assert (result.count, result.ok, result.error_rate) == (100, 97, 0.03)
    assert (result.max, result.p99, result.p95) == (1.5, 1.2, 0.095)
    budget = Budget.parse({"p95": "90ms", "p99": "1s", "max": "2s", "error_rate": "5%"}, "latency_budget")
    with pytest.raises(BudgetMiss) as raised:
        budget.enforce(result)
    assert str(raised.value).splitlines() == [
        "latency budget missed (p95, p99): GET /items, 10 concurrent, 97 requests (100 counted, 0.50s)",
        "  metric     |       budget |  measured | verdict",
        "  -----------+--------------+-----------+--------",
        "  p95        |   <= 90.0 ms |   95.0 ms | FAIL",
        "  p99        | <= 1000.0 ms | 1200.0 ms | FAIL",
        "  max        | <= 2000.0 ms | 1500.0 ms | pass",
        "  error_rate |     <= 5.00% |     3.00% | pass",
        # p95 is 95 ms of the answered requests alone: its miss is theirs, not the unfinished'.
        (
            "  3 unfinished (waited 1.20-1.50 s): requests still unanswered when the run ended, each counted as an "
            "error and at its wait as its latency (a lower bound); p99 fails because of them"
        ),
    ]

    budget = Budget.parse({"max": "1s", "error_rate": "2%"}, "latency_budget")
    with pytest.raises(BudgetMiss) as raised:
        budget.enforce(result)
    assert str(raised.value).splitlines()[-1] == (
        "  3 unfinished (waited 1.20-1.50 s): requests still unanswered when the run ended, each counted as an "
        "error and at its wait as its latency (a lower bound); max, error_rate fail because of them"
    )

    # Slower answered requests would fail the bound anyway: nothing is blamed on the unfinished.
    slow = make_result([3000.0] * 10, unfinished=[1000.0])
    with pytest.raises(BudgetMiss) as raised:
        Budget.parse({"max": "500ms"}, "x").enforce(slow)
    assert str(raised.value).splitlines()[-1] == (
        "  1 unfinished (waited 1.00 s): requests still unanswered when the run ended, each counted as an error "
        "and at its wait as its latency (a lower bound)"
    )


def test_unfinished_requests_are_in_the_repr_and_the_verdict_on_rejections() -> None:
    result = make_result([1.0] * 7, unfinished=[1001.0, 1004.0, 1002.0], elapsed=1.0)
    assert repr(result) == (
        "<LoadResult GET /items 10 requests, 10 rps, p50 1.0 ms, p95 1004.0 ms, p99 1004.0 ms, errors {}, "
        "3 unfinished (waited 1.00 s)>"
    )
    assert describe_unfinished([1.0, 1.004]) == "2 unfinished (waited 1.00 s)"
    assert describe_unfinished([1.0, 1.006]) == "2 unfinished (waited 1.00-1.01 s)"
    assert describe_unfinished([2.5, 0.25]) == "2 unfinished (waited 0.25-2.50 s)"
    assert result.rejected_fast().errors == (("unfinished", 3),)
    assert make_result([1.0]).rejected_fast().errors == ()


def test_latencies_without_some_values_drop_one_sample_each() -> None:
    latencies = Latencies([0.1, 0.2, 0.2, 0.3])
    assert [latencies.without([0.2, 0.3]).percentile(q) for q in (50, 100)] == [0.1, 0.2]
    assert len(latencies.without([0.2, 0.2, 0.2, 0.4])) == 2
    assert len(latencies) == 4


def test_small_values_keep_their_digits_and_a_missing_latency_reads_as_a_dash() -> None:
    result = make_result([0.25, 0.5], elapsed=2.0)
    budget = Budget.parse({"p50": "0.1ms", "error_rate": 0.00001}, "x")
    rows = budget.evaluate(result)
    assert rows[0] == Row("p50", 0.0001, 0.00025, False)
    with pytest.raises(BudgetMiss) as raised:
        budget.enforce(result)
    assert str(raised.value).splitlines()[1:] == [
        "  metric     |     budget | measured | verdict",
        "  -----------+------------+----------+--------",
        "  p50        | <= 0.10 ms |  0.25 ms | FAIL",
        "  error_rate |  <= 0.001% |    0.00% | pass",
    ]

    empty = make_result([], statuses={}, errors={"timeout": 3})
    with pytest.raises(BudgetMiss) as raised:
        Budget.parse({"p50": "1s"}, "x").enforce(empty)
    assert "  p50    | <= 1000.0 ms |        - | FAIL" in str(raised.value).splitlines()


def test_assert_budget_on_a_result_uses_the_same_keywords() -> None:
    result = make_result(HUNDRED)
    result.assert_budget(p95="100ms", error_rate=0)
    with pytest.raises(BudgetMiss, match=r"p99"):
        result.assert_budget(p99="10ms")
    with pytest.raises(BudgetError, match=r"^assert_budget: unknown keyword 'p98'"):
        result.assert_budget(p98="1s")


# --- recording runs ----------------------------------------------------------------------------
class FakeItem:
    """What `_recorder` reads of a test item."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.nodeid = TEST
        self.stash = pytest.Stash()
        if budget is not None:
            self.stash[BUDGET] = budget


def test_the_recorder_keeps_every_run_with_its_index_per_target() -> None:
    state = session()
    record = _recorder(FakeItem(), state)  # type: ignore[arg-type]
    record(make_result(HUNDRED))
    record(make_result(HUNDRED, target="POST /items"))
    record(make_result(HUNDRED))
    assert [(run.test, run.target, run.index, run.verdict) for run in state.loads] == [
        (TEST, "GET /items", 0, "-"),
        (TEST, "POST /items", 0, "-"),
        (TEST, "GET /items", 1, "-"),
    ]
    assert state.loads[2].label == f"{TEST} GET /items #2"


def test_the_recorder_holds_a_run_to_the_tests_budget_under_asyncsafe() -> None:
    state = session()
    record = _recorder(FakeItem(Budget.parse({"p95": "100ms"}, "latency_budget")), state)  # type: ignore[arg-type]
    record(make_result(HUNDRED))
    with pytest.raises(BudgetMiss) as raised:
        record(make_result([ms * 2 for ms in HUNDRED]))
    # No server in this session: the table alone.
    assert str(raised.value).splitlines()[-1] == "  p95    | <= 100.0 ms | 190.0 ms | FAIL"
    assert [run.verdict for run in state.loads] == ["pass", "FAIL"]


def test_without_asyncsafe_a_budget_is_not_held_and_an_invalid_run_never_is() -> None:
    budget = Budget.parse({"p95": "1ms"}, "latency_budget")
    state = session(enabled=False)
    _recorder(FakeItem(budget), state)(make_result(HUNDRED))  # type: ignore[arg-type]
    assert [(run.verdict, run.rows, run.budget) for run in state.loads] == [("-", [], budget)]

    state = session()
    _recorder(FakeItem(budget), state)(make_result(HUNDRED, invalid="the generator's loop lagged 80 ms"))  # type: ignore[arg-type]
    assert [(run.verdict, run.rows) for run in state.loads] == [("INVALID", [])]


class FakeServer:
    recording_threshold = 0.02

    def __init__(self, root: Path) -> None:
        self.settings = ServerSettings(app="app:app", rootdir=root)


def test_a_miss_lists_the_loop_stalls_of_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    state = session()
    server = FakeServer(tmp_path)
    state.servers.append(server)  # type: ignore[arg-type]
    frame = Frame(str(tmp_path / "app" / "routes.py"), 12, "slow")
    sample = Sample(4242, 100.2, (frame,))
    request = {"method": "GET", "path": "/items", "responded": False}
    stalls = [
        (server, Stall(4242, 100.2, 100.5, "serving", (request,), (sample,))),
        (server, Stall(4242, 100.4, 100.43, "serving", (), ())),
    ]
    asked: list[tuple[float, float]] = []

    def between(start: float, end: float) -> list[Any]:
        asked.append((start, end))
        return stalls

    monkeypatch.setattr(state, "stalls_between", between)
    record = _recorder(FakeItem(Budget.parse({"p95": "10ms"}, "latency_budget")), state)  # type: ignore[arg-type]
    with pytest.raises(BudgetMiss) as raised:
        record(make_result(HUNDRED))
    assert asked == [(100.0, 100.5)]
    assert str(raised.value).splitlines()[-3:] == [
        "event loop stalls during the run (2, longest first; recorded from 20 ms):",
        "  300 ms in worker pid 4242 serving GET /items: app/routes.py:12 in slow",
        "  30 ms in worker pid 4242 serving no request: (no stack: GIL held)",
    ]

    stalls.clear()
    with pytest.raises(BudgetMiss) as raised:
        record(make_result(HUNDRED))
    assert str(raised.value).splitlines()[-1] == "no event loop stall of 20 ms or more during the run"


# --- the summary table and the JSON -------------------------------------------------------------
def test_the_summary_table_has_a_row_per_run_with_aligned_columns() -> None:
    state = session()
    budget = Budget.parse({"p95": "90ms"}, "latency_budget")
    state.record_load(TEST, make_result(HUNDRED, statuses={200: 98, 500: 2}), budget, enforce=True)
    state.record_load(
        TEST,
        make_result(HUNDRED, saturation=SATURATION, threadpool=THREADPOOL, per_worker={4242: 70, 4243: 20, 4244: 10}),
        budget,
        enforce=True,
    )
    state.record_load("tests/test_api.py::test_health", make_result([2.0] * 10, target="GET /health"), None,
                      enforce=True)  # fmt: skip
    state.record_load(TEST, make_result(HUNDRED, invalid="lagged"), budget, enforce=True)
    assert load_table(state.loads) == [
        "test                            target         shape                        requests    rps      p50      p95"
        "      p99     errors     busy      loop lag p50/p99/max     threads  verdict",
        "-" * 185,
        "tests/test_api.py::test_items   GET /items     10 concurrent, 100 requests       100  200.0  50.0 ms  95.0 ms"
        "  99.0 ms  2 (2.00%)        -                         -           -  FAIL",
        "tests/test_api.py::test_items   GET /items #2  10 concurrent, 100 requests       100  200.0  50.0 ms  95.0 ms"
        "  99.0 ms          0  97% 50%  12/310/480 ms, 1/4/20 ms  40/40 3/40  FAIL",
        "tests/test_api.py::test_health  GET /health    10 concurrent, 10 requests         10   20.0   2.0 ms   2.0 ms"
        "   2.0 ms          0        -                         -           -  -",
        "tests/test_api.py::test_items   GET /items #3  10 concurrent, 100 requests       100  200.0  50.0 ms  95.0 ms"
        "  99.0 ms          0        -                         -           -  INVALID",
    ]
    # A line for the worker at capacity and for the pool that ran dry, none for the others.
    assert worker_lines(state.loads) == [
        "tests/test_api.py::test_items GET /items #2: worker 4242 busy 97% of the run, loop lag p99 310 ms: "
        "this worker is at capacity; see more workers or a faster handler",
        "tests/test_api.py::test_items GET /items #2: worker 4242 thread pool: 40 of 40 threads in use at most, 12 "
        "tasks waiting for one at most, wait p99 80 ms, max 100 ms: the pool ran dry; every sync route (def routes, "
        "sync dependencies, run_in_threadpool) queued behind the ones holding it",
        "tests/test_api.py::test_items GET /items #2: worker 4242 received 70 of the run's 100 requests across 3 "
        "workers, 2 times an even share or more: a connection stays with the worker that accepted it, so few "
        "long-lived connections (a proxy's pool, a load generator's) load few workers",
    ]


def test_the_summary_table_and_the_json_count_unfinished_requests() -> None:
    state = session()
    result = make_result(HUNDRED[:27], statuses={200: 26, 500: 1}, unfinished=[1500.0, 1200.0, 1300.0])
    run_ = state.record_load(TEST, result, Budget.parse({"max": "1s"}, "latency_budget"), enforce=True)
    assert load_table([run_])[2] == (
        "tests/test_api.py::test_items  GET /items  10 concurrent, 27 requests        30  60.0  15.0 ms  1300.0 ms"
        "  1500.0 ms  4 (13.33%, 3 unfinished)     -                     -        -  FAIL"
    )
    data = load_json(run_)
    assert (data["count"], data["ok"], data["errors"], data["unfinished"]) == (30, 26, {}, [1.5, 1.3, 1.2])
    assert (data["max"], data["error_rate"]) == (1.5, 4 / 30)


def test_the_json_of_a_run_has_its_histogram_shape_health_and_budget_rows() -> None:
    state = session()
    result = make_result([1.0, 1.0, 2.0], statuses={200: 2, 404: 1}, errors={"timeout": 1}, elapsed=2.0)
    result.health["loop_lag_p99"] = 0.001
    budget = Budget.parse({"p99": "1ms", "error_rate": 0.5}, "latency_budget")
    result.starts = array("d", [0.0, 0.5, 1.0])
    data = load_json(state.record_load(TEST, result, budget, enforce=True))
    histogram = data.pop("histogram")
    assert [count for _, count in histogram] == [2, 1]
    assert histogram[0][0] == pytest.approx(0.001, rel=0.01) and histogram[1][0] == pytest.approx(0.002, rel=0.01)
    # What the HTML report draws: every request at its start, and the exact percentiles
    # from the fastest to the max, 40 a power of ten of 1 / (1 - q) while the run has samples.
    assert data.pop("over_time") == {
        "every": True, "start": [0.0, 0.5, 1.0], "latency": [0.001, 0.001, 0.002], "median_start": [], "median": []
    }  # fmt: skip
    spectrum = data.pop("spectrum")
    assert spectrum[0] == [0.0, 0.001] and spectrum[-1] == [100.0, 0.002] and len(spectrum) == 2 + 19
    # 66.5%: nearest rank 2 of 3; only the max is the third.
    assert spectrum[19] == [pytest.approx(100 * (1 - 10 ** (-19 / 40))), 0.001]
    assert (data.pop("bands"), data.pop("open_loop")) == ([], False)
    assert data == {
        "test": TEST,
        "target": "GET /items",
        "index": 0,
        "shape": {
            "concurrency": 10,
            "requests": 3,
            "duration": None,
            "rate": None,
            "warmup": 0,
            "timeout": 10.0,
            "description": "10 concurrent, 3 requests",
        },
        "count": 4,
        "ok": 2,
        "status_counts": {"200": 2, "404": 1},
        "errors": {"timeout": 1},
        "unfinished": [],
        "error_rate": 0.5,
        "elapsed": 2.0,
        "rps": 2.0,
        "p50": 0.001,
        "p90": 0.002,
        "p95": 0.002,
        "p99": 0.002,
        "max": 0.002,
        "mean": pytest.approx(0.004 / 3),
        "health": {"loop_lag_p99": 0.001},
        "saturation": [],
        "threadpool": [],
        "per_worker": {},
        "invalid": None,
        "budget": {"p99": 0.001, "error_rate": 0.5},
        "budget_rows": [
            {"metric": "p99", "budget": 0.001, "measured": 0.002, "passed": False},
            {"metric": "error_rate", "budget": 0.5, "measured": 0.5, "passed": True},
        ],
        "verdict": "FAIL",
    }
    json.dumps(data)  # plain JSON: no NaN, no tuples of odd types
    empty = load_json(state.record_load(TEST, make_result([], statuses={}, errors={"connect": 1}), None, enforce=True))
    assert empty["p50"] is None and empty["histogram"] == [] and empty["verdict"] == "-"
    saturated = load_json(state.record_load(TEST, make_result([1.0], saturation=SATURATION), None, enforce=True))
    assert saturated["saturation"] == [
        {"pid": 4242, "busy": 0.97, "lag_p50": 0.012, "lag_p99": 0.31, "lag_max": 0.48, "at_capacity": True},
        {"pid": 4243, "busy": 0.5, "lag_p50": 0.001, "lag_p99": 0.004, "lag_max": 0.02, "at_capacity": False},
    ]


# --- in a pytest run -------------------------------------------------------------------------------
def test_a_bad_latency_budget_marker_errors_its_test_at_setup(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_marker="""
        import pytest

        @pytest.mark.latency_budget(p95="200ms", p59="1s")
        def test_typo():
            pass

        @pytest.mark.latency_budget("200ms")
        def test_positional():
            pass

        @pytest.mark.latency_budget(p99="1s")
        class TestClass:
            @pytest.mark.latency_budget(p95="soon")
            def test_bad_duration(self):
                pass

            @pytest.mark.latency_budget(p95="100ms")
            def test_fine(self):
                pass
        """
    )
    result = run(project, "--asyncsafe")
    result.assert_outcomes(passed=1, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_typo _*",
            "latency_budget: unknown keyword 'p59' (a budget takes p50=, p90=, p95=, p99=, max=, threadpool_wait=, error_rate=, min_rps=)",
            "*_ ERROR at setup of test_positional _*",
            "latency_budget: takes keywords only, e.g. latency_budget(p95=\"200ms\"), got ('200ms',)",
            "*_ ERROR at setup of TestClass.test_bad_duration _*",
            "latency_budget: p95: invalid duration 'soon' (use e.g. 250ms, 2s or 1.5)",
        ]
    )


RECORDING_CONFTEST = """
import os
from collections import Counter

import pytest

from pytest_asyncsafe.load import LoadResult, LoadShape
from pytest_asyncsafe.plugin import SESSION, _recorder
from pytest_asyncsafe.stats import Latencies


@pytest.fixture
def fake_load(request):
    '''`asyncsafe_load`'s recording and enforcing, with made-up results: every request
    takes the given milliseconds (times $SLOWER, if set).'''
    record = _recorder(request.node, request.config.stash[SESSION])

    def load(target, milliseconds, count=100, invalid=None):
        scale = float(os.environ.get("SLOWER", "1"))
        result = LoadResult(
            target,
            LoadShape(concurrency=4, requests=count),
            Latencies([milliseconds * scale / 1000] * count),
            Counter({200: count}),
            elapsed=count / 1000 * scale,
            invalid=invalid,
        )
        record(result)
        return result

    return load
"""


def test_a_budget_miss_fails_the_test_and_every_run_is_in_the_summary(pytester: pytest.Pytester) -> None:
    write_ini(pytester)
    pytester.makeconftest(RECORDING_CONFTEST)
    pytester.makepyfile(
        test_load="""
        import pytest

        @pytest.mark.latency_budget(p95="10ms")
        def test_slow(fake_load):
            fake_load("GET /slow", 12.5)

        @pytest.mark.latency_budget(p95="10ms", min_rps=50)
        def test_fast(fake_load):
            fake_load("GET /fast", 2)
            fake_load("GET /fast", 3)
        """
    )
    result = run(pytester, "--asyncsafe")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E   *BudgetMiss: latency budget missed (p95): GET /slow, 4 concurrent, 100 requests (100 counted, 0.10s)",
            "E         metric |     budget | measured | verdict",
            "E         -------+------------+----------+--------",
            "E         p95    | <= 10.0 ms |  12.5 ms | FAIL",
            "*= asyncsafe: load runs =*",
            "test                     target        shape                       requests     rps      p50      p95      "
            "p99  errors  busy  loop lag p50/p99/max  threads  verdict",
            "-*",
            "test_load.py::test_slow  GET /slow     4 concurrent, 100 requests       100  1000.0  12.5 ms  12.5 ms  "
            "12.5 ms       0     -                     -        -  FAIL",
            "test_load.py::test_fast  GET /fast     4 concurrent, 100 requests       100  1000.0   2.0 ms   2.0 ms   "
            "2.0 ms       0     -                     -        -  pass",
            "test_load.py::test_fast  GET /fast #2  4 concurrent, 100 requests       100  1000.0   3.0 ms   3.0 ms   "
            "3.0 ms       0     -                     -        -  pass",
        ]
    )

    # Without --asyncsafe the runs are kept and shown, and nothing is held against a budget.
    result = run(pytester)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*= asyncsafe: load runs =*", "test_load.py::test_slow *  -", "(verdict -: latency budgets are held *)"]
    )


def test_an_invalid_load_run_is_neither_a_pass_nor_a_failure_unless_the_loop_stalled(pytester: pytest.Pytester) -> None:
    write_ini(pytester)
    (pytester.path / "fixtures_app").symlink_to(APP_DIR, target_is_directory=True)
    pytester.makeconftest(RECORDING_CONFTEST)
    pytester.makepyfile(
        test_invalid="""
        import pytest
        from pytest_asyncsafe.load import InvalidLoadRun

        @pytest.mark.latency_budget(p95="1ms")
        def test_overloaded_generator(fake_load):
            cause = "the generator's own loop lagged 120 ms (p99)"
            fake_load("GET /items", 50, invalid=cause)
            raise InvalidLoadRun(cause)

        def test_fine():
            pass

        def test_blocked_while_overloaded(asyncsafe_client, fake_load):
            # A stall during an invalid run is still the app's: the test fails for it.
            assert asyncsafe_client.get("/hazards/sleep").status_code == 200
            cause = "the generator's own loop lagged 90 ms (p99)"
            fake_load("GET /hazards/sleep", 300, invalid=cause)
            raise InvalidLoadRun(cause)
        """
    )
    result = run(pytester, "--asyncsafe", "-v")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes() == {"passed": 1, "invalid": 1, "failed": 1}
    result.stdout.fnmatch_lines(
        [
            "test_invalid.py::test_overloaded_generator INVALID*",
            "test_invalid.py::test_fine PASSED*",
            "test_invalid.py::test_blocked_while_overloaded FAILED*",
            "*_ test_blocked_while_overloaded _*",
            "asyncsafe: event loop blocked for * ms in worker pid * (threshold 100 ms)",
            "  while serving: GET /hazards/sleep",
            "*",
            "asyncsafe: invalid load run: the generator's own loop lagged 90 ms (p99)",
            "*= asyncsafe: load runs =*",
            "test_invalid.py::test_overloaded_generator * GET /items * INVALID",
            "test_invalid.py::test_blocked_while_overloaded * GET /hazards/sleep * INVALID",
            "*= asyncsafe: invalid load runs (the load asked for was not applied) =*",
            "INVALID test_invalid.py::test_overloaded_generator - the generator's own loop lagged 120 ms (p99)",
            "INVALID test_invalid.py::test_blocked_while_overloaded - the generator's own loop lagged 90 ms (p99)",
            "*= 1 failed, 1 passed, 1 invalid in *",
        ]
    )
    assert "FAILED test_invalid.py::test_overloaded_generator" not in result.stdout.str()

    result = run(pytester, "--asyncsafe", "-q", "-k", "not blocked")
    result.stdout.fnmatch_lines(["I.*"])


def test_the_json_file_lists_the_load_runs(pytester: pytest.Pytester) -> None:
    write_ini(pytester)
    pytester.makeconftest(RECORDING_CONFTEST)
    pytester.makepyfile(
        test_json="""
        import pytest

        @pytest.mark.latency_budget(p99="10ms")
        def test_items(fake_load):
            fake_load("GET /items", 4)
        """
    )
    result = run(pytester, "--asyncsafe", "--asyncsafe-json=out/asyncsafe.json")
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "out" / "asyncsafe.json").read_text())
    [load] = data["load_runs"]
    assert (load["test"], load["target"], load["verdict"], load["count"]) == (
        "test_json.py::test_items",
        "GET /items",
        "pass",
        100,
    )
    assert load["histogram"] == [[pytest.approx(0.004, rel=0.01), 100]]
    assert load["budget_rows"] == [{"metric": "p99", "budget": 0.01, "measured": 0.004, "passed": True}]
