"""`python -m pytest_asyncsafe.worker.launch`: the server process the plugin spawns.

It starts Uvicorn on the listening socket the pytest process bound and handed over,
serving `pytest_asyncsafe.worker.app:create` in every worker, with the user's extra
Uvicorn options parsed by Uvicorn's own command line (so they are validated and spelled
exactly as in `uvicorn --help`).

It does what `uvicorn.run` does, with one difference that matters on SIGTERM: the
handed-over socket is passed as a socket object, never duplicated (Uvicorn's `--fd`
duplicates it and leaves the original open), so that when the server stops listening
the kernel refuses new connections instead of queueing them for nobody - as with
`uvicorn --host --port`.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

import click
import uvicorn

from pytest_asyncsafe.worker.app import ENVIRONMENT_KEY
from pytest_asyncsafe.worker.orphans import watch_lifeline
from pytest_asyncsafe.worker.uvicorn_internals import STARTUP_FAILURE, command_line_options, started, supervise

#: Options the plugin sets itself; a user's value for them would break the wiring.
OWNED = {"app", "factory", "host", "port", "uds", "fd", "workers", "loop", "http", "reload"}


def uvicorn_options(extra: str) -> dict[str, Any]:
    """Uvicorn's keyword arguments for `uvicorn.run`, from command-line style options;
    ValueError names what is wrong."""
    try:
        given = command_line_options(extra)
    except click.ClickException as error:
        raise ValueError(f"invalid asyncsafe_uvicorn_args {extra!r}: {error.format_message()}") from None
    clashes = sorted(set(given) & OWNED)
    if clashes:
        raise ValueError(f"asyncsafe_uvicorn_args may not set {', '.join(clashes)}: use the asyncsafe options")
    return given


def main() -> None:
    settings = json.loads(os.environ[ENVIRONMENT_KEY])
    watch_lifeline(settings["lifeline"], settings["graceful_timeout"] + 5)
    config = uvicorn.Config(
        "pytest_asyncsafe.worker.app:create",
        factory=True,
        workers=settings["workers"],
        loop=settings["loop"],
        http=settings["http"],
        timeout_graceful_shutdown=settings["graceful_timeout"],
        **uvicorn_options(settings["uvicorn_args"]),
    )
    listener = socket.socket(fileno=settings["fd"])
    if config.workers > 1:
        supervise(config, listener)
        return
    server = uvicorn.Server(config)
    server.run(sockets=[listener])
    if not started(server):
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
