"""Everything the plugin takes from Gunicorn and uvicorn-worker (the `gunicorn` extra), for
`asyncsafe_server = "gunicorn"`:

- `gunicorn.config.Config`: its command-line parser and its settings validate the user's
  `asyncsafe_server_args` exactly as `gunicorn` would;
- `gunicorn.app.base.BaseApplication`: an application configured in code, so Gunicorn
  reads no `gunicorn.conf.py` and no `GUNICORN_CMD_ARGS` behind the plugin's back; its
  arbiter takes the plugin's listening socket as `fd://N` and closes the handed-over
  descriptor once it has its own copy, so a stopped server refuses connections;
- `uvicorn_worker.UvicornWorker`, the worker class Uvicorn's documentation points
  production to (`uvicorn.workers` is deprecated).  `Worker` runs it on the chosen loop
  and HTTP implementation, watches the app in each worker once loaded (after the fork,
  `--preload` or not), and reports the arbiter's timeout kill before it dies.

`tests/plugin/test_gunicorn.py` covers each of them on a real arbiter.
"""

from __future__ import annotations

import os
import shlex
import signal
import time
from types import FrameType
from typing import Any, NoReturn

try:
    from gunicorn.app.base import BaseApplication
    from gunicorn.config import Config
    from uvicorn_worker import UvicornWorker
except ImportError as missing:
    package = (missing.name or "").partition(".")[0]
    raise ValueError(
        f"asyncsafe_server = gunicorn needs Gunicorn and uvicorn-worker, and {package} is not installed: "
        "pip install 'pytest-asyncsafe[gunicorn]'"
    ) from None

from pytest_asyncsafe.events import TimedOut
from pytest_asyncsafe.worker.app import ASGIApp, Watched, load, settings, watch
from pytest_asyncsafe.worker.orphans import die_with_parent
from pytest_asyncsafe.worker.tasks import track_origins

#: Gunicorn's settings the plugin sets itself, and what to use instead of each.
OWNED = {
    "bind": "the plugin binds 127.0.0.1 itself",
    "workers": "use asyncsafe_workers",
    "worker_class": "the plugin runs uvicorn_worker.UvicornWorker (see the documentation, Production servers)",
    "graceful_timeout": "use asyncsafe_graceful_timeout",
    "config": "no Gunicorn config file is read: give its options here",
    "daemon": "the plugin runs the server in the foreground",
    "reload": "not while testing",
    "check_config": "not while testing",
    "print_config": "not while testing",
    "paste": "use asyncsafe_app",
}


def command_line_options(arguments: str) -> dict[str, Any]:
    """The settings given in `arguments` (as they would follow `gunicorn` on a command
    line), by Gunicorn's name for each; ValueError says what Gunicorn rejects, or which
    setting the plugin owns."""
    config = Config()
    parser = config.parser()
    parser.error = _reject
    try:
        parsed = parser.parse_args(shlex.split(arguments))
    except SystemExit:  # --help, --version
        raise ValueError(f"invalid Gunicorn options {arguments!r}: they print and exit") from None
    if parsed.args:
        raise ValueError(f"Gunicorn options may not name the app ({' '.join(parsed.args)}): use asyncsafe_app")
    given = {name: value for name, value in vars(parsed).items() if value is not None and name != "args"}
    for name in sorted(given):
        if name in OWNED:
            raise ValueError(f"Gunicorn options may not set --{name.replace('_', '-')}: {OWNED[name]}")
        try:
            config.set(name, given[name])
        except (TypeError, ValueError) as error:
            raise ValueError(f"invalid Gunicorn option --{name.replace('_', '-')}: {error}") from None
    return given


def _reject(message: str) -> NoReturn:
    raise ValueError(f"invalid Gunicorn options: {message}")


class Application(BaseApplication):  # type: ignore[misc]
    """The arbiter's configuration: the user's options, then the plugin's own."""

    def __init__(self, given: dict[str, Any]) -> None:
        self.given = given
        super().__init__()

    def load_config(self) -> None:
        options = {
            **command_line_options(self.given["server_args"]),
            "bind": [f"fd://{self.given['fd']}"],
            "workers": self.given["workers"],
            "worker_class": Worker,
            "graceful_timeout": int(self.given["graceful_timeout"]),
        }
        for name, value in options.items():
            self.cfg.set(name, value)

    def load(self) -> ASGIApp:
        # In the worker, or in the arbiter with `--preload`: either way before it forks
        # the worker that serves it.
        track_origins(True)
        return load(self.given["app"], self.given["factory"])


class Worker(UvicornWorker):  # type: ignore[misc]
    """uvicorn-worker's worker on the chosen loop and HTTP implementation, its app watched."""

    #: The app, once loaded: Gunicorn's attribute for it.
    wsgi: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.given = settings()
        self.CONFIG_KWARGS = {"loop": self.given["loop"], "http": self.given["http"]}
        super().__init__(*args, **kwargs)

    def init_process(self) -> None:
        # A worker must not outlive the arbiter, however it dies.
        die_with_parent()
        super().init_process()

    def init_signals(self) -> None:
        super().init_signals()
        # uvicorn-worker leaves SIGABRT to its default (the process dumps core and dies):
        # tell the pytest process first that it was the arbiter's timeout.
        signal.signal(signal.SIGABRT, self._timed_out)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = watch(self.wsgi, self.given)

    def _timed_out(self, signum: int, frame: FrameType | None) -> None:
        watched: object = getattr(self, "wsgi", None)
        if isinstance(watched, Watched):  # else the app was still loading: nothing to tell yet
            watched.channel.emit(TimedOut(watched.channel.pid, time.monotonic(), float(self.cfg.timeout)))
        self.cfg.worker_abort(self)
        # What Gunicorn's own workers do on SIGABRT, short of unwinding the code that
        # blocked (it would run on, the arbiter's SIGKILL pending).
        os._exit(1)


def serve(given: dict[str, Any]) -> None:
    """Run Gunicorn's arbiter until it is told to stop."""
    Application(given).run()
