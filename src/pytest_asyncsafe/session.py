"""The plugin's state for one pytest session: its servers, and the verdict on each test."""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_asyncsafe.server import Server, ServerError
from pytest_asyncsafe.settings import ServerSettings, Settings
from pytest_asyncsafe.stalls import Stall, describe, during

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
    #: The stall's length when it was charged (it may still have been going on).
    duration: float


@dataclass
class AsyncsafeSession:
    settings: Settings
    servers: list[Server] = field(default_factory=list)
    charged: list[Charged] = field(default_factory=list)
    _session_server: Server | None = None
    _session_error: ServerError | None = None
    #: Workers already reported dead, so each death fails one test only.
    _dead: set[int] = field(default_factory=set)
    _checked_until: float = 0.0

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
        server = Server(settings)
        self.servers.append(server)
        return server.start()

    def stop(self, server: Server) -> None:
        server.close()

    def close(self) -> None:
        for server in self.servers:
            server.close()

    # --- verdicts -------------------------------------------------------------------------------
    def stalls_during(self, test: str, start: float, threshold: float, allowed: bool) -> list[Charged]:
        """Stalls at least `threshold` long that began since `start` (and since the last
        check: the call and the teardown of a test are checked in turn)."""
        running = [server for server in self.servers if server.process is not None and server.process.poll() is None]
        if not running:
            return []
        settled = min(server.settle(SETTLE_TIMEOUT) for server in running)
        since, self._checked_until = max(start, self._checked_until), settled
        found = []
        for server in running:
            for stall in during([*server.stalls, *server.ongoing(settled)], since, settled):
                length = stall.duration(settled)
                # Startup stalls (imports, lifespan startup) are the server's, not the test's.
                if length >= threshold and stall.phase != "startup":
                    found.append(Charged(test, stall, server, threshold, allowed, length))
        self.charged.extend(found)
        return found

    def deaths(self) -> list[str]:
        """A message for each worker that died since the last call, with its last output."""
        messages = []
        for server in self.servers:
            if server.process is None:
                continue
            dead = [pid for pid in server.dead_workers() if pid not in self._dead]
            for pid in dead:
                self._dead.add(pid)
                messages.append(
                    f"asyncsafe: Uvicorn worker pid {pid} of {server.settings.app} died during this test. "
                    f"The server's last output:\n{server.log_tail()}"
                )
        return messages

    def explain(self, charged: list[Charged]) -> str:
        return "\n\n".join(describe(c.stall, c.duration, c.threshold, c.server.settings.rootdir) for c in charged)
