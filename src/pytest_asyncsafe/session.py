"""The plugin's state for one pytest session: its servers, and the verdict on each test."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_asyncsafe.budget import Budget
from pytest_asyncsafe.deaths import describe as describe_death
from pytest_asyncsafe.events import PoolExhausted
from pytest_asyncsafe.runs import LoadRun
from pytest_asyncsafe.server import Server, ServerError
from pytest_asyncsafe.settings import ServerSettings, Settings
from pytest_asyncsafe.stalls import Stall, describe, during
from pytest_asyncsafe.upstream import Upstreams

if TYPE_CHECKING:
    from pytest_asyncsafe.drain import DrainReport
    from pytest_asyncsafe.load import LoadResult
    from pytest_asyncsafe.storage import Baseline, Comparison, Regression
    from pytest_asyncsafe.tune.sweep import TuneReport

#: How long the end of a test waits for in-flight requests (and their background tasks)
#: to finish before judging it; a request still running then is judged as it stands.
SETTLE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Charged:
    """A stall charged to a test."""

    test: str
    stall: Stall
    server: Server
    threshold: float
    allowed: bool
    #: The stall's length when it was charged (it may still have been going on), not
    #: counting the time its thread waited for a CPU.
    duration: float


@dataclass(frozen=True)
class DryPool:
    """A worker's thread pool that ran dry during a test: every thread taken, a task
    waiting for one."""

    test: str
    server: Server
    event: PoolExhausted


@dataclass
class AsyncsafeSession:
    settings: Settings
    servers: list[Server] = field(default_factory=list)
    charged: list[Charged] = field(default_factory=list)
    #: The first time each worker's thread pool ran dry in each test.
    dry_pools: list[DryPool] = field(default_factory=list)
    #: The upstreams the servers' environments name (`asyncsafe_upstream`).
    upstreams: Upstreams = field(default_factory=Upstreams)
    _session_server: Server | None = None
    _session_error: ServerError | None = None
    #: Workers already reported dead, so each death fails one test only.
    _dead: set[int] = field(default_factory=set)
    _checked_until: float = 0.0
    #: Every load run, in the order they ran.
    loads: list[LoadRun] = field(default_factory=list)
    #: (test, cause) of each test an invalid load run ended.
    invalid: list[tuple[str, str]] = field(default_factory=list)
    #: The saved run `--asyncsafe-compare` compares to, read at the start.
    baseline: Baseline | None = None
    #: At the end: each run against the baseline, the regressions past a limit, where the
    #: runs were saved.
    comparisons: list[Comparison] = field(default_factory=list)
    regressions: list[Regression] = field(default_factory=list)
    saved_to: Path | None = None
    #: Every test judged for stalls, and how each item ended (its call, or the phase that
    #: failed): the HTML report's overview counts them.
    judged: set[str] = field(default_factory=set)
    outcomes: dict[str, str] = field(default_factory=dict)
    #: (test, report) of every drain and every `asyncsafe_tune` sweep, in order: the HTML
    #: report draws them.
    drains: list[tuple[str, DrainReport]] = field(default_factory=list)
    sweeps: list[tuple[str, TuneReport]] = field(default_factory=list)

    # --- servers ----------------------------------------------------------------------------
    def session_server(self) -> Server:
        """The session's server, started on first use; a failed start fails every test
        that needs it with the same error, without trying again."""
        if self._session_error is not None:
            raise self._session_error
        if self._session_server is None:
            try:
                self._session_server = self.start(self.settings.server)
            except ServerError as error:
                self._session_error = error
                raise
        return self._session_server

    def start(self, settings: ServerSettings) -> Server:
        server = Server(self.resolve(settings))
        self.servers.append(server)
        return server.start()

    def resolve(self, settings: ServerSettings) -> ServerSettings:
        """`settings` with each upstream named in its environment started, and its base
        URL in the variable's value (see `upstream`)."""
        return dataclasses.replace(settings, env=self.upstreams.fill(settings.env))

    def stop(self, server: Server) -> None:
        self._retire(server)
        server.close()

    def drain(self, test: str, server: Server, path: str | None, in_flight: int, **request: Any) -> DrainReport:
        """SIGTERM `server` with requests in flight and judge its shutdown (see `drain`),
        for `test`; it is stopped for good afterwards."""
        from pytest_asyncsafe.drain import drain

        self._retire(server)
        # The session's server has served the whole run: only its shutdown is judged.
        since_signal = server is self._session_server
        if since_signal:
            # Should a plugin reorder the shutdown item (`--ff`), later tests get a new one.
            self._session_server = None
        report = drain(server, path, in_flight=in_flight, log_from_signal=since_signal, **request)
        self.drains.append((test, report))
        return report

    def _retire(self, server: Server) -> None:
        # Its workers exit because they were told to: that is no death to report.
        self._dead.update(server.worker_pids)

    def close(self) -> None:
        for server in self.servers:
            server.close()
        self.upstreams.close()

    # --- load runs ----------------------------------------------------------------------------
    def record_load(self, test: str, result: LoadResult, budget: Budget | None, *, enforce: bool) -> LoadRun:
        """Keep a run; with `enforce`, judge it against `budget`, unless it is invalid (then
        its numbers say nothing about the server)."""
        index = sum(1 for run in self.loads if run.test == test and run.target == result.target)
        run = LoadRun(test, index, result, budget)
        if budget is not None and enforce and result.invalid is None:
            run.enforced, run.rows = True, budget.evaluate(result)
        self.loads.append(run)
        return run

    def startup_stalls(self) -> list[tuple[Server, Stall]]:
        """Stalls before the app was ready (imports, lifespan startup): not any test's doing."""
        return [
            (server, stall)
            for server in self.servers
            for stall in server.stalls
            if stall.phase == "startup" and stall.own_time() >= server.settings.block_threshold
        ]

    def stalls_between(self, start: float, end: float) -> list[tuple[Server, Stall]]:
        """Every stall the running servers recorded that began in [start, end), longest first."""
        found = []
        for server in self.servers:
            if server.process is None or server.process.poll() is not None:
                continue
            settled = server.settle(SETTLE_TIMEOUT)
            found += [
                (server, stall)
                for stall in during([*server.stalls, *server.ongoing(settled)], start, end, server.recording_threshold)
            ]
        return sorted(found, key=lambda pair: -pair[1].duration())

    # --- verdicts -------------------------------------------------------------------------------
    def stalls_during(self, test: str, start: float, threshold: float, allowed: bool) -> list[Charged]:
        """Stalls at least `threshold` long that began since `start` (and since the last
        check: the call and the teardown of a test are checked in turn).  The thread pools
        that ran dry in the same time are noted too (`dry_pools`)."""
        running = [server for server in self.servers if server.process is not None and server.process.poll() is None]
        if not running:
            return []
        settled = min(server.settle(SETTLE_TIMEOUT) for server in running)
        since, self._checked_until = max(start, self._checked_until), settled
        found = []
        for server in running:
            for stall in during([*server.stalls, *server.ongoing(settled)], since, settled, threshold):
                length = stall.own_time(settled)
                # Startup stalls (imports, lifespan startup) are the server's, not the test's.
                if length >= threshold and stall.phase != "startup":
                    found.append(Charged(test, stall, server, threshold, allowed, length))
            noted = {(dry.test, dry.event.pid) for dry in self.dry_pools}
            for event in server.dry_pools:
                if since <= event.time < settled and (test, event.pid) not in noted:
                    noted.add((test, event.pid))
                    self.dry_pools.append(DryPool(test, server, event))
        self.charged.extend(found)
        return found

    def deaths(self) -> list[str]:
        """A message for each worker that died since the last call: how, and where its
        loop was stuck if it was."""
        messages = []
        for server in self.servers:
            if server.process is None:
                continue
            for pid in server.dead_workers():
                if pid not in self._dead:
                    self._dead.add(pid)
                    root = server.settings.rootdir
                    messages.append(describe_death(server.death(pid), server.app, root, server.log_tail()))
        return messages

    def judge(self, test: str, start: float, threshold: float, allowed: bool) -> str | None:
        """Why `test` fails, if it does: the stalls at least `threshold` long charged to it
        since `start` (unless `allowed`), and the workers that died meanwhile."""
        self.judged.add(test)
        charged = self.stalls_during(test, start, threshold, allowed)
        problems = self.deaths()
        if charged and not allowed:
            problems.insert(0, self.explain(charged))
        return "\n\n".join(problems) if problems else None

    def explain(self, charged: list[Charged]) -> str:
        return "\n\n".join(describe(c.stall, c.duration, c.threshold, c.server.settings.rootdir) for c in charged)


#: Where the run's state lives: `config.stash[SESSION]`.
SESSION = pytest.StashKey[AsyncsafeSession]()
