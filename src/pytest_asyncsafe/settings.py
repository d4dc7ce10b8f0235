"""Options and ini keys, parsed once into frozen settings; a bad value is a usage error
that names the option."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_asyncsafe.durations import parse_duration
from pytest_asyncsafe.storage import Limit, check_name

SERVERS = ("uvicorn", "gunicorn")
LOOPS = ("auto", "asyncio", "uvloop")
HTTPS = ("auto", "h11", "httptools")
#: What reports print for the value of an `asyncsafe_env` variable.
HIDDEN = "<hidden>"


@dataclass(frozen=True)
class ServerSettings:
    """Everything one server is started with."""

    app: str | None
    #: `asyncsafe_server`: Uvicorn alone, or Gunicorn's arbiter with Uvicorn's worker.
    server: str = "uvicorn"
    #: `asyncsafe_factory`: `app` names a function that builds the app, called once in
    #: every worker process, as `uvicorn --factory` does.
    factory: bool = False
    workers: int = 1
    loop: str = "auto"
    http: str = "auto"
    #: `asyncsafe_env`: the values may be secrets, so no repr shows them (a settings
    #: object can end up in a message, or in the locals `pytest -l` prints).
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    #: `asyncsafe_server_args`: the server's own command-line options, validated by its parser.
    server_args: str = ""
    block_threshold: float = 0.1
    startup_timeout: float = 30.0
    graceful_timeout: float = 10.0
    #: The directory the server runs in, and the first entry of its import path.
    rootdir: Path = field(default_factory=Path.cwd)
    #: Record where every coroutine is created, also after startup (a drain check's
    #: server, which reports leaked tasks with their origin).
    task_origins: bool = False
    #: The CPUs the server's processes may run on (none: every CPU this process may use):
    #: `asyncsafe-tune --cpus N` measures what a container limited to N CPUs gets.
    cpus: tuple[int, ...] = ()

    def hide_env(self, text: str) -> str:
        """`text` with the value of every `asyncsafe_env` variable replaced by `HIDDEN`:
        what the server prints (a connection string in an error, say) may hold one, and
        reports show its output."""
        # Longest first: a value that holds another is hidden whole.
        for value in sorted({value for _, value in self.env if value}, key=len, reverse=True):
            text = text.replace(value, HIDDEN)
        return text

    @property
    def command_line(self) -> str:
        """The production command this server mirrors (`asyncsafe_env` values hidden)."""
        graceful = f"{self.graceful_timeout:g}"
        if self.server == "gunicorn":
            words = ["gunicorn", self.app or "", "--worker-class", "uvicorn_worker.UvicornWorker",
                     "--workers", str(self.workers), "--graceful-timeout", graceful]  # fmt: skip
        else:
            words = ["uvicorn", self.app or "", *(["--factory"] if self.factory else []), "--workers",
                     str(self.workers), "--loop", self.loop, "--http", self.http,
                     "--timeout-graceful-shutdown", graceful]  # fmt: skip
        return self.hide_env(" ".join([*words, self.server_args]).strip())

    def replace(self, **changes: object) -> ServerSettings:
        """A copy with some settings changed; checked like the options are."""
        return check(dataclasses.replace(self, **changes))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Settings:
    #: `--asyncsafe`: fail tests for stalls, lint the app, check shutdown.
    enabled: bool
    server: ServerSettings
    lint: bool = True
    json_path: Path | None = None
    #: `--asyncsafe-html PATH`: the run as one self-contained HTML page.
    html_path: Path | None = None
    #: `--asyncsafe-save NAME`: keep this session's load runs as `.asyncsafe/NAME.json`.
    save: str | None = None
    #: `--asyncsafe-compare[=NAME]`: None to compare to nothing, "" to the latest save.
    compare: str | None = None
    #: `--asyncsafe-compare-fail METRIC:PERCENT`, each time it is given.
    compare_fail: tuple[Limit, ...] = ()
    #: With --asyncsafe, end the run by draining the session's server (`asyncsafe::shutdown`)...
    shutdown: bool = True
    #: ... with this many requests to this path in flight (none without a path).
    drain_path: str | None = None
    drain_in_flight: int = 10
    #: `--asyncsafe-lb-idle-timeout`: the load balancer's idle timeout, in seconds, that
    #: `asyncsafe::keepalive` holds the server's to (no such item without it).
    lb_idle_timeout: float | None = None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "asyncsafe", "asyncsafe: run the app under real Uvicorn (or Gunicorn) and watch its event loops"
    )
    options: list[tuple[str, str, str, str | None]] = [
        # name, ini type, help, default
        ("app", "string", "the ASGI app to serve, as IMPORT:ATTRIBUTE (e.g. myapp.main:app)", None),
        ("server", "string", "the server: uvicorn, or gunicorn with Uvicorn's worker (default: uvicorn)", "uvicorn"),
        ("workers", "string", "number of worker processes (default: 1)", "1"),
        ("loop", "string", "event loop: auto, asyncio or uvloop (default: auto)", "auto"),
        ("http", "string", "HTTP implementation: auto, h11 or httptools (default: auto)", "auto"),
        ("block-threshold", "string", "a loop stall at least this long fails the test (default: 100ms)", "100ms"),
        ("startup-timeout", "string", "how long the server may take to start (default: 30s)", "30s"),
        ("graceful-timeout", "string", "the server's graceful shutdown timeout (default: 10s)", "10s"),
        ("json", "string", "write every stall, with its stack and test id, to this JSON file", None),
        (
            "html",
            "string",
            "write the run (stalls, load runs, drains, sweeps, with charts) as one self-contained HTML file "
            "(needs pytest-asyncsafe[report])",
            None,
        ),
        ("drain-path", "string", "asyncsafe::shutdown keeps requests to this path in flight (default: none)", None),
        ("drain-in-flight", "string", "how many requests asyncsafe::shutdown keeps in flight (default: 10)", "10"),
        (
            "lb-idle-timeout",
            "string",
            "with --asyncsafe, check (asyncsafe::keepalive) that the server keeps idle connections open longer than "
            "the load balancer in front of it, whose idle timeout this is (e.g. 60s)",
            None,
        ),
    ]
    group.addoption(
        "--asyncsafe",
        action="store_true",
        default=None,
        help="fail tests during which an event loop stalled, and lint the app (ini: asyncsafe)",
    )
    parser.addini("asyncsafe", "turn the asyncsafe checks on (like --asyncsafe)", type="bool", default=False)
    factory = "the app is a factory: call it, once in every worker, to build the app (as `uvicorn --factory`)"
    group.addoption(
        "--asyncsafe-factory", action="store_true", default=None, help=f"{factory} (ini: asyncsafe_factory)"
    )
    parser.addini("asyncsafe_factory", factory, type="bool", default=False)
    for name, kind, text, default in options:
        key = name.replace("-", "_")
        metavar = {
            "app": "IMPORT:ATTRIBUTE",
            "workers": "N",
            "json": "PATH",
            "html": "PATH",
            "drain-path": "PATH",
            "drain-in-flight": "N",
        }.get(name, "DURATION")
        if name in ("server", "loop", "http"):
            metavar = "|".join({"server": SERVERS, "loop": LOOPS, "http": HTTPS}[name])
        group.addoption(f"--asyncsafe-{name}", dest=f"asyncsafe_{key}", metavar=metavar, default=None, help=text)
        parser.addini(f"asyncsafe_{key}", text, type=kind, default=default)  # type: ignore[arg-type]
    parser.addini("asyncsafe_env", "KEY=VALUE lines: environment variables for the server", type="linelist", default=[])
    parser.addini(
        "asyncsafe_server_args",
        "the server's own options, e.g. --timeout 30 for gunicorn, --limit-concurrency 100 for uvicorn",
        type="string",
        default="",
    )
    parser.addini(
        "asyncsafe_uvicorn_args",
        "Uvicorn's options, e.g. --limit-concurrency 100 (uvicorn only)",
        type="string",
        default="",
    )
    parser.addini(
        "asyncsafe_lint", "with --asyncsafe, also lint the app's package (default: true)", type="bool", default=True
    )
    parser.addini(
        "asyncsafe_shutdown",
        "with --asyncsafe, end the run by checking the server's SIGTERM drain (default: true)",
        type="bool",
        default=True,
    )
    # Baselines: what a session asks for, no ini keys.
    group.addoption(
        "--asyncsafe-save",
        dest="asyncsafe_save",
        metavar="NAME",
        default=None,
        help="save every load run's metrics as .asyncsafe/NAME.json in the rootdir",
    )
    group.addoption(
        "--asyncsafe-compare",
        dest="asyncsafe_compare",
        metavar="NAME",
        nargs="?",
        const="",
        default=None,
        help="compare every load run to the saved run NAME (default: the latest save)",
    )
    group.addoption(
        "--asyncsafe-compare-fail",
        dest="asyncsafe_compare_fail",
        metavar="METRIC:PERCENT",
        action="append",
        default=[],
        help="with --asyncsafe-compare, fail the session when METRIC (p50, p90, p95, p99, max, mean, "
        "rps, error_rate) got worse by more than PERCENT, e.g. p95:10%%; repeatable",
    )


def from_config(config: pytest.Config) -> Settings:
    def value(key: str) -> str | None:
        given: str | None = config.getoption(f"asyncsafe_{key}")
        ini: str | None = config.getini(f"asyncsafe_{key}")  # None where its default is
        return given if given is not None else ini

    try:
        server = check(
            ServerSettings(
                app=value("app") or None,
                server=value("server") or "uvicorn",
                factory=bool(config.getoption("asyncsafe_factory") or config.getini("asyncsafe_factory")),
                workers=_integer(value("workers"), "--asyncsafe-workers"),
                loop=value("loop") or "auto",
                http=value("http") or "auto",
                env=tuple(environment(config.getini("asyncsafe_env"))),
                server_args=_server_args(config, value("server") or "uvicorn"),
                block_threshold=parse_duration(value("block_threshold") or "", "--asyncsafe-block-threshold"),
                startup_timeout=parse_duration(value("startup_timeout") or "", "--asyncsafe-startup-timeout"),
                graceful_timeout=parse_duration(value("graceful_timeout") or "", "--asyncsafe-graceful-timeout"),
                rootdir=config.rootpath,
            )
        )
    except ValueError as error:
        raise pytest.UsageError(f"asyncsafe: {error}") from None
    enabled = config.getoption("asyncsafe") or config.getini("asyncsafe")
    json_path = value("json")
    try:
        save, compare, limits = _baselines(config)
    except ValueError as error:
        raise pytest.UsageError(f"asyncsafe: {error}") from None
    json = Path(json_path) if json_path else None
    html_path = value("html")
    lint = config.getini("asyncsafe_lint")
    try:
        in_flight = _integer(value("drain_in_flight"), "--asyncsafe-drain-in-flight")
    except ValueError as error:
        raise pytest.UsageError(f"asyncsafe: {error}") from None
    if in_flight < 1:
        raise pytest.UsageError(f"asyncsafe: --asyncsafe-drain-in-flight: must be at least 1, got {in_flight}")
    balancer = value("lb_idle_timeout")
    try:
        lb_idle_timeout = parse_duration(balancer, "--asyncsafe-lb-idle-timeout") if balancer else None
    except ValueError as error:
        raise pytest.UsageError(f"asyncsafe: {error}") from None
    return Settings(
        bool(enabled),
        server,
        lint,
        json,
        html_path=Path(html_path) if html_path else None,
        save=save,
        compare=compare,
        compare_fail=limits,
        shutdown=config.getini("asyncsafe_shutdown"),
        drain_path=value("drain_path") or None,
        drain_in_flight=in_flight,
        lb_idle_timeout=lb_idle_timeout,
    )


def _baselines(config: pytest.Config) -> tuple[str | None, str | None, tuple[Limit, ...]]:
    save = config.getoption("asyncsafe_save")
    compare = config.getoption("asyncsafe_compare")
    given = config.getoption("asyncsafe_compare_fail") or []
    if save is not None:
        check_name(save, "--asyncsafe-save")
    if compare:
        check_name(compare, "--asyncsafe-compare")
    limits = tuple(Limit.parse(text, "--asyncsafe-compare-fail") for text in given)
    if limits and compare is None:
        raise ValueError("--asyncsafe-compare-fail: needs --asyncsafe-compare (the saved run to compare to)")
    return save, compare, limits


def _server_args(config: pytest.Config, server: str) -> str:
    """`asyncsafe_server_args`, or its Uvicorn spelling."""
    given: str = config.getini("asyncsafe_server_args")
    uvicorn: str = config.getini("asyncsafe_uvicorn_args")
    if uvicorn and given:
        raise ValueError("asyncsafe_uvicorn_args and asyncsafe_server_args are both set: keep one")
    if uvicorn and server != "uvicorn":
        raise ValueError(
            f"asyncsafe_uvicorn_args: Uvicorn's options, but the server is {server}: use asyncsafe_server_args"
        )
    return given or uvicorn


def check(server: ServerSettings) -> ServerSettings:
    if server.server not in SERVERS:
        raise ValueError(f"--asyncsafe-server: expected one of {', '.join(SERVERS)}, got {server.server!r}")
    if server.app is not None and ":" not in server.app:
        raise ValueError(f"--asyncsafe-app: expected IMPORT:ATTRIBUTE (e.g. myapp.main:app), got {server.app!r}")
    if server.workers < 1:
        raise ValueError(f"--asyncsafe-workers: must be at least 1, got {server.workers}")
    if server.loop not in LOOPS:
        raise ValueError(f"--asyncsafe-loop: expected one of {', '.join(LOOPS)}, got {server.loop!r}")
    if server.http not in HTTPS:
        raise ValueError(f"--asyncsafe-http: expected one of {', '.join(HTTPS)}, got {server.http!r}")
    if server.server == "gunicorn" and not server.graceful_timeout.is_integer():
        raise ValueError(
            f"--asyncsafe-graceful-timeout: Gunicorn's --graceful-timeout is whole seconds, got "
            f"{server.graceful_timeout:g}s"
        )
    if server.server == "gunicorn":
        # Checked by Gunicorn's own parser; only a Gunicorn run imports Gunicorn (an
        # optional extra: importing it without says what to install).
        from pytest_asyncsafe.worker.gunicorn_internals import command_line_options

        command_line_options(server.server_args)
    elif server.server_args:
        # Checked by Uvicorn's own command line, so only a run that sets them imports it.
        from pytest_asyncsafe.worker.launch import uvicorn_options

        uvicorn_options(server.server_args)
    return server


def _integer(text: str | None, what: str) -> int:
    try:
        return int(str(text))
    except ValueError:
        raise ValueError(f"{what}: expected a whole number, got {text!r}") from None


def environment(lines: list[str], what: str = "asyncsafe_env") -> list[tuple[str, str]]:
    """(key, value) of each `KEY=VALUE` line; ValueError names `what` and the line's number."""
    pairs = []
    for number, line in enumerate(lines, start=1):
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            # By its number only: a line such as `TOKEN secret` holds a value.
            raise ValueError(f"{what}: line {number} is not KEY=VALUE")
        pairs.append((key.strip(), value.strip()))
    return pairs
