"""How worker events reach the pytest process.

Each Uvicorn worker owns two files in the server's channel directory:

- `<pid>.jsonl`: events, one JSON object per line, appended (ready, stall, sample...).
- `<pid>.state`: two numbers the worker overwrites in place through `mmap`, cheap
  enough to update on every heartbeat and every request: when the loop last beat, and
  how many requests are in flight.

The other way, the pytest process sends a stalled worker `SAMPLE_SIGNAL` to ask for
its stack, which comes back as a `sample` event.

Every write is lock-free - one `os.write` to an `O_APPEND` file, or one store into a
typed view of the mapped state - so the stack-sampling signal handler may write while
the loop thread was writing too.
Every timestamp is `time.monotonic()`, which on Linux is one clock for every process
of the machine: the pytest process compares worker events with its own test windows
directly, whichever side recorded them.
"""

from __future__ import annotations

import json
import mmap
import os
import signal
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: A signal whose default action is to be ignored - so one that arrives before the
#: handler is set, or after the interpreter dropped it on the way out, does no harm -
#: and that a web server never gets otherwise (only a socket owner set with F_SETOWN
#: receives SIGURG for out-of-band data).
SAMPLE_SIGNAL = signal.SIGURG

_BEAT = struct.Struct("=d")
_STATE = struct.Struct("=dq")  # last beat, requests in flight (native order: the views' own)
#: How often the pytest process looks for the state files of new workers.
_LIST_EVERY = 0.05


def beat_interval(threshold: float) -> float:
    """How often a worker's loop beats: often enough to time a stall to within a quarter
    of the threshold."""
    return min(max(threshold / 4, 0.001), 0.01)


@dataclass(frozen=True, slots=True)
class WorkerState:
    pid: int
    last_beat: float
    in_flight: int


class WorkerChannel:
    """The worker's end."""

    def __init__(self, directory: Path, pid: int) -> None:
        self.pid = pid
        self._events = os.open(directory / f"{pid}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        state_path = directory / f"{pid}.state"
        state_path.write_bytes(b"\0" * _STATE.size)
        with open(state_path, "r+b") as file:
            self._state = mmap.mmap(file.fileno(), _STATE.size)
        view = memoryview(self._state)
        # One-item typed views: storing into one is a plain subscript, cheaper than a
        # `pack_into` call, which matters for the count every request updates twice.
        self._beat = view[: _BEAT.size].cast("d")
        #: `in_flight[0] = count`: the number of requests in flight.
        self.in_flight = view[_BEAT.size : _STATE.size].cast("q")

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "pid": self.pid, **fields}, default=str) + "\n"
        os.write(self._events, line.encode())

    def beat(self, when: float) -> None:
        self._beat[0] = when


class ServerChannel:
    """The pytest process's end: reads what every worker of one server wrote."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._offsets: dict[Path, int] = {}
        self._maps: dict[int, mmap.mmap] = {}
        self._listed = 0.0
        # The stall watcher's thread and the test's own (drain, settle) both read states.
        self._lock = threading.Lock()

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
        """What each worker's state file holds now (mapped once, then read in place)."""
        with self._lock:
            return self._states()

    def _states(self) -> dict[int, WorkerState]:
        now = time.monotonic()
        if now - self._listed >= _LIST_EVERY:
            # Listing the directory costs more than reading every state: not each time.
            self._listed = now
            for path in self.directory.glob("*.state"):
                pid = int(path.stem)
                if pid not in self._maps:
                    with open(path, "rb") as file:
                        # A worker creates its file, then fills it: one listed in between
                        # is too short to map yet, and is mapped at a later listing.
                        if os.fstat(file.fileno()).st_size >= _STATE.size:
                            self._maps[pid] = mmap.mmap(file.fileno(), _STATE.size, access=mmap.ACCESS_READ)
        return {pid: WorkerState(pid, *_STATE.unpack_from(state)) for pid, state in self._maps.items()}

    def close(self) -> None:
        with self._lock:
            for state in self._maps.values():
                state.close()
            self._maps.clear()


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
