"""Everything the plugin takes from Uvicorn beyond `uvicorn.Config` and `uvicorn.Server`.

Uvicorn documents its command line and those two classes; what follows is not promised
by any release, so it is kept here, short, and each item is covered by
`tests/plugin/test_uvicorn_internals.py`, which fails on the release that changes it:

- `uvicorn.main.main`, the click command behind `uvicorn --help`: it parses and validates
  the user's extra options exactly as `uvicorn` would, and says which were given;
- the exit status of a server whose startup failed (`STARTUP_FAILURE`, defined in
  `uvicorn.main` up to 0.49 and in `uvicorn.config` since);
- `uvicorn.supervisors.Multiprocess`, the supervisor of several workers: how it is
  made (up to 0.50 it takes the `target` each worker runs; from 0.51 its workers make
  their own server), its `sockets` and its `terminate_all()`;
- `uvicorn.Server.started`, set once the server is serving;
- the `response_started` and `response_complete` flags of the request cycle whose bound
  method the app is given as `send`;
- `uvicorn.importer.import_from_string`, which resolves `module:attribute` as `uvicorn
  module:app` does, with the same errors;
- where Uvicorn's own code lives (and uvicorn-worker's, its worker for Gunicorn), to
  tell the server's tasks from the app's.

Only the server process and its workers import this module (and the pytest process when
it validates `asyncsafe_server_args` for Uvicorn).
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import shlex
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import click
import uvicorn
from uvicorn.importer import import_from_string
from uvicorn.main import main as _command
from uvicorn.supervisors import Multiprocess

__all__ = [
    "STARTUP_FAILURE",
    "command_line_options",
    "import_from_string",
    "is_servers",
    "response_flag",
    "started",
    "supervise",
]

#: What `uvicorn` exits with when its startup fails, and so what the launcher exits with.
STARTUP_FAILURE = 3

#: The server's own source files, whatever the installation: Uvicorn's, and those of
#: uvicorn-worker (which runs Uvicorn in a Gunicorn worker) where it is installed.
_SERVER_PACKAGES = tuple(
    os.path.dirname(spec.origin) + os.sep
    for spec in (importlib.util.find_spec("uvicorn"), importlib.util.find_spec("uvicorn_worker"))
    if spec is not None and spec.origin is not None
)


def command_line_options(arguments: str) -> dict[str, Any]:
    """The options given in `arguments` (as they would follow `uvicorn` on a command
    line), as keyword arguments of `uvicorn.Config`; `click.ClickException` says what
    Uvicorn's command line rejects."""
    context = _command.make_context("uvicorn", [*shlex.split(arguments), "placeholder:app"], resilient_parsing=False)
    given = {
        name: value
        for name, value in context.params.items()
        if name != "app" and context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    }
    if "headers" in given:
        # Up to 0.54 the command hands `run()` "name:value" strings and splits them itself;
        # from 0.55 its option callback has split them already.
        given["headers"] = [_header(header) for header in given["headers"]]
    return given


def _header(header: str | tuple[str, str]) -> tuple[str, str]:
    if not isinstance(header, str):
        return (header[0], header[1])
    name, colon, value = header.partition(":")
    if not colon:
        raise click.BadParameter(f"Expected 'Name:Value' format, got {header!r}.", param_hint="'--header'")
    return (name, value)


class _Supervisor(Multiprocess):
    """Uvicorn's supervisor of N workers, which also lets go of the listening socket
    when it stops them: otherwise its copy keeps the socket open while the workers drain,
    and the kernel accepts connections that no worker will ever serve."""

    def terminate_all(self) -> None:
        for listener in self.sockets:
            listener.close()
        super().terminate_all()


def supervise(config: uvicorn.Config, listener: socket.socket) -> None:
    """Run `config.workers` workers on `listener` until the supervisor is told to stop,
    as `uvicorn --workers N` does."""
    if "target" in inspect.signature(Multiprocess.__init__).parameters:
        _Supervisor(config, target=uvicorn.Server(config).run, sockets=[listener]).run()  # type: ignore[call-arg,unused-ignore]
    else:
        _Supervisor(config, sockets=[listener]).run()


def started(server: uvicorn.Server) -> bool:
    """Whether `server.run()` got as far as serving (False: its startup failed)."""
    return bool(server.started)


def response_flag(
    send: Callable[[Any], Awaitable[None]], flag: Literal["response_started", "response_complete"]
) -> bool:
    """A flag of the request cycle `send` belongs to, read there so that no request pays
    for wrapping `send`: whether the response has started, or is complete (then what runs
    now is the request's background tasks).  False for any other `send`."""
    return bool(getattr(getattr(send, "__self__", None), flag, False))


def is_servers(filename: str) -> bool:
    """Whether code from `filename` is the server's own (its main task, its lifespan)."""
    return filename.startswith(_SERVER_PACKAGES)
