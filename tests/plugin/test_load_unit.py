"""The load generator and its transport against a real Uvicorn serving tests/plugin/loadapp.py:
shapes and their usage errors, exact counts, warm-up, the open loop's rate and its clock,
failures counted by kind, and runs the generator itself spoils, called invalid."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import socket
import threading
import time
from array import array
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from pytest_asyncsafe import plugin
from pytest_asyncsafe.budget import BudgetMiss
from pytest_asyncsafe.load import (
    ANSWER_GRACE,
    MAX_CONCURRENCY,
    MAX_REQUESTS,
    OPEN_LOOP_CONCURRENCY,
    InvalidLoadRun,
    LoadResult,
    LoadRunner,
    LoadShape,
    LoadUsageError,
    combined,
    parse_shape,
)
from pytest_asyncsafe.load.engine import grace_for
from pytest_asyncsafe.load.health import generator_verdict
from pytest_asyncsafe.load.tally import Tally
from pytest_asyncsafe.load.transport import LeanTransport
from pytest_asyncsafe.server import Server
from pytest_asyncsafe.settings import ServerSettings
from pytest_asyncsafe.stats import Latencies
from pytest_asyncsafe.units import describe_unfinished

from .support import REPO_ROOT

#: Stall thresholds, latency budgets, capacities: these verdicts need the machine to themselves.
pytestmark = pytest.mark.machine

APP = "tests.plugin.loadapp:app"


def start_server() -> Server:
    return Server(ServerSettings(app=APP, rootdir=REPO_ROOT)).start()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    server = start_server()
    yield server
    server.close()


@pytest.fixture(scope="module")
def stopped_server() -> Server:
    """A server that ran and stopped: nothing listens on its port any more."""
    server = start_server()
    server.close()
    return server


class Recorder:
    """An `on_result` that keeps every result it is given."""

    def __init__(self) -> None:
        self.results: list[LoadResult] = []

    def __call__(self, result: LoadResult) -> None:
        self.results.append(result)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def load(server: Server, recorder: Recorder) -> LoadRunner:
    return LoadRunner(server.base_url, on_result=recorder)


def ticks(server: Server) -> int:
    return int(httpx.get(f"{server.base_url}/ticks", timeout=5).text)


# --- shapes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        pytest.param(
            {"requests": 10, "methd": "GET"},
            "asyncsafe_load: unknown keyword 'methd' (shape: concurrency, requests, duration, rate, warmup, timeout; "
            "request: headers, params, json, content, data, cookies)",
            id="unknown-keyword",
        ),
        pytest.param(
            {"rate": 100},
            "asyncsafe_load: rate= needs duration= (how long to keep the rate up, e.g. '2s')",
            id="rate-without-duration",
        ),
        pytest.param({"requests": 0}, "asyncsafe_load: requests= must be at least 1, got 0", id="zero-requests"),
        pytest.param({"requests": -5}, "asyncsafe_load: requests= must be at least 1, got -5", id="negative-requests"),
        pytest.param(
            {"requests": 2.5}, "asyncsafe_load: requests= must be a whole number, got 2.5", id="fractional-requests"
        ),
        pytest.param(
            {"concurrency": 8},
            "asyncsafe_load: give requests= or duration=, e.g. requests=1000 or duration='2s'",
            id="neither-requests-nor-duration",
        ),
        pytest.param(
            {"requests": 10, "duration": "1s"},
            "asyncsafe_load: give requests= or duration=, not both",
            id="requests-and-duration",
        ),
        pytest.param(
            {"requests": 10, "rate": 100, "duration": "1s"},
            "asyncsafe_load: requests= and rate= do not go together: an open-loop run sends rate x duration requests",
            id="requests-and-rate",
        ),
        pytest.param(
            {"requests": 10, "concurrency": 0},
            "asyncsafe_load: concurrency= must be at least 1, got 0",
            id="no-workers",
        ),
        pytest.param(
            {"requests": 10, "concurrency": MAX_CONCURRENCY + 1},
            f"asyncsafe_load: concurrency= is over the limit of {MAX_CONCURRENCY}, got {MAX_CONCURRENCY + 1}",
            id="too-many-workers",
        ),
        pytest.param(
            {"requests": MAX_REQUESTS + 1},
            f"asyncsafe_load: requests= is over the limit of {MAX_REQUESTS}, got {MAX_REQUESTS + 1}",
            id="too-many-requests",
        ),
        pytest.param(
            {"duration": "301s"},
            "asyncsafe_load: duration= is over the limit of 300s, got '301s'",
            id="too-long",
        ),
        pytest.param(
            {"rate": 5000, "duration": "250s"},
            f"asyncsafe_load: rate= x duration= is 1250000 requests, over the limit of {MAX_REQUESTS}",
            id="too-many-scheduled",
        ),
        pytest.param(
            {"duration": "soon"},
            "asyncsafe_load: duration= must be a duration such as '250ms', '2s' or 1.5 (seconds), got 'soon'",
            id="bad-duration",
        ),
        pytest.param({"duration": 0}, "asyncsafe_load: duration= must be more than 0, got 0", id="zero-duration"),
        pytest.param(
            {"rate": 0, "duration": "1s"},
            "asyncsafe_load: rate= must be a number of requests a second above 0, got 0",
            id="zero-rate",
        ),
        pytest.param(
            {"requests": 10, "timeout": "0ms"},
            "asyncsafe_load: timeout= must be more than 0, got '0ms'",
            id="zero-timeout",
        ),
        pytest.param(
            {"requests": 10, "warmup": -1}, "asyncsafe_load: warmup= cannot be negative, got -1", id="negative-warmup"
        ),
        pytest.param(
            {"requests": 10, "warmup": "a while"},
            "asyncsafe_load: warmup= must be a duration such as '250ms', '2s' or 1.5 (seconds), got 'a while'",
            id="bad-warmup",
        ),
    ],
)
def test_a_shape_that_makes_no_sense_is_a_usage_error_naming_it(keywords: dict[str, Any], message: str) -> None:
    with pytest.raises(LoadUsageError) as caught:
        parse_shape(**keywords)
    assert str(caught.value) == message


def test_shape_keywords_are_split_from_request_keywords() -> None:
    shape, request = parse_shape(
        concurrency=4, requests=100, warmup=10, timeout="250ms", headers={"x-token": "t"}, json={"a": 1}
    )
    assert shape == LoadShape(concurrency=4, requests=100, warmup=10, timeout=0.25)
    assert request == {"headers": {"x-token": "t"}, "json": {"a": 1}}


@pytest.mark.parametrize(
    ("keywords", "shape"),
    [
        pytest.param({"duration": "250ms"}, LoadShape(duration=0.25), id="closed-loop-defaults-to-one-worker"),
        pytest.param({"duration": 2}, LoadShape(duration=2.0), id="seconds-as-a-number"),
        pytest.param(
            {"rate": 200, "duration": "2s"},
            LoadShape(concurrency=OPEN_LOOP_CONCURRENCY, duration=2.0, rate=200.0),
            id="open-loop-defaults-to-a-pool-of-connections",
        ),
        pytest.param({"requests": 5, "warmup": "500ms"}, LoadShape(requests=5, warmup=0.5), id="warmup-as-a-duration"),
        pytest.param({"requests": 5, "warmup": 0.5}, LoadShape(requests=5, warmup=0.5), id="warmup-in-seconds"),
        pytest.param({"requests": 5, "warmup": 50}, LoadShape(requests=5, warmup=50), id="warmup-in-requests"),
    ],
)
def test_shapes_read_as_documented(keywords: dict[str, Any], shape: LoadShape) -> None:
    assert parse_shape(**keywords)[0] == shape


def test_the_generator_loads_this_machine_only() -> None:
    with pytest.raises(LoadUsageError, match="loads http://127.0.0.1:PORT servers only, got 'http://example.com:80'"):
        LoadRunner("http://example.com:80")


def test_a_run_leaves_no_thread_so_the_fixture_tears_nothing_down(load: LoadRunner) -> None:
    # `asyncsafe_load` once ended by calling a `close` that LoadRunner never had; it now
    # hands out the runner and tears nothing down, because each run's loop and thread
    # are gone when it returns.
    fixture = next(
        node
        for node in ast.walk(ast.parse(inspect.getsource(plugin)))
        if isinstance(node, ast.FunctionDef) and node.name == "asyncsafe_load"
    )
    assert [node for node in ast.walk(fixture) if isinstance(node, (ast.Yield, ast.YieldFrom))] == []
    assert [node for node in ast.walk(fixture) if isinstance(node, ast.Constant) and node.value == "close"] == []
    load.get("/tick", requests=200, concurrency=8)
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("asyncsafe-load")] == []


def test_a_path_off_the_server_is_a_usage_error(load: LoadRunner) -> None:
    with pytest.raises(LoadUsageError, match=r"'http://127.0.0.2:9/' is not on the server under load"):
        load.get("http://127.0.0.2:9/", requests=1)


# --- closed loop -----------------------------------------------------------------------------


def test_a_closed_loop_run_sends_exactly_the_requests_asked(
    load: LoadRunner, server: Server, recorder: Recorder
) -> None:
    before = ticks(server)
    result = load.get("/tick", requests=500, concurrency=8)
    assert ticks(server) - before == 500
    assert result.count == 500
    assert result.status_counts == {200: 500}
    assert not result.errors
    assert len(result.latencies) == 500
    assert result.target == "GET /tick"
    assert result.invalid is None
    assert set(result.health) == {"cpu_share", "loop_lag_p99"}
    assert 0 < result.p50 <= result.p99 < 1.0
    assert result.elapsed > 0 and result.finished - result.started == pytest.approx(result.elapsed)
    assert recorder.results == [result]


def test_warmup_requests_are_sent_but_not_counted(load: LoadRunner, server: Server) -> None:
    before = ticks(server)
    result = load.get("/tick", requests=50, warmup=30, concurrency=4)
    assert ticks(server) - before == 80
    assert result.count == 50


def test_a_warmup_duration_is_sent_but_not_counted(load: LoadRunner, server: Server) -> None:
    before = ticks(server)
    result = load.get("/tick", requests=20, warmup="200ms", concurrency=2)
    assert result.count == 20
    assert ticks(server) - before > 20


def test_a_closed_loop_run_for_a_duration_stops_on_time(load: LoadRunner) -> None:
    result = load.get("/sleep", params={"ms": 10}, duration="300ms", concurrency=4)
    assert 0.3 <= result.elapsed < 0.6
    # 4 workers, 10 ms or more each: at most 120 requests in 300 ms, and those in flight.
    assert 10 < result.count <= 124
    assert result.target == "GET /sleep?ms=10"


def test_request_keywords_reach_the_server(load: LoadRunner) -> None:
    result = load.post(
        "/check", json={"a": 1}, headers={"x-token": "t"}, params={"q": 1}, cookies={"c": "v"}, requests=3
    )
    assert result.status_counts == {200: 3}
    assert result.target == "POST /check?q=1"
    assert load.post("/check", json={"a": 2}, requests=3).status_counts == {422: 3}


def test_latencies_include_the_servers_queue(load: LoadRunner) -> None:
    # The route blocks the server's loop for 10 ms: 4 concurrent requests wait for each other.
    result = load.get("/block", params={"ms": 10}, requests=20, concurrency=4)
    assert result.p50 >= 0.010
    assert result.max >= 0.035


def test_it_runs_from_inside_an_event_loop(load: LoadRunner) -> None:
    async def test() -> LoadResult:
        return load.get("/", requests=10)

    assert asyncio.run(test()).status_counts == {200: 10}


# --- open loop -------------------------------------------------------------------------------


def test_an_open_loop_run_keeps_its_rate(load: LoadRunner) -> None:
    result = load.get("/sleep", params={"ms": 5}, rate=400, duration="1s")
    assert result.count == 400
    assert result.status_counts == {200: 400}
    assert result.rps == pytest.approx(400, rel=0.1)
    assert result.invalid is None
    assert result.p50 >= 0.005
    assert set(result.health) == {
        "schedule_lag_p99",
        "connection_wait_p99",
        "connections_busy",
        "loop_lag_p99",
        "cpu_share",
        "dropped",
    }
    assert result.health["dropped"] == 0


def test_open_loop_latencies_count_from_the_scheduled_start(load: LoadRunner, recorder: Recorder) -> None:
    # One connection, 15 ms a request, a request every 10 ms: each leaves later than the
    # one before, and its latency includes that wait, not only the server's 15 ms.
    with pytest.raises(InvalidLoadRun, match="ran out of connections"):
        load.get("/sleep", params={"ms": 15}, rate=100, duration="500ms", concurrency=1)
    [result] = recorder.results
    assert result.invalid is not None and result.invalid.startswith("ran out of connections")
    assert result.latencies.percentile(0) >= 0.014  # the server's timers are whole milliseconds
    assert result.max > 0.1


def test_the_generators_own_lateness_is_not_counted_against_the_server(load: LoadRunner) -> None:
    stalled: list[bool] = []

    async def hello(client: httpx.AsyncClient) -> None:
        if not stalled:
            stalled.append(True)
            time.sleep(0.06)  # noqa: ASYNC251 - stops the generator's loop for 60 ms, once
        await client.get("/")

    # Two seconds, so that the host's own hiccups must be as frequent to spoil this run as
    # any other (the stall uses one of the loop's lag samples over the limit).
    result = load.scenario(hello, rate=200, duration="2s")
    assert result.invalid is None  # one stall of the generator is no verdict...
    assert result.health["schedule_lag_p99"] >= 0.02  # ... though requests left late (healthy: < 1 ms)...
    assert result.latencies.percentile(97) < 0.02  # ... and not slower for it


@pytest.mark.parametrize(
    ("stalls", "verdict"),
    [
        pytest.param(1, None, id="one-stall"),
        pytest.param(2, None, id="two-stalls"),
        pytest.param(3, "the generator's own event loop lagged: p99 60.0 ms (limit 10.0 ms)", id="three-stalls"),
    ],
)
def test_the_loop_lag_check_wants_more_than_one_percent_and_three_samples_over(
    stalls: int, verdict: str | None
) -> None:
    """A one-second run samples its loop's lag 200 times: it takes three samples over the
    limit (p99 is the 2nd-highest of 200) to call the generator the bottleneck."""
    lags = array("d", [0.0005] * (200 - stalls) + [0.06] * stalls)
    tally = Tally()
    tally.latencies.add(0.002)
    assert generator_verdict(LoadShape(concurrency=1, duration=1.0), tally, lags, {}) == verdict


def test_an_overloaded_open_loop_run_is_invalid_and_says_why(load: LoadRunner, recorder: Recorder) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidLoadRun) as caught:
        load.get("/", rate=100_000, duration="1s", concurrency=2)
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert re.fullmatch(
        r"GET /: ran out of connections: \d+ of 100000 scheduled requests were never sent; with concurrency=2, none "
        r"was idle \d+% of the run, and \d+% of requests waited for one \(p99 \d+\.\d ms, limit 5\.0 ms\): the "
        r"server answered too slowly for rate=100000/s over concurrency=2; raise concurrency= if it can take more "
        r"at once, or lower rate=",
        message,
    )
    [result] = recorder.results
    assert f"GET /: {result.invalid}" == message
    assert 0 < result.count < 100_000
    assert result.health["dropped"] == 100_000 - result.count


# --- failures ---------------------------------------------------------------------------------


def test_a_stopped_server_gives_connect_errors_not_a_hang(
    load: LoadRunner, stopped_server: Server, recorder: Recorder
) -> None:
    load = load.on(stopped_server)
    started = time.monotonic()
    result = load.get("/", requests=50, concurrency=4)
    assert result.errors == {"connect": 50} and result.count == 50
    assert result.error_rate == 1.0
    assert len(result.latencies) == 0
    result = load.get("/", rate=200, duration="300ms")
    assert result.errors == {"connect": 60}
    assert time.monotonic() - started < 5
    assert len(recorder.results) == 2  # `on()` keeps the runner's `on_result`


def test_a_request_over_its_timeout_is_a_timeout_error(load: LoadRunner) -> None:
    started = time.monotonic()
    result = load.get("/sleep", params={"ms": 3000}, requests=4, concurrency=2, timeout="200ms")
    assert time.monotonic() - started < 2
    assert result.errors == {"timeout": 4}
    # The connections are closed and opened again after a timeout.
    assert load.get("/", requests=4, concurrency=2).status_counts == {200: 4}


def test_connections_are_opened_before_the_clock_starts(load: LoadRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    connect = LeanTransport._connect

    async def slow_connect(transport: LeanTransport, timeout: float | None) -> Any:
        await asyncio.sleep(0.3)  # as long as opening 400 connections takes the generator's loop
        return await connect(transport, timeout)

    monkeypatch.setattr(LeanTransport, "_connect", slow_connect)
    result = load.get("/", concurrency=4, requests=8)
    assert result.status_counts == {200: 8}
    assert result.max < 0.3 and result.elapsed < 0.3


def test_requests_unanswered_when_a_duration_run_ends_are_unfinished_and_fail_a_max_they_exceed(
    load: LoadRunner,
) -> None:
    # Of the 4 connections' first requests, 3 are held 3 s; the 4th connection goes on,
    # 20 ms a request.  The run's time is up at 0.5 s; its answered p99 is ~20 ms, so
    # the held ones get ANSWER_GRACE (1 s) more, and then are cut off at ~1.5 s.
    query = {"key": "duration", "first": 3, "hold_ms": 3000, "ms": 20}
    started = time.monotonic()
    result = load.get("/hold", params=query, concurrency=4, duration="500ms")
    took = time.monotonic() - started
    assert 1.5 <= took < 2.5

    assert len(result.unfinished) == 3
    assert all(1.45 < wait < 2.0 for wait in result.unfinished), result.unfinished
    assert result.unfinished == sorted(result.unfinished, reverse=True)
    answered = result.status_counts[200]
    assert result.status_counts == {200: answered} and result.errors == {}
    assert 10 <= answered <= 26  # 0.5 s of 20 ms requests, and the 4th connection's first
    assert result.count == answered + 3
    assert result.error_rate == 3 / result.count
    # Their waits are latencies: the three slowest, so the max, and the p99 of fewer than 100.
    assert len(result.latencies) == result.count
    assert result.max == result.p99 == result.unfinished[0]
    assert sorted(result.latencies)[answered - 1] < 0.5  # the slowest answered

    with pytest.raises(BudgetMiss) as raised:
        result.assert_budget(max="1s", error_rate=0.5)
    lines = str(raised.value).splitlines()
    assert lines[0] == (
        "latency budget missed (max): GET /hold?key=duration&first=3&hold_ms=3000&ms=20, 4 concurrent, 0.5s "
        f"({result.count} counted, {result.elapsed:.2f}s)"
    )
    assert lines[3].startswith("  max        | <= 1000.0 ms |") and lines[3].endswith(" ms | FAIL")
    assert lines[4].endswith("| pass")
    assert lines[5:] == [
        (
            f"  {describe_unfinished(result.unfinished)}: requests still unanswered when the run ended, each counted "
            "as an error and at its wait as its latency (a lower bound); max fails because of them"
        )
    ]
    assert repr(result).endswith(f", errors {{}}, {describe_unfinished(result.unfinished)}>")


def test_an_open_loop_is_cut_off_the_same_way_and_a_requests_run_waits_for_its_answers(load: LoadRunner) -> None:
    # 10 requests due 50 ms apart; the first 2 are held 3 s.  The schedule ends at 0.5 s,
    # and the held ones are cut off 1 s later, having waited from when they were due.
    query = {"key": "open", "first": 2, "hold_ms": 3000, "ms": 0}
    result = load.get("/hold", params=query, rate=20, duration="500ms", concurrency=4)
    assert result.status_counts == {200: 8} and result.errors == {}
    assert len(result.unfinished) == 2 and result.count == 10
    first, second = result.unfinished
    assert 1.45 < first < 2.0 and 0.04 < first - second < 0.06, result.unfinished

    # A requests= run has no time to be up: it waits for each answer, within its timeout.
    query = {"key": "requests", "first": 2, "hold_ms": 1200, "ms": 0}
    result = load.get("/hold", params=query, requests=6, concurrency=2)
    assert result.status_counts == {200: 6} and result.unfinished == []
    assert 1.2 <= result.max < 1.7


def test_a_slow_routes_last_requests_get_twice_the_runs_p99_to_finish(load: LoadRunner) -> None:
    # 1.5 s a request, one at a time: the second leaves at 1.5 s and is answered at 3 s,
    # 1.4 s after the run's time is up: past ANSWER_GRACE, within twice the run's p99.
    result = load.get("/sleep", params={"ms": 1500}, concurrency=1, duration="1.6s")
    assert result.status_counts == {200: 2} and result.unfinished == []
    assert 1.5 <= result.max < 1.9


def test_the_grace_is_twice_the_p99_at_least_a_second_and_at_most_two_timeouts() -> None:
    tally = Tally()
    assert grace_for(tally, timeout=10.0) == ANSWER_GRACE == 1.0  # nothing answered yet
    for ms in range(1, 101):
        tally.latencies.add(ms / 100)  # 0.01 .. 1 s: p99 0.99 s
    assert grace_for(tally, timeout=10.0) == 1.98
    assert grace_for(tally, timeout=0.25) == 0.5
    fast = Tally()
    fast.latencies.add(0.2)
    assert grace_for(fast, timeout=10.0) == 1.0


@contextmanager
def raw_server(reply: bytes) -> Iterator[str]:
    """A server on 127.0.0.1 that answers each request with `reply` and closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # to see `done` (closing the socket does not wake accept())
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(65536)
                connection.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join(timeout=5)
        listener.close()


