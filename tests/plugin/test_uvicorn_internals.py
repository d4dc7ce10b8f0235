"""What the plugin takes from Uvicorn beyond its documented API
(`pytest_asyncsafe.worker.uvicorn_internals`), one test each: a Uvicorn release that
changes one of them fails here, by name, before any user sees it."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import httpx
import pytest
import uvicorn
import uvicorn_worker

from pytest_asyncsafe.worker.tasks import leftover_tasks
from pytest_asyncsafe.worker.uvicorn_internals import (
    STARTUP_FAILURE,
    command_line_options,
    import_from_string,
    is_servers,
    response_flag,
    started,
)

from .support import REPO_ROOT

HERE = "tests.plugin.test_uvicorn_internals"

# --- the apps these tests serve --------------------------------------------------------------


async def plain_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def failing_startup(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no database"})


#: The app's own task, started by `tasks_app`: the one leftover a worker must report.
_background: set[asyncio.Task[None]] = set()


async def tasks_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Starts a task of its own, then answers with the tasks that are not Uvicorn's."""
    if scope["type"] == "lifespan":
        await plain_app(scope, receive, send)
        return
    task = asyncio.create_task(asyncio.sleep(30), name="apps-own")
    _background.add(task)
    names = ",".join(sorted(described["task"] for described in leftover_tasks()))
    task.cancel()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": names.encode()})


#: (response_started, response_complete) as `flags_app` saw them at each step.
_flags: list[tuple[str, bool, bool]] = []


async def flags_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Records the request cycle's flags before, during and after its response."""
    if scope["type"] == "lifespan":
        await plain_app(scope, receive, send)
        return

    def note(step: str) -> None:
        _flags.append((step, response_flag(send, "response_started"), response_flag(send, "response_complete")))

    note("before")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    note("started")
    await send({"type": "http.response.body", "body": b"ok"})
    note("complete")


def _listener() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    return listener


@contextmanager
def serving(app: Any) -> Iterator[tuple[uvicorn.Server, threading.Thread, str]]:
    """`app` served by `uvicorn.Server.run` in a thread (which leaves signals alone)."""
    listener = _listener()
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="critical"))

    def run() -> None:
        try:
            server.run(sockets=[listener])
        except SystemExit:  # how Uvicorn 0.50+ ends a failed startup; earlier ones return
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not started(server) and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield server, thread, f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


# --- the command line ----------------------------------------------------------------------


def test_options_come_back_as_config_keywords_and_only_those_given() -> None:
    given = command_line_options("--limit-concurrency 100 --header x-a:1 --header 'x-b:two: three' --no-access-log")
    assert given == {
        "limit_concurrency": 100,
        "headers": [("x-a", "1"), ("x-b", "two: three")],
        "access_log": False,
    }
    assert command_line_options("") == {}


def test_headers_given_reach_config_as_pairs() -> None:
    # The crash this module was made for: from Uvicorn 0.55 the command splits `--header`
    # itself; handing Config what it gives must still make these response headers.
    config = uvicorn.Config(plain_app, **command_line_options("--header x-served-by:asyncsafe --header x-b:1:2"))
    config.load()
    assert config.encoded_headers[-2:] == [(b"x-served-by", b"asyncsafe"), (b"x-b", b"1:2")]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        # click words it "No such option: --bogus" up to 8.1, "No such option '--bogus'." since.
        ("--bogus", r"No such option(: |\s')--bogus\b.*"),
        ("--limit-concurrency many", r"Invalid value for '--limit-concurrency': 'many' is not a valid integer\."),
        ("--header nocolon", r"Invalid value for '--header': Expected 'Name:Value' format, got 'nocolon'\."),
    ],
    ids=["unknown", "not-an-integer", "header-without-colon"],
)
def test_what_uvicorns_command_line_rejects_is_a_click_error(arguments: str, message: str) -> None:
    with pytest.raises(click.ClickException) as raised:
        command_line_options(arguments)
    assert re.fullmatch(message, raised.value.format_message())


# --- the server, its exit status and its supervisor -------------------------------------------


def test_started_is_true_once_serving() -> None:
    with serving(plain_app) as (server, _, url):
        assert started(server)
        assert httpx.get(url, timeout=5).text == "ok"


def test_started_stays_false_when_the_lifespan_startup_fails() -> None:
    with serving(failing_startup) as (server, thread, _):
        thread.join(10)
        assert not thread.is_alive()
        assert not started(server)


def test_startup_failure_is_the_status_uvicorn_exits_with_when_startup_fails() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "uvicorn", f"{HERE}:failing_startup", "--lifespan", "on", "--port", "0"],
        check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == STARTUP_FAILURE, completed.stderr


SUPERVISED = f"""
import socket, sys, uvicorn
from pytest_asyncsafe.worker.uvicorn_internals import supervise
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
print(listener.getsockname()[1], flush=True)
supervise(uvicorn.Config("{HERE}:plain_app", workers=2, log_level="critical"), listener)
"""


def test_the_supervisor_serves_with_n_workers_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SUPERVISED], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        url = f"http://127.0.0.1:{process.stdout.readline().strip()}"
        assert httpx.get(url, timeout=30).text == "ok"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.communicate(timeout=30)


def test_the_request_cycles_flags_say_how_far_the_response_got() -> None:
    _flags.clear()
    with serving(flags_app) as (_, _, url):
        assert httpx.get(url, timeout=5).text == "ok"
    assert _flags == [("before", False, False), ("started", True, False), ("complete", True, True)]
    assert response_flag(print, "response_complete") is False  # not Uvicorn's `send`


# --- the app, and where Uvicorn's code lives ---------------------------------------------------


def test_import_from_string_resolves_module_colon_attribute() -> None:
    assert import_from_string(f"{HERE}:plain_app") is plain_app


def test_the_servers_own_tasks_are_told_from_the_apps() -> None:
    assert is_servers(uvicorn.server.__file__)
    assert is_servers(uvicorn_worker.__file__)
    assert not is_servers(__file__)
    # While a request is served, Uvicorn runs its server, its lifespan and the request's
    # own task: only the task the app started itself is left over.
    with serving(tasks_app) as (_, _, url):
        assert httpx.get(url, timeout=5).text == "apps-own"
