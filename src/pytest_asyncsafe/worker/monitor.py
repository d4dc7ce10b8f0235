"""The loop monitor, inside each worker: a heartbeat the loop runs itself, and a
stack sampler the pytest process triggers.

The heartbeat is a timer callback (`call_later`) that records when it ran.  When the
loop was stalled - by `time.sleep`, a CPU loop, sync I/O, C code holding the GIL,
whatever the cause - the timer runs late, and its lateness is the stall's length to
within one beat: the beat that comes late reports the stall.  This costs the loop one
tiny callback per beat and nothing else: no thread in the worker competes with the
loop for the GIL, under asyncio and uvloop alike.  A beat can also come late because
the machine is busy and the kernel ran something else: Linux counts that time (the
thread's run-queue wait), and a stall is judged by the rest, the loop's own time.

While a loop is stalled it cannot report anything, so the pytest process watches the
beats from outside (`pytest_asyncsafe.watch`) and, when one is overdue, sends the
worker `SAMPLE_SIGNAL`.  Python runs the handler in the main thread - the loop's - at
the next bytecode, with the frame that was running: the stack of the blocking code.
A blocking system call such as `sleep` or `recv` is interrupted, sampled and resumed.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from pytest_asyncsafe.channel import SAMPLE_SIGNAL, WorkerChannel, beat_interval
from pytest_asyncsafe.worker.tasks import every_task

Requests = Callable[[float], list[dict[str, Any]]]


class LoopMonitor:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        channel: WorkerChannel,
        threshold: float,
        requests: Requests,
        phase: Callable[[float], str],
    ) -> None:
        self.loop = loop
        self.channel = channel
        self.threshold = threshold
        self.interval = beat_interval(threshold)
        self.requests = requests
        self.phase = phase
        self._due = 0.0
        self._run_queue = RunQueueClock()
        self._waited = 0.0
        #: The outermost frame of the callback the last sample caught, and its number:
        #: held, so that no other frame can take its place (and its id) meanwhile.
        self._callback: FrameType | None = None
        self._callbacks = 0
        #: Whether a sample is being taken: a signal that comes meanwhile would sample the
        #: sampler (its stack is the handler's, its callback the one being sampled).
        self._sampling = False

    def start(self) -> None:
        """Called in the loop's (main) thread, where signal handlers must be set."""
        signal.signal(SAMPLE_SIGNAL, self._sample)
        self._run_queue.open()
        self._due = time.monotonic()
        self._beat()

    def _beat(self) -> None:
        now = time.monotonic()
        self.channel.beat(now)
        waited, self._waited = self._waited, self._run_queue.waited()
        # Time the kernel kept the loop's thread waiting for a CPU (a busy machine) is not
        # the app's doing: a beat that is late mostly for that is no stall.
        descheduled = max(self._waited - waited, 0.0)
        if now - self._due - descheduled >= self.threshold:
            self.channel.emit(
                "stall",
                start=self._due,
                end=now,
                descheduled=descheduled,
                phase=self.phase(self._due),
                requests=self.requests(self._due),
            )
        self._due = now + self.interval
        self.loop.call_later(self.interval, self._beat)

    def _sample(self, signum: int, frame: FrameType | None) -> None:
        if self._sampling:
            return
        self._sampling = True
        try:
            self._take_sample(frame)
        finally:
            self._sampling = False

    def _take_sample(self, frame: FrameType | None) -> None:
        # A busy loop's stack says what blocks it; an idle loop's (a hung shutdown waits
        # on nothing but its tasks) says nothing, and then the tasks say what it awaits.
        # Only then: describing every task would stall a busy loop further.
        tasks = every_task(self.loop) if _idle(frame) else []
        frames = []
        while frame is not None:
            frames.append(frame)
            frame = frame.f_back
        frames.reverse()
        stack = [(f.f_code.co_filename, f.f_lineno or 0, f.f_code.co_name) for f in frames]
        callback = _callback(frames)
        if callback is not self._callback:
            self._callback, self._callbacks = callback, self._callbacks + 1
        now = time.monotonic()
        self.channel.emit(
            "sample",
            time=now,
            stack=stack,
            requests=self.requests(now),
            tasks=tasks,
            callback=self._callbacks if callback is not None else 0,
        )


class RunQueueClock:
    """How long the calling thread has waited, runnable, for a CPU (Linux's schedstat);
    always 0 where the kernel does not say."""

    def __init__(self) -> None:
        self._fd = -1

    def open(self) -> None:
        """In the thread to be measured: `thread-self` is the opener's."""
        try:
            self._fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._fd = -1

    def waited(self) -> float:
        if self._fd < 0:
            return 0.0
        # `<on-cpu ns> <run-queue wait ns> <timeslices>`
        return int(os.pread(self._fd, 64, 0).split()[1]) / 1e9


#: The loop's own code: asyncio's runner, loop and the callbacks it runs itself, and the
#: selector it waits in.
_LOOP = (os.path.dirname(asyncio.__file__) + os.sep, selectors.__file__)


def _callback(frames: list[FrameType]) -> FrameType | None:
    """The outermost frame of the callback the loop is running: the first one inward of
    the loop's own (asyncio's runner and loop; uvloop runs callbacks from C, right under
    the runner).  It stays the same for as long as one callback runs, whatever that calls;
    a task keeps its coroutine's frame from one step to the next.  None outside any."""
    inside_loop = False
    for frame in frames:
        if frame.f_code.co_filename.startswith(_LOOP):
            inside_loop = True
        elif inside_loop:
            return frame
    return None


def _idle(frame: FrameType | None) -> bool:
    """Whether the loop was waiting for events: in the selector (asyncio), or out of Python
    altogether in uvloop's run loop (the innermost Python frame is then asyncio's runner)."""
    if frame is None:
        return False
    file = frame.f_code.co_filename
    return file.endswith(("selectors.py", f"asyncio{os.sep}runners.py"))
