"""pytest-asyncsafe's hooks, options, fixtures and markers; the work lives in the
modules named for what they do."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_asyncsafe.durations import parse_duration
from pytest_asyncsafe.session import AsyncsafeSession
from pytest_asyncsafe.settings import add_options, from_config

if TYPE_CHECKING:
    import httpx

    from pytest_asyncsafe.server import Server

SESSION = pytest.StashKey[AsyncsafeSession]()
STARTED = pytest.StashKey[float]()
#: The test's own threshold, from its `asyncsafe_block_threshold` marker.
THRESHOLD = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "asyncsafe_allow_blocking: the test may block the event loop; its stalls are reported, not failed"
    )
    config.addinivalue_line(
        "markers", "asyncsafe_block_threshold(duration): this test's stall threshold, e.g. \"500ms\""
    )
    config.addinivalue_line("markers", "asyncsafe_lint: the asyncsafe-lint item of a --asyncsafe run")
    config.stash[SESSION] = AsyncsafeSession(from_config(config))


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is None:
        return
    session.close()
    if session.settings.enabled and session.settings.json_path is not None:
        from pytest_asyncsafe.report import write_json

        write_json(session, session.settings.json_path)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = config.stash[SESSION].settings
    if not (settings.enabled and settings.lint and settings.server.app):
        return
    from pytest_asyncsafe.lint import ITEM_NAME, LintItem, app_package

    package = app_package(settings.server.app, settings.server.rootdir)
    if package is not None:
        # Its own node id: under the session it would read `::asyncsafe::lint`.
        items.append(
            LintItem.from_parent(
                session, name=ITEM_NAME, nodeid=ITEM_NAME, package=package, rootdir=settings.server.rootdir
            )
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[STARTED] = time.monotonic()
    marker = item.get_closest_marker("asyncsafe_block_threshold")
    if marker is None:
        return
    try:
        item.stash[THRESHOLD] = parse_duration(marker.args[0] if marker.args else "", "asyncsafe_block_threshold")
    except ValueError as error:
        # A bad marker errors its own test at setup (not the whole run from a report hook).
        raise _failure(str(error)) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield  # type: ignore[misc]
    session = item.config.stash[SESSION]
    if session.settings.enabled and session.servers and call.when in ("call", "teardown"):
        _judge(item, report, session)
    return report  # type: ignore[return-value]


def _failure(message: str) -> BaseException:
    """`pytest.fail(message, pytrace=False)`, to be raised `from None`: a failure raised
    while handling the error it describes would show that error's message twice."""
    return pytest.fail.Exception(message, pytrace=False)


def _judge(item: pytest.Item, report: pytest.TestReport, session: AsyncsafeSession) -> None:
    threshold = item.stash.get(THRESHOLD, session.settings.server.block_threshold)
    allowed = item.get_closest_marker("asyncsafe_allow_blocking") is not None
    start = item.stash.get(STARTED, 0.0)
    charged = session.stalls_during(item.nodeid, start, threshold, allowed)
    problems = session.deaths()
    if charged and not allowed:
        problems.insert(0, session.explain(charged))
    if not problems:
        return
    text = "\n\n".join(problems)
    if report.passed:
        report.outcome = "failed"
        report.longrepr = text
    else:
        report.sections.append(("asyncsafe", text))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    session = config.stash[SESSION]
    if session.settings.enabled:
        from pytest_asyncsafe.report import terminal_summary

        terminal_summary(session, terminalreporter)


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
    `asyncsafe_server_factory(workers=4, loop="uvloop")`; stopped at the test's end."""
    from pytest_asyncsafe.server import ServerError

    session = pytestconfig.stash[SESSION]
    started: list[Server] = []

    def start(**changes: object) -> Server:
        try:
            settings = session.settings.server.replace(**changes)
        except (TypeError, ValueError) as error:
            raise pytest.UsageError(f"asyncsafe_server_factory: {error}") from None
        try:
            server = session.start(settings)
        except ServerError as error:
            raise _failure(str(error)) from None
        started.append(server)
        return server

    yield start
    for server in started:
        session.stop(server)