@pytest.mark.parametrize(
    ("reply", "errors"),
    [
        pytest.param(b"SMTP ready\r\n\r\n", {"protocol": 3}, id="not-http"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", {"protocol": 3}, id="cut-short"),
        pytest.param(b"", {"protocol": 3}, id="closed-without-a-reply"),
    ],
)
def test_a_server_that_breaks_http_gives_protocol_errors(reply: bytes, errors: dict[str, int]) -> None:
    with raw_server(reply) as url:
        result = LoadRunner(url).get("/", requests=3)
    assert result.errors == errors


def test_a_body_that_ends_with_the_connection_is_a_response() -> None:
    with raw_server(b"HTTP/1.1 200 OK\r\n\r\nuntil close") as url:
        result = LoadRunner(url).get("/", requests=3)
    assert result.status_counts == {200: 3}


# --- scenarios --------------------------------------------------------------------------------


def test_a_scenario_times_each_request_it_sends(load: LoadRunner) -> None:
    async def login_then_me(client: httpx.AsyncClient) -> None:
        await client.post("/login")
        response = await client.get("/me")
        assert response.text == "s1"

    result = load.scenario(login_then_me, requests=50, concurrency=4)
    assert result.count == 100
    assert result.status_counts == {200: 100}
    assert len(result.latencies) == 100
    assert result.target == "scenario test_a_scenario_times_each_request_it_sends.<locals>.login_then_me"


def test_a_scenarios_cookies_last_one_iteration(load: LoadRunner) -> None:
    async def me_then_login(client: httpx.AsyncClient) -> None:
        await client.get("/me")
        await client.post("/login")

    result = load.scenario(me_then_login, requests=10, concurrency=2)
    assert result.status_counts == {401: 10, 200: 10}


def test_a_status_error_in_a_scenario_is_counted_not_raised(load: LoadRunner) -> None:
    async def anonymous(client: httpx.AsyncClient) -> None:
        (await client.get("/me")).raise_for_status()

    assert load.scenario(anonymous, requests=5).status_counts == {401: 5}


def test_an_open_loop_scenario(load: LoadRunner) -> None:
    async def hello(client: httpx.AsyncClient) -> None:
        await client.get("/")

    result = load.scenario(hello, rate=200, duration="500ms")
    assert result.count == 100
    assert result.invalid is None


def test_a_scenario_that_raises_ends_the_run_with_its_error(load: LoadRunner, recorder: Recorder) -> None:
    async def broken(client: httpx.AsyncClient) -> None:
        await client.get("/")
        raise KeyError("no such thing")

    with pytest.raises(KeyError, match="no such thing"):
        load.scenario(broken, requests=10, concurrency=2)
    assert recorder.results == []


def test_a_scenario_that_sends_elsewhere_is_a_usage_error(load: LoadRunner) -> None:
    async def elsewhere(client: httpx.AsyncClient) -> None:
        await client.get("http://127.0.0.2:9/")

    with pytest.raises(LoadUsageError, match=r"asyncsafe_load: LeanTransport for http://127.0.0.1:\d+ cannot send to"):
        load.scenario(elsewhere, requests=1)


def test_a_scenario_takes_shape_keywords_only(load: LoadRunner) -> None:
    async def hello(client: httpx.AsyncClient) -> None:
        await client.get("/")

    with pytest.raises(LoadUsageError, match="scenario\\(\\) takes shape keywords only; pass headers= to the requests"):
        load.scenario(hello, requests=1, headers={"x": "y"})


def test_a_generator_whose_own_loop_lags_is_invalid(load: LoadRunner) -> None:
    async def hog(client: httpx.AsyncClient) -> None:
        await client.get("/")
        time.sleep(0.02)  # noqa: ASYNC251 - blocks the generator's loop (not the server's), on purpose

    with pytest.raises(
        InvalidLoadRun, match=r"the generator's own event loop lagged: p99 \d+\.\d ms \(limit 10\.0 ms\)"
    ):
        load.scenario(hog, requests=15)


# --- the transport ----------------------------------------------------------------------------


async def send_once(base_url: str, method: str, path: str, **keywords: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, transport=LeanTransport(base_url), timeout=5) as client:
        return await client.request(method, path, **keywords)


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        pytest.param("GET", "/chunked", 200, b"one,two,three", id="chunked"),
        pytest.param("HEAD", "/echo", 200, b"", id="head"),
        pytest.param("GET", "/status?code=204", 204, b"", id="no-content"),
        pytest.param("GET", "/status?code=304", 304, b"", id="not-modified"),
        pytest.param("GET", "/close", 200, b"bye", id="connection-close"),
    ],
)
def test_the_transport_reads_each_framing(server: Server, method: str, path: str, status: int, body: bytes) -> None:
    async def twice() -> list[httpx.Response]:
        transport = LeanTransport(server.base_url)
        async with httpx.AsyncClient(base_url=server.base_url, transport=transport, timeout=5) as client:
            # The second goes over the same connection, or a new one after a close.
            return [await client.request(method, path) for _ in range(2)]

    for response in asyncio.run(twice()):
        assert (response.status_code, response.content) == (status, body)


