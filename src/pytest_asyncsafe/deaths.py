"""Workers that died while the server ran: the stall each died in, if it was stalled, and
whether Gunicorn's arbiter killed it for its `--timeout`; and how a death reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_asyncsafe.durations import format_duration
from pytest_asyncsafe.stalls import Stall, whose


@dataclass(frozen=True)
class Death:
    pid: int
    #: `asyncsafe_server`: "uvicorn" or "gunicorn".
    server: str
    #: Gunicorn's `--timeout`, when its arbiter killed the worker for exceeding it.
    timeout: float | None
    #: The stall its loop was in when it died, and how long that had lasted.
    stall: Stall | None
    stalled_for: float


def describe(death: Death, app: str, root: Path, log_tail: str) -> str:
    """Why the test during which `death` happened fails."""
    worker = f"worker pid {death.pid} of {app}"
    # Gunicorn's arbiter keeps its number of workers: the run goes on with a new one.
    replaced = ", and the arbiter starts another in its place" if death.server == "gunicorn" else ""
    if death.timeout is not None:
        head = (
            f"asyncsafe: Gunicorn's arbiter killed {worker} during this test: it had not reported alive within "
            f"--timeout {death.timeout:g} (WORKER TIMEOUT){replaced}"
        )
    else:
        head = f"asyncsafe: {death.server.capitalize()} {worker} died during this test{replaced}"
    if death.stall is None:
        return f"{head}. The server's last output:\n{log_tail}"
    blocked = f"  its event loop had been blocked for {format_duration(death.stalled_for)} when it died"
    return "\n".join([head, blocked, *whose(death.stall, root)])
