"""pytest-asyncsafe's hooks, options, fixtures and markers; the work lives in the
modules named for what they do."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from asyncsafe_lint.untrusted import printable
from asyncsafe_lint.version import __version__
from pytest_asyncsafe.budget import Budget, BudgetError, BudgetMiss
from pytest_asyncsafe.durations import parse_duration
from pytest_asyncsafe.report import budget_miss, load_summary, terminal_summary, write_html, write_json
from pytest_asyncsafe.session import SESSION, AsyncsafeSession
from pytest_asyncsafe.settings import add_options, from_config
from pytest_asyncsafe.verdicts import Verdict

if TYPE_CHECKING:
    import httpx

    from pytest_asyncsafe.drain import DrainReport
    from pytest_asyncsafe.load import LoadResult, LoadRunner
    from pytest_asyncsafe.server import Server
    from pytest_asyncsafe.tune.sweep import TuneReport
    from pytest_asyncsafe.upstream import Upstream

STARTED = pytest.StashKey[float]()
#: The most traffic `asyncsafe_drain(rate=)` sends: each request is a thread's connection.
MAX_DRAIN_RATE = 1000
#: ... and the longest its load balancer's delay and its preStop sleep may be.
MAX_DEPLOY_SECONDS = 60
#: The test's own threshold, from its `asyncsafe_block_threshold` marker.
THRESHOLD = pytest.StashKey[float]()
#: The test's latency budget, from its `latency_budget` markers.
BUDGET = pytest.StashKey[Budget]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


#: The markers the plugin registers, as pytest's `markers` ini lines.
MARKERS = (
    "asyncsafe_allow_blocking: the test may block the event loop; its stalls are reported, not failed",
    'asyncsafe_block_threshold(duration): this test\'s stall threshold, e.g. "500ms"',
    "asyncsafe_lint: the asyncsafe-lint item of a --asyncsafe run",
    "latency_budget(p50=, p90=, p95=, p99=, max=, threadpool_wait=, error_rate=, min_rps=): with --asyncsafe, each "
    'asyncsafe_load run of the test must meet it, e.g. latency_budget(p95="200ms", error_rate=0.01)',
)


def pytest_report_header() -> str:
    return f"asyncsafe: {__version__}"


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    session = AsyncsafeSession(from_config(config))
    if session.settings.compare is not None:
        from pytest_asyncsafe.storage import StorageError, load

        try:
            session.baseline = load(config.rootpath, session.settings.compare or None)
        except StorageError as error:
            raise pytest.UsageError(f"asyncsafe: {error}") from None
    if session.settings.enabled and session.settings.html_path is not None:
        from pytest_asyncsafe.htmlreport import MissingExtra, require

        try:
            require()
        except MissingExtra as error:
            raise pytest.UsageError(f"asyncsafe: --asyncsafe-html: {error}") from None
    config.stash[SESSION] = session


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is None:
        return
    session.close()
    if session.settings.enabled and session.settings.json_path is not None:
        write_json(session, session.settings.json_path)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = config.stash[SESSION].settings
    if not (settings.enabled and settings.server.app):
        return
    # Their own node ids: under the session they would read `::asyncsafe::lint`.
    if settings.lint:
        from pytest_asyncsafe.lint import LINT_ITEM, LintItem, app_package

        package = app_package(settings.server.app, settings.server.rootdir)
        if package is not None:
            items.append(
                LintItem.from_parent(
                    session, name=LINT_ITEM, nodeid=LINT_ITEM, package=package, rootdir=settings.server.rootdir
                )
            )
    if settings.lb_idle_timeout is not None:
        from pytest_asyncsafe.keepalive import KEEPALIVE_ITEM, KeepAliveItem

        items.append(
            KeepAliveItem.from_parent(
                session, name=KEEPALIVE_ITEM, nodeid=KEEPALIVE_ITEM, balancer=settings.lb_idle_timeout
            )
        )
    if settings.shutdown:
        from pytest_asyncsafe.shutdown import SHUTDOWN_ITEM, ShutdownItem

        # Last: it stops the server the other tests use (one that runs earlier anyway,
        # reordered by `--ff` say, leaves the next test a new server).
        items.append(
            ShutdownItem.from_parent(
                session,
                name=SHUTDOWN_ITEM,
                nodeid=SHUTDOWN_ITEM,
                drain_path=settings.drain_path,
                in_flight=settings.drain_in_flight,
            )
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[STARTED] = time.monotonic()
    # A bad marker errors its own test at setup (not the whole run from a report hook).
    budget = _budget(item)
    if budget is not None:
        item.stash[BUDGET] = budget
    marker = item.get_closest_marker("asyncsafe_block_threshold")
    if marker is None:
        return
    try:
        item.stash[THRESHOLD] = parse_duration(marker.args[0] if marker.args else "", "asyncsafe_block_threshold")
    except ValueError as error:
        raise _failure(str(error)) from None


def _budget(item: pytest.Item) -> Budget | None:
    try:
        return Budget.of_markers(list(item.iter_markers("latency_budget")))
    except BudgetError as error:
        raise _failure(str(error)) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    session = item.config.stash[SESSION]
    if call.when == "call" and call.excinfo is not None and _invalid_run(call.excinfo):
        cause = str(call.excinfo.value) or "the load generator could not keep up"
        # Neither a pass nor a failure of the app: reported as INVALID (still failed, so
        # the session exits non-zero), with the cause, not the generator's traceback.
        report.asyncsafe_invalid = cause  # type: ignore[attr-defined]
        report.longrepr = (
            f"asyncsafe: invalid load run: {printable(cause)}\n"
            "(the generator could not apply the load asked for: its numbers do not describe the server)"
        )
        session.invalid.append((item.nodeid, cause))
    if session.settings.enabled and session.servers and call.when in ("call", "teardown"):
        _judge(item, report, session)
    if call.when == "call" or report.failed:
        session.outcomes[item.nodeid] = report.outcome
    return report


def _invalid_run(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    # Only a run that imported the generator can have raised its error.
    load = sys.modules.get("pytest_asyncsafe.load")
    return load is not None and excinfo.errisinstance(load.InvalidLoadRun)


def pytest_report_teststatus(report: pytest.TestReport) -> tuple[str, str, tuple[str, dict[str, bool]]] | None:
    if report.when == "call" and getattr(report, "asyncsafe_invalid", None) is not None:
        return "invalid", "I", ("INVALID", {"yellow": True})
    return None


def _failure(message: str) -> BaseException:
    """`pytest.fail(message, pytrace=False)`, to be raised `from None`: a failure raised
    while handling the error it describes would show that error's message twice."""
    return pytest.fail.Exception(message, pytrace=False)