def test_the_transport_sends_a_streamed_body_whole(server: Server) -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    response = asyncio.run(send_once(server.base_url, "POST", "/echo", content=parts()))
    assert response.content == b"abcd"


def test_the_transport_raises_httpx_errors(server: Server, stopped_server: Server) -> None:
    with pytest.raises(httpx.ReadTimeout):
        asyncio.run(send_once(server.base_url, "GET", "/sleep?ms=1000", timeout=0.1))
    with pytest.raises(httpx.UnsupportedProtocol, match="cannot send to https://127.0.0.1:1/"):
        asyncio.run(send_once(server.base_url, "GET", "https://127.0.0.1:1/"))
    with pytest.raises(httpx.ConnectError, match=f"cannot connect to {stopped_server.base_url}"):
        asyncio.run(send_once(stopped_server.base_url, "GET", "/"))


def test_the_transport_sends_one_request_at_a_time(server: Server) -> None:
    async def both() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, transport=LeanTransport(server.base_url)) as client:
            await asyncio.gather(client.get("/sleep?ms=50"), client.get("/"))

    with pytest.raises(RuntimeError, match="one request at a time"):
        asyncio.run(both())


def test_runs_sent_side_by_side_from_several_processes_combine_into_one() -> None:
    def part(latencies: list[float], statuses: dict[int, int], **fields: Any) -> LoadResult:
        return LoadResult(
            "GET /x", LoadShape(concurrency=32, duration=0.8, rate=100.0), Latencies(latencies), Counter(statuses),
            **fields,
        )  # fmt: skip

    mine = part(
        [0.001, 0.002, 0.003, 0.004],
        {200: 4},
        elapsed=0.8,
        started=10.0,
        finished=10.8,
        health={"cpu_share": 0.5},
        starts=array("d", [0.0, 0.1, 0.2, 0.3]),
    )
    theirs = part(
        [0.010, 0.020], {200: 1}, errors=Counter(timeout=1), elapsed=0.81, started=10.01, finished=10.82,
        health={"cpu_share": 0.9, "loop_lag_p99": 0.02}, invalid="the generator fell behind", unfinished=[0.3],
        starts=array("d", [0.0, 0.5]),
    )  # fmt: skip

    whole = combined([mine, theirs])

    assert whole.shape == LoadShape(concurrency=64, duration=0.8, rate=200.0)
    # In the order each part answered them, the parts side by side.
    assert list(whole.latencies) == [0.001, 0.010, 0.002, 0.003, 0.020, 0.004]
    # Each latency's start stays with it, from the earliest part's start.
    assert list(whole.starts) == pytest.approx([0.0, 0.01, 0.1, 0.2, 0.51, 0.3])
    assert (whole.status_counts, whole.errors, whole.unfinished) == (Counter({200: 5}), Counter(timeout=1), [0.3])
    assert (whole.count, whole.elapsed, whole.started, whole.finished) == (7, 0.81, 10.0, 10.82)
    assert whole.health == {"cpu_share": 0.9, "loop_lag_p99": 0.02}
    assert whole.invalid == "the generator fell behind (generator process 2 of 2)"
