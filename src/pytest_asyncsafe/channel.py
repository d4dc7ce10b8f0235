"""How worker events reach the pytest process.

Each Uvicorn worker owns two files in the server's channel directory:

- `<pid>.jsonl`: events, one JSON object per line, appended (ready, stall, sample...).
- `<pid>.state`: numbers the worker overwrites in place through `mmap`, cheap enough
  to update on every heartbeat and every request: when the loop last beat (and how
  long its thread had waited for a CPU by then), how many requests are in flight and
  how many it has received, its
  beats so far counted by lateness (a histogram, see `saturation`), and its thread
  limiter's counts (see `threadpool`).

A stalled worker samples its own stack (a kernel timer, see `worker.monitor`), and the
pytest process may ask for a sample at any time with `SAMPLE_SIGNAL`; either comes back
as a `sample` event.

Every write is lock-free - one `os.write` to an `O_APPEND` file, or one store into a
typed view of the mapped state - so the stack-sampling signal handler may write while
the loop thread was writing too.
Every timestamp is `time.monotonic()`, which on Linux is one clock for every process
of the machine: the pytest process compares worker events with its own test windows
directly, whichever side recorded them.
"""

from __future__ import annotations

import mmap
import os
import signal
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pytest_asyncsafe.events import Event, decode, encode
from pytest_asyncsafe.saturation import LAG_BUCKETS
from pytest_asyncsafe.threadpool import SIZE as THREADPOOL_SIZE
from pytest_asyncsafe.threadpool import ThreadPoolReading

#: A signal whose default action is to be ignored - so one that arrives before the
#: handler is set, or after the interpreter dropped it on the way out, does no harm -
#: and that a web server never gets otherwise (only a socket owner set with F_SETOWN
#: receives SIGURG for out-of-band data).
SAMPLE_SIGNAL = signal.SIGURG

_BEAT = struct.Struct("=dd")
#: Last beat, run-queue wait by then, requests in flight, requests received (native order:
#: the views' own).
_STATE = struct.Struct("=ddqq")
_LAGS = struct.Struct(f"={LAG_BUCKETS}q")  # beats by lag bucket, after the state
_THREADPOOL = struct.Struct(f"={THREADPOOL_SIZE}q")  # the thread limiter's counts, after the lags
_SIZE = _STATE.size + _LAGS.size + _THREADPOOL.size
#: How often the pytest process looks for the state files of new workers.
_LIST_EVERY = 0.05


#: Samples taken of one stall at most; the stall itself is timed to its end.
MAX_SAMPLES = 100


def beat_interval(threshold: float) -> float:
    """How often a worker's loop beats: often enough to time a stall to within a quarter
    of the threshold."""
    return min(max(threshold / 4, 0.001), 0.01)


def overdue_after(threshold: float) -> float:
    """How late a beat is when the loop is taken as stalled: a stall of at least half
    the threshold is going on, and its stack is worth sampling."""
    return threshold / 2


def sample_every(threshold: float) -> float:
    """How often a stalled loop's stack is sampled: at least four samples in a stall as
    long as the threshold."""
    return max(threshold / 4, 0.005)


@dataclass(frozen=True, slots=True)
class WorkerState:
    pid: int
    last_beat: float
    #: Seconds of the loop's thread's wait for a CPU (see `saturation.run_queue_seconds`)
    #: that a stall going on is not charged with: all of it by the last beat, and what the
    #: monitor's samples cost since (see `monitor.woken_wait`).
    waited: float
    in_flight: int
    #: Requests (and websockets) the app has received so far.
    received: int


def stalled_since(state: WorkerState, threshold: float, now: float) -> float | None:
    """When the worker's loop missed a beat, if it is stalled at `now`."""
    due = state.last_beat + beat_interval(threshold)
    return due if state.last_beat > 0 and now - due >= overdue_after(threshold) else None


class WorkerChannel:
    """The worker's end."""

    def __init__(self, directory: Path, pid: int) -> None:
        self.pid = pid
        self._events = os.open(directory / f"{pid}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        state_path = directory / f"{pid}.state"
        state_path.write_bytes(b"\0" * _SIZE)
        with open(state_path, "r+b") as file:
            self._state = mmap.mmap(file.fileno(), _SIZE)
        view = memoryview(self._state)
        # One-item typed views: storing into one is a plain subscript, cheaper than a
        # `pack_into` call, which matters for the count every request updates twice.
        self._beat = view[: _BEAT.size].cast("d")
        #: `in_flight[0] = count`: the number of requests in flight; `received[0] += 1`: one more.
        self.in_flight = view[_BEAT.size : _BEAT.size + 8].cast("q")
        self.received = view[_BEAT.size + 8 : _STATE.size].cast("q")
        #: `lags[lag_bucket(lag)] += 1`: one more beat that came `lag` late.
        self.lags = view[_STATE.size : _STATE.size + _LAGS.size].cast("q")
        #: The thread limiter's counts, laid out as `threadpool.ThreadPoolReading.unpack` reads them.
        self.threadpool = view[_STATE.size + _LAGS.size : _SIZE].cast("q")

    def emit(self, event: Event) -> None:
        os.write(self._events, encode(event))

    def beat(self, when: float, waited: float) -> None:
        """The loop beat at `when`, its thread having waited `waited` seconds for a CPU so far."""
        self._beat[1] = waited
        self._beat[0] = when

    def excuse(self, waited: float) -> None:
        """Of its thread's wait for a CPU so far, `waited` seconds are not the stall's to
        be charged with (see `monitor.woken_wait`): the stall going on is charged with the rest."""
        self._beat[1] = waited


class ServerChannel:
    """The pytest process's end: reads what every worker of one server wrote."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._offsets: dict[Path, int] = {}
        self._maps: dict[int, mmap.mmap] = {}
        self._listed = 0.0
        # The load generator's thread and the test's own (drain, settle) both read states.
        self._lock = threading.Lock()

    def read_events(self) -> list[Event]:
        """Events written since the last call, complete lines only."""
        events: list[Event] = []
        for path in sorted(self.directory.glob("*.jsonl")):
            offset = self._offsets.get(path, 0)
            with open(path, "rb") as file:
                file.seek(offset)
                data = file.read()
            complete = data[: data.rfind(b"\n") + 1]
            self._offsets[path] = offset + len(complete)
            events.extend(decode(line) for line in complete.splitlines() if line.strip())
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
                        if os.fstat(file.fileno()).st_size >= _SIZE:
                            self._maps[pid] = mmap.mmap(file.fileno(), _SIZE, access=mmap.ACCESS_READ)
        return {pid: WorkerState(pid, *_STATE.unpack_from(state)) for pid, state in self._maps.items()}

    def lags(self, pid: int) -> tuple[int, ...]:
        """The worker's beats so far, by lag bucket (none for a worker not mapped yet)."""
        with self._lock:
            state = self._maps.get(pid)
            return _LAGS.unpack_from(state, _STATE.size) if state is not None else (0,) * LAG_BUCKETS

    def threadpool(self, pid: int) -> ThreadPoolReading | None:
        """The worker's thread limiter, as counted so far (None for a worker not mapped yet)."""
        with self._lock:
            state = self._maps.get(pid)
            if state is None:
                return None
            return ThreadPoolReading.unpack(_THREADPOOL.unpack_from(state, _STATE.size + _LAGS.size))

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
