"""The files workers and the pytest process share (`pytest_asyncsafe.channel`)."""

from __future__ import annotations

import time
from pathlib import Path

from pytest_asyncsafe import events
from pytest_asyncsafe.channel import ServerChannel, WorkerChannel, WorkerState


def test_a_state_file_listed_before_the_worker_filled_it_is_read_once_it_is(tmp_path: Path) -> None:
    # Found in a full run: the watcher thread listed a worker's state file between its
    # creation and its first write, failed to map it, and stopped watching for good.
    (tmp_path / "4242.state").write_bytes(b"")
    server = ServerChannel(tmp_path)
    assert server.states() == {}
    worker = WorkerChannel(tmp_path, 4242)
    worker.beat(12.5, 0.25)
    worker.in_flight[0] = 3
    time.sleep(0.06)  # past the interval between two listings
    assert server.states() == {4242: WorkerState(4242, 12.5, 0.25, 3, 0)}
    server.close()


def test_every_event_comes_back_as_the_type_it_was_written_as(tmp_path: Path) -> None:
    written = [
        events.WorkerStarted(7, 1.5),
        events.Ready(7, 2.0),
        events.StartupFailed(7, "boom"),
        events.ShutdownStarted(7, 3.0),
        events.ShutdownComplete(7, 3.5, [{"coroutine": "poll", "created": None, "awaiting": []}]),
        events.ShutdownFailed(7, 3.5, "Traceback ..."),
        events.Cancelled(7, "GET", "/slow", True),
        events.SampleTaken(7, 2.5, [["app.py", 3, "handler"]], None, 2, [], 1, []),
        events.StallOver(7, 2.0, 2.3, 0.01, [[2.1, 2.15]], "serving", [{"id": 1, "method": "GET", "path": "/"}]),
    ]
    channel = WorkerChannel(tmp_path, 7)
    for event in written:
        channel.emit(event)
    assert ServerChannel(tmp_path).read_events() == written
