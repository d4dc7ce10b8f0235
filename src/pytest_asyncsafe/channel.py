"""How worker events reach the pytest process.

Each Uvicorn worker owns two files in the session's channel directory:

- `<pid>.jsonl`: events, one JSON object per line, appended (ready, stall, shutdown...).
- `<pid>.state`: a few numbers the loop monitor and the ASGI wrapper overwrite in place
  through `mmap`, cheap enough to update on every heartbeat: when the loop last
  answered, since when it has been stalled, and how many requests are in flight.

Every timestamp is `time.monotonic()`, which on Linux is one clock for every process of
the machine: the pytest process compares worker events with its own test windows
directly, whichever side recorded them.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_STATE = struct.Struct("<ddq")  # last loop answer, stalled since (0: not stalled), in flight


@dataclass(frozen=True, slots=True)
class WorkerState:
    pid: int
    last_answer: float
    stalled_since: float
    in_flight: int


class WorkerChannel:
    """The worker's end: written from the loop thread and the monitor thread."""

    def __init__(self, directory: Path, pid: int) -> None:
        self.pid = pid
        self._lock = threading.Lock()
        self._events = open(directory / f"{pid}.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the worker
        state_path = directory / f"{pid}.state"
        with open(state_path, "wb") as file:
            file.write(b"\0" * _STATE.size)
        with open(state_path, "r+b") as file:
            self._state = mmap.mmap(file.fileno(), _STATE.size)
        self._values = [0.0, 0.0, 0]

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "pid": self.pid, **fields}, default=str)
        with self._lock:
            self._events.write(line + "\n")
            self._events.flush()

    def answered(self, when: float) -> None:
        self._update(0, when)

    def stalled_since(self, when: float) -> None:
        self._update(1, when)

    def in_flight(self, count: int) -> None:
        self._update(2, count)

    def _update(self, index: int, value: float) -> None:
        with self._lock:
            self._values[index] = value
            _STATE.pack_into(self._state, 0, *self._values)


class ServerChannel:
    """The pytest process's end: reads what every worker of one server wrote."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._offsets: dict[Path, int] = {}

    def read_events(self) -> list[dict[str, Any]]:
        """Events written since the last call, complete lines only."""
        events = []
        for path in sorted(self.directory.glob("*.jsonl")):
            offset = self._offsets.get(path, 0)
            with open(path, "rb") as file:
                file.seek(offset)
                data = file.read()
            complete = data[: data.rfind(b"\n") + 1]
            self._offsets[path] = offset + len(complete)
            events.extend(json.loads(line) for line in complete.splitlines() if line.strip())
        return events

    def states(self) -> dict[int, WorkerState]:
        states = {}
        for path in self.directory.glob("*.state"):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if len(data) == _STATE.size:
                pid = int(path.stem)
                states[pid] = WorkerState(pid, *_STATE.unpack(data))
        return states


def pid_alive(pid: int) -> bool:
    """Whether the process runs; a zombie (exited, not yet reaped by its parent - a
    worker the Uvicorn supervisor has not collected yet) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            # `pid (command) state ...`: the command may hold spaces and parentheses.
            state = file.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): `kill` said it exists
    return state not in (b"Z", b"X")
