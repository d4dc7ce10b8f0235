"""Watching a server's workers from the pytest process: a worker whose loop beat is
overdue is stalled right now, and is asked (a signal) for its stack, again and again
until it beats.  Nothing of this runs inside the worker while its loop is healthy."""

from __future__ import annotations

import os
import threading
import time

from pytest_asyncsafe.channel import SAMPLE_SIGNAL, ServerChannel, WorkerState, beat_interval

#: Samples taken of one stall at most; the stall itself is timed to its end.
MAX_SAMPLES = 100


class Watcher:
    def __init__(self, channel: ServerChannel, threshold: float) -> None:
        self.channel = channel
        self.interval = beat_interval(threshold)
        # A beat this late means a stall of at least half the threshold: time to look.
        self.overdue_after = threshold / 2
        self.sample_every = max(threshold / 4, 0.005)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="asyncsafe-watcher", daemon=True)
        #: Per worker: (the overdue beat's due time, samples asked for) while it is stalled.
        self._stalled: dict[int, tuple[float, int]] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def stalled_since(self, state: WorkerState, now: float) -> float | None:
        """When the worker's loop missed a beat, if it is stalled at `now`."""
        due = state.last_beat + self.interval
        return due if state.last_beat > 0 and now - due >= self.overdue_after else None

    def _run(self) -> None:
        while not self._stopped.wait(self.overdue_after / 2):
            now = time.monotonic()
            for pid, state in self.channel.states().items():
                due = self.stalled_since(state, now)
                if due is None:
                    self._stalled.pop(pid, None)
                    continue
                since, asked = self._stalled.get(pid, (due, 0))
                if since != due:
                    since, asked = due, 0
                if asked < MAX_SAMPLES and now - due >= self.overdue_after + asked * self.sample_every:
                    self._ask(pid)
                    asked += 1
                self._stalled[pid] = (since, asked)

    def _ask(self, pid: int) -> None:
        try:
            os.kill(pid, SAMPLE_SIGNAL)
        except ProcessLookupError:
            pass