def _judge(item: pytest.Item, report: pytest.TestReport, session: AsyncsafeSession) -> None:
    threshold = item.stash.get(THRESHOLD, session.settings.server.block_threshold)
    allowed = item.get_closest_marker("asyncsafe_allow_blocking") is not None
    text = session.judge(item.nodeid, item.stash.get(STARTED, 0.0), threshold, allowed)
    if text is None:
        return
    invalid = getattr(report, "asyncsafe_invalid", None)
    if report.passed or invalid is not None:
        # A stall (or a dead worker) is the app's failure whatever the generator managed:
        # it outranks an invalid run, whose cause stays in the invalid runs' summary.
        report.outcome = "failed"
        report.longrepr = text if invalid is None else f"{text}\n\n{report.longrepr}"
        report.asyncsafe_invalid = None  # type: ignore[attr-defined]
    else:
        report.sections.append(("asyncsafe", text))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Compare the load runs to the baseline, and save them; a regression past a
    `--asyncsafe-compare-fail` limit fails the session (the lines are in the summary)."""
    state = session.config.stash.get(SESSION, None)
    if state is None:
        return
    settings = state.settings
    if state.baseline is not None:
        from pytest_asyncsafe.storage import compare, regressions

        state.comparisons = compare(state.baseline, state.loads)
        state.regressions = regressions(state.comparisons, settings.compare_fail)
        if state.regressions and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if settings.save is not None and state.loads:
        from pytest_asyncsafe.storage import save

        state.saved_to = save(session.config.rootpath, settings.save, state.loads)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    session = config.stash[SESSION]
    if session.settings.enabled:
        terminal_summary(session, terminalreporter)
    load_summary(session, terminalreporter)
    # Like --asyncsafe-json, written by --asyncsafe runs only.
    if session.settings.enabled and session.settings.html_path is not None:
        write_html(session, session.settings.html_path)
        terminalreporter.write_line(f"report: {session.settings.html_path}")


# --- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def asyncsafe_server(pytestconfig: pytest.Config) -> Server:
    """The session's Uvicorn server (started on first use): `.base_url`, `.pid`,
    `.worker_pids`, `.stalls`, `.logs`."""
    from pytest_asyncsafe.server import ServerError

    try:
        return pytestconfig.stash[SESSION].session_server()
    except ServerError as error:
        raise _failure(str(error)) from None


@pytest.fixture
def asyncsafe_load(request: pytest.FixtureRequest, asyncsafe_server: Server) -> LoadRunner:
    """Load the session server: `asyncsafe_load.get("/items", concurrency=20, requests=2000)`
    returns a `LoadResult` (p50..p99, rps, error_rate...); `.on(server)` loads another one.
    Every run is in the summary table; under --asyncsafe, a run that misses the test's
    `latency_budget` fails it, with the loop stalls of the run.  (Nothing to tear down:
    each run opens and closes its own loop, thread and connections.)"""
    from pytest_asyncsafe.load import LoadRunner

    recorder = _recorder(request.node, request.config.stash[SESSION])
    return LoadRunner(asyncsafe_server.base_url, on_result=recorder, readings=asyncsafe_server.worker_readings)


def _recorder(item: pytest.Item, session: AsyncsafeSession) -> Callable[[LoadResult], None]:
    """What `asyncsafe_load` calls with each result: keep the run, and under --asyncsafe
    hold it to the test's budget."""
    budget = item.stash.get(BUDGET, None)

    def on_result(result: LoadResult) -> None:
        __tracebackhide__ = True
        run = session.record_load(item.nodeid, result, budget, enforce=session.settings.enabled)
        if run.verdict is Verdict.FAIL:
            raise BudgetMiss(budget_miss(run, session))

    return on_result


