"""The files workers and the pytest process share (`pytest_asyncsafe.channel`)."""

from __future__ import annotations

import time
from pathlib import Path

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
    assert server.states() == {4242: WorkerState(4242, 12.5, 0.25, 3)}
    server.close()
