"""`python -m pytest_asyncsafe.worker.launch`: the server process the plugin spawns.

It starts Uvicorn on the listening socket the pytest process bound and handed over
(`--fd`), serving `pytest_asyncsafe.worker.app:create` in every worker, with the user's
extra Uvicorn options parsed by Uvicorn's own command line (so they are validated and
spelled exactly as in `uvicorn --help`).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from typing import Any

import click
import uvicorn
from uvicorn.main import main as uvicorn_command

from pytest_asyncsafe.worker.app import ENVIRONMENT_KEY
from pytest_asyncsafe.worker.orphans import watch_lifeline

#: Options the plugin sets itself; a user's value for them would break the wiring.
OWNED = {"app", "factory", "host", "port", "uds", "fd", "workers", "loop", "http", "reload"}


def uvicorn_options(extra: str) -> dict[str, Any]:
    """Uvicorn's keyword arguments for `uvicorn.run`, from command-line style options;
    ValueError names what is wrong."""
    try:
        context = uvicorn_command.make_context("uvicorn", [*shlex.split(extra), "placeholder:app"], resilient_parsing=False)
    except click.ClickException as error:
        raise ValueError(f"invalid asyncsafe_uvicorn_args {extra!r}: {error.format_message()}") from None
    given = {
        name: value
        for name, value in context.params.items()
        if name != "app" and context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    }
    clashes = sorted(set(given) & OWNED)
    if clashes:
        raise ValueError(f"asyncsafe_uvicorn_args may not set {', '.join(clashes)}: use the asyncsafe options")
    if "headers" in given:
        given["headers"] = [header.split(":", 1) for header in given["headers"]]
    return given


def main() -> None:
    settings = json.loads(os.environ[ENVIRONMENT_KEY])
    watch_lifeline(settings["lifeline"], settings["graceful_timeout"] + 5)
    uvicorn.run(
        "pytest_asyncsafe.worker.app:create",
        factory=True,
        fd=settings["fd"],
        workers=settings["workers"],
        loop=settings["loop"],
        http=settings["http"],
        timeout_graceful_shutdown=settings["graceful_timeout"],
        **uvicorn_options(settings["uvicorn_args"]),
    )


if __name__ == "__main__":
    sys.exit(main())
