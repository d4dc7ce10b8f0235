"""With `--asyncsafe`, the run ends by stopping the session's server the way a deploy
does - SIGTERM, optionally with requests in flight - as one collected test item, so
every CI run checks the app's shutdown without anyone writing a test for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncsafe_lint.untrusted import printable
from pytest_asyncsafe.session import SESSION

SHUTDOWN_ITEM = "asyncsafe::shutdown"


class ShutdownItem(pytest.Item):
    def __init__(self, *, drain_path: str | None, in_flight: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.drain_path = drain_path
        self.in_flight = in_flight

    def runtest(self) -> None:
        session = self.config.stash[SESSION]
        server = session.session_server()
        session.drain(self.nodeid, server, self.drain_path, self.in_flight).assert_clean()

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: object = None) -> str:
        from pytest_asyncsafe.drain import DrainFailed
        from pytest_asyncsafe.server import ServerError

        if isinstance(excinfo.value, (DrainFailed, ServerError)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, None, str]:
        what = (
            f"with {self.in_flight} x GET {printable(self.drain_path)} in flight"
            if self.drain_path
            else "with none in flight"
        )
        return self.config.rootpath, None, f"SIGTERM drain of the session's server {what}"