@pytest.fixture
def asyncsafe_client(asyncsafe_server: Server) -> Iterator[httpx.Client]:
    """An `httpx.Client` on the session server's base URL."""
    import httpx

    with httpx.Client(base_url=asyncsafe_server.base_url, timeout=30.0) as client:
        yield client


@pytest.fixture
async def asyncsafe_async_client(asyncsafe_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """An `httpx.AsyncClient` on the session server's base URL (needs an async test
    runner: anyio's `@pytest.mark.anyio`, or pytest-asyncio)."""
    import httpx

    async with httpx.AsyncClient(base_url=asyncsafe_server.base_url, timeout=30.0) as client:
        yield client


@pytest.fixture
def asyncsafe_server_factory(pytestconfig: pytest.Config) -> Iterator[Callable[..., Server]]:
    """Start a differently configured server inside one test, e.g.
    `asyncsafe_server_factory(workers=4, loop="uvloop")` or
    `asyncsafe_server_factory(server="gunicorn", server_args="--timeout 30")` (the ini
    keys' names, without `asyncsafe_`); stopped at the test's end."""
    session = pytestconfig.stash[SESSION]
    started: list[Server] = []

    def start(**changes: object) -> Server:
        server = _start(session, changes, "asyncsafe_server_factory")
        started.append(server)
        return server

    yield start
    for server in started:
        session.stop(server)


@pytest.fixture
def asyncsafe_upstream(pytestconfig: pytest.Config) -> Iterator[Upstream]:
    """An upstream the app calls, on 127.0.0.1, that the test makes slow or broken:
    `asyncsafe_upstream.blackhole()`, `.delay("5s")`, `.refuse()`, `.reset()`,
    `.status(503)`, `.respond(body=..., status=...)`; `.requests` is what it received.
    `asyncsafe_upstream("payments")` is the one named `payments`.  Point the app at it
    with `asyncsafe_env = PAYMENTS_URL={asyncsafe_upstream}` (or
    `{asyncsafe_upstream:payments}`); it answers `200 {}` again after each test."""
    upstreams = pytestconfig.stash[SESSION].upstreams
    yield upstreams.get()
    upstreams.restore()


@pytest.fixture
def asyncsafe_tune(request: pytest.FixtureRequest) -> Callable[..., TuneReport]:
    """Measure the session's app for each worker count and size it, as `asyncsafe-tune`
    does: `asyncsafe_tune(path="/items", workers=[1, 2], p99="150ms")` returns a
    `TuneReport` (`.point(2).capacity_rps`, `.recommendation.workers`).  Keywords: `path`
    (a path or a list of them) or `scenario` (`"module:async_function"`, as `asyncsafe_load.scenario`
    takes the function), `method`, `workers`, `p99` or `p95`, `error_rate`,
    `cpus`, `memory` (bytes or `1GiB`), `max_seconds`; the server's settings (`app`,
    `server`, `loop`...) as `asyncsafe_server_factory` takes them."""
    from pytest_asyncsafe.tune.capacity import Goal
    from pytest_asyncsafe.tune.cli import parse_size
    from pytest_asyncsafe.tune.generators import Workload
    from pytest_asyncsafe.tune.limits import detect
    from pytest_asyncsafe.tune.sweep import Sweep, TuneError, default_workers, run

    session = request.config.stash[SESSION]
    test = request.node.nodeid

    def tune(
        path: str | list[str] = "/",
        *,
        scenario: str | None = None,
        method: str = "GET",
        workers: list[int] | None = None,
        p99: str | float | None = None,
        p95: str | float | None = None,
        error_rate: float = 0.0,
        cpus: float | None = None,
        memory: int | str | None = None,
        max_seconds: float = 600.0,
        **server: object,
    ) -> TuneReport:
        __tracebackhide__ = True
        try:
            settings = session.resolve(session.settings.server.replace(**server))
            what = "asyncsafe_tune(p95=)" if p95 is not None else "asyncsafe_tune(p99=)"
            budget = Goal(parse_duration(p95 or p99 or "100ms", what), 95 if p95 else 99, error_rate)
            paths = [path] if isinstance(path, str) else list(path)
            sweep = Sweep(
                settings,
                workers or default_workers(cpus if cpus is not None else detect().cpus),
                budget,
                Workload(() if scenario else tuple((method, each) for each in paths), scenario),
                cpus=cpus,
                memory_bytes=parse_size(memory) if isinstance(memory, str) else memory,
                cpus_named="cpus=",
                memory_named="memory=",
                max_seconds=max_seconds,
            )
            report = run(sweep, lambda line: None)
            session.sweeps.append((test, report))
            return report
        except (TypeError, ValueError) as error:
            raise pytest.UsageError(f"asyncsafe_tune: {error}") from None
        except TuneError as error:
            raise _failure(f"asyncsafe_tune: {error}") from None

    return tune


@pytest.fixture
def asyncsafe_drain(request: pytest.FixtureRequest) -> Callable[..., DrainReport]:
    """Check a SIGTERM drain on a server of its own:
    `asyncsafe_drain("/slow", in_flight=10, workers=2, graceful_timeout="5s").assert_clean()`.
    A rolling deploy: `rate=100` (requests a second to `path` through the shutdown),
    `deregister_delay="2s"` (how long after termination begins they keep coming),
    `prestop="3s"` (the wait before SIGTERM).  Keywords `app`, `server`, `server_args`,
    `workers`, `graceful_timeout` configure that server; others (`params=`, `json=`,
    `headers=`...) go to every request."""
    session = request.config.stash[SESSION]
    test = request.node.nodeid

    def run(
        path: str = "/slow",
        *,
        in_flight: int = 10,
        method: str = "GET",
        workers: int | None = None,
        graceful_timeout: str | float | None = None,
        app: str | None = None,
        server: str | None = None,
        server_args: str | None = None,
        rate: float | None = None,
        deregister_delay: str | float = 0.0,
        prestop: str | float = 0.0,
        **request_kw: Any,
    ) -> DrainReport:
        __tracebackhide__ = True
        try:
            deploy = {
                "deregister_delay": parse_duration(deregister_delay, "asyncsafe_drain(deregister_delay=)"),
                "prestop": parse_duration(prestop, "asyncsafe_drain(prestop=)"),
            }
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None
        if any(seconds > MAX_DEPLOY_SECONDS for seconds in deploy.values()):
            raise pytest.UsageError(
                f"asyncsafe_drain: deregister_delay= and prestop= are at most {MAX_DEPLOY_SECONDS} s"
            )
        if rate is not None and not 0 < rate <= MAX_DRAIN_RATE:
            raise pytest.UsageError(
                f"asyncsafe_drain(rate=): requests a second, from 0 to {MAX_DRAIN_RATE}, got {rate!r}"
            )
        changes: dict[str, object] = {
            "task_origins": True,
            "workers": workers,
            "app": app,
            "server": server,
            "server_args": server_args,
        }
        if graceful_timeout is not None:
            try:
                changes["graceful_timeout"] = parse_duration(graceful_timeout, "asyncsafe_drain(graceful_timeout=)")
            except ValueError as error:
                raise pytest.UsageError(str(error)) from None
        drained = _start(session, {k: v for k, v in changes.items() if v is not None}, "asyncsafe_drain")
        try:
            return session.drain(test, drained, path, in_flight, method=method, rate=rate, **deploy, **request_kw)
        finally:
            session.stop(drained)

    return run


def _start(session: AsyncsafeSession, changes: dict[str, object], fixture: str) -> Server:
    """A server with the session's settings but `changes`; a bad change is a usage error
    and a failed start fails the test, each naming `fixture`."""
    from pytest_asyncsafe.server import ServerError

    try:
        settings = session.settings.server.replace(**changes)
    except (TypeError, ValueError) as error:
        raise pytest.UsageError(f"{fixture}: {error}") from None
    try:
        return session.start(settings)
    except ServerError as error:
        raise _failure(str(error)) from None
