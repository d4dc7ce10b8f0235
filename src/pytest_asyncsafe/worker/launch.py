"""`python -m pytest_asyncsafe.worker.launch`: the server process the plugin spawns.

With `asyncsafe_server = "gunicorn"` it runs Gunicorn's arbiter (see
`worker/gunicorn_internals`).  Otherwise it starts Uvicorn on the listening socket the
pytest process bound and handed over, serving `pytest_asyncsafe.worker.app:create` in
every worker, with the user's extra Uvicorn options parsed by Uvicorn's own command line
(so they are validated and spelled exactly as in `uvicorn --help`).

It does what `uvicorn.run` does, with one difference that matters on SIGTERM: the
handed-over socket is passed as a socket object, never duplicated (Uvicorn's `--fd`
duplicates it and leaves the original open), so that when the server stops listening
the kernel refuses new connections instead of queueing them for nobody - as with
`uvicorn --host --port`.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import click
import uvicorn

from pytest_asyncsafe.worker.app import settings
from pytest_asyncsafe.worker.orphans import watch_lifeline
from pytest_asyncsafe.worker.uvicorn_internals import STARTUP_FAILURE, command_line_options, started, supervise

#: Uvicorn's options the plugin sets itself (a user's value would break the wiring), and
#: what to use instead of each.
OWNED = {
    "app": "use asyncsafe_app",
    "factory": "use asyncsafe_factory",
    "host": "the plugin binds 127.0.0.1 itself",
    "port": "the plugin binds 127.0.0.1 itself",
    "uds": "the plugin binds 127.0.0.1 itself",
    "fd": "the plugin binds 127.0.0.1 itself",
    "workers": "use asyncsafe_workers",
    "loop": "use asyncsafe_loop",
    "http": "use asyncsafe_http",
    "timeout_graceful_shutdown": "use asyncsafe_graceful_timeout",
    "reload": "not while testing",
}


def uvicorn_options(extra: str) -> dict[str, Any]:
    """Uvicorn's keyword arguments for `uvicorn.run`, from command-line style options;
    ValueError names what is wrong."""
    try:
        given = command_line_options(extra)
    except click.ClickException as error:
        raise ValueError(f"invalid Uvicorn options {extra!r}: {error.format_message()}") from None
    for name in sorted(given):
        if name in OWNED:
            raise ValueError(f"Uvicorn options may not set --{name.replace('_', '-')}: {OWNED[name]}")
    return given


def main() -> None:
    given = settings()
    if given["cpus"]:
        # Before any worker starts: they inherit it.
        os.sched_setaffinity(0, given["cpus"])
    watch_lifeline(given["lifeline"], given["graceful_timeout"] + 5)
    if given["server"] == "gunicorn":
        # Only a Gunicorn run imports Gunicorn: it is an optional extra.
        from pytest_asyncsafe.worker import gunicorn_internals

        gunicorn_internals.serve(given)
        return
    config = uvicorn.Config(
        "pytest_asyncsafe.worker.app:create",
        factory=True,
        workers=given["workers"],
        loop=given["loop"],
        http=given["http"],
        timeout_graceful_shutdown=given["graceful_timeout"],
        **uvicorn_options(given["server_args"]),
    )
    listener = socket.socket(fileno=given["fd"])
    if config.workers > 1:
        supervise(config, listener)
        return
    server = uvicorn.Server(config)
    server.run(sockets=[listener])
    if not started(server):
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
