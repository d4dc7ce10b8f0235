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

While a loop is stalled it cannot report anything, so each beat arms a kernel timer
(`setitimer`) to go off once the next beat is overdue, and every few milliseconds after
that until a beat disarms it: a loop that beats on time never hears it.  Python runs
the handler in the main thread - the loop's - at the next bytecode, with the frame that
was running: the stack of the blocking code.  A blocking system call such as `sleep` or
`recv` is interrupted, sampled and resumed.  The kernel keeps time, not another
process: samples come on time however busy the pytest process is (its load generator
once held off a watcher thread there for 100 ms, and a gap that long in the samples can
hide which callback ran).  The pytest process may ask for a sample too (`SAMPLE_SIGNAL`:
the drain check does, of a worker that will not exit).
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import os
import selectors
import signal
import sys
import threading
import time
from collections import deque
from types import FrameType
from typing import Any, NamedTuple, Protocol

from pytest_asyncsafe.channel import (
    MAX_SAMPLES,
    SAMPLE_SIGNAL,
    WorkerChannel,
    beat_interval,
    overdue_after,
    sample_every,
)
from pytest_asyncsafe.events import SampleTaken, StallOver
from pytest_asyncsafe.saturation import lag_bucket
from pytest_asyncsafe.worker.tasks import every_task

#: What the kernel's real-time interval timer (`ITIMER_REAL`) sends.  An app that uses
#: `signal.alarm` or `setitimer` itself would take it over: none that serves ASGI should.
TIMER_SIGNAL = signal.SIGALRM


class Served(Protocol):
    """What the worker serves, as the monitor reports it."""

    def requests(self, since: float) -> list[dict[str, Any]]:
        """Every request in flight at any time since `since`."""

    def running(self) -> dict[str, Any] | None:
        """The request whose code runs now, if any."""

    def phase(self, at: float) -> str:
        """The phase at `at`: startup until the app was ready, then serving."""


class LoopMonitor:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, channel: WorkerChannel, threshold: float, served: Served
    ) -> None:
        self.loop = loop
        self.channel = channel
        self.threshold = threshold
        self.interval = beat_interval(threshold)
        self.served = served
        self._overdue_after = overdue_after(threshold)
        self._sample_every = sample_every(threshold)
        #: Samples the timer took since the last beat: a stall longer than MAX_SAMPLES of
        #: them is timed to its end all the same, without more.
        self._timed = 0
        self._next_beat: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._run_queue = RunQueueClock()
        self._collector = CollectorClock()
        #: Run-queue wait (see `RunQueueClock`) a stall is not charged with: all of it up to
        #: the last beat, and since then what the sampler's own wake-ups cost.
        self._excused = 0.0
        #: When the loop's thread was last read (a beat or a sample), and its clock then.
        self._read_at = 0.0
        self._reading = SchedReading(0.0, 0.0)
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
        signal.signal(TIMER_SIGNAL, self._sample)
        # The interpreter sets the signal's default action (to terminate) back as it
        # exits: a timer still armed then would kill the worker.
        atexit.register(_disarm)
        self._run_queue.open()
        self._collector.open()
        self._due = self._read_at = time.monotonic()
        self._reading = self._run_queue.read()
        self._excused = self._reading.waited
        self._beat()

    def stop(self) -> None:
        """No more beats, no more timer (the app has shut down)."""
        if self._next_beat is not None:
            self._next_beat.cancel()
        _disarm()

    def _beat(self) -> None:
        now = time.monotonic()
        reading = self._run_queue.read()
        self.channel.beat(now, reading.waited)
        # Every beat's lateness, counted: the loop lag a load run reports (see `saturation`).
        self.channel.lags[lag_bucket(now - self._due)] += 1
        # Time the kernel kept the loop's thread waiting for a CPU (a busy machine) is not
        # the app's doing: a beat that is late mostly for that is no stall.
        descheduled = max(reading.waited - self._excused, 0.0)
        self._read_at, self._reading, self._excused = now, reading, reading.waited
        if now - self._due - descheduled >= self.threshold:
            self.channel.emit(
                StallOver(
                    self.channel.pid,
                    start=self._due,
                    end=now,
                    descheduled=descheduled,
                    collecting=self._collector.pauses_since(self._due),
                    phase=self.served.phase(self._due),
                    requests=self.served.requests(self._due),
                )
            )
        self._due = now + self.interval
        self._next_beat = self.loop.call_later(self.interval, self._beat)
        # Off once this beat is overdue, then every few ms: until the next beat re-arms it.
        signal.setitimer(signal.ITIMER_REAL, self.interval + self._overdue_after, self._sample_every)
        self._timed = 0

    def _sample(self, signum: int, frame: FrameType | None) -> None:
        if signum == TIMER_SIGNAL:
            self._timed += 1
            if self._timed > MAX_SAMPLES:
                _disarm()
                return
        if self._sampling:
            return
        self._sampling = True
        try:
            self._take_sample(frame, asked=signum == SAMPLE_SIGNAL)
        finally:
            self._sampling = False

    def _take_sample(self, frame: FrameType | None, *, asked: bool) -> None:
        # A busy loop's stack says what blocks it; an idle loop's (a hung shutdown waits
        # on nothing but its tasks) says nothing, and then the tasks say what it awaits.
        # Only when the pytest process asks (the drain check): a stalled loop's timer
        # samples can catch it idle too (another thread held the GIL), and describing
        # every task then - with their origins, at startup - was a stall of its own.
        now = time.monotonic()
        reading = self._run_queue.read()
        self._excused += woken_wait(
            now - self._read_at, reading.on_cpu - self._reading.on_cpu, reading.waited - self._reading.waited
        )
        self._read_at, self._reading = now, reading
        self.channel.excuse(self._excused)
        tasks = every_task(self.loop) if asked and _idle(frame) else []
        frames = _outermost_first(frame)
        stack = _places(frames)
        callback = _callback(frames)
        if callback is not self._callback:
            self._callback, self._callbacks = callback, self._callbacks + 1
        # The request running, not every one in flight: under load a sample comes every
        # few milliseconds, and must cost the loop next to nothing.
        self.channel.emit(
            SampleTaken(
                self.channel.pid,
                time=now,
                stack=stack,
                running=self.served.running(),
                in_flight=self.channel.in_flight[0],
                tasks=tasks,
                callback=self._callbacks if callback is not None else 0,
                threads=_other_threads() if _held_off(frame) else [],
            )
        )


#: This plugin's own code, the monitor's and its channel's.
_OWN = os.path.dirname(os.path.dirname(__file__)) + os.sep


def _held_off(frame: FrameType | None) -> bool:
    """Whether a sample caught the loop's thread where a signal found it waiting for the
    GIL rather than running code: in the monitor's own (its beat, a write to the channel)
    or idle."""
    return frame is not None and (frame.f_code.co_filename.startswith(_OWN) or _idle(frame))


def _outermost_first(frame: FrameType | None) -> list[FrameType]:
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    frames.reverse()
    return frames


def _places(frames: list[FrameType]) -> list[tuple[str, int, str]]:
    return [(f.f_code.co_filename, f.f_lineno or 0, f.f_code.co_name) for f in frames]


def _other_threads() -> list[dict[str, Any]]:
    """The worker's other threads, their stacks outermost first: for a sample that was
    `_held_off`.  A timer signal is handled once the loop's thread holds the GIL again;
    kept waiting for it, that thread waited for another that held it, and which one did,
    the pytest process tells from whose code they were in."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    threads = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        threads.append({"name": names.get(ident, str(ident)), "stack": _places(_outermost_first(frame))})
    return threads


def _disarm() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)


class CollectorClock:
    """When the garbage collector paused the interpreter, lately.  A full collection of a
    server's heap under load takes 50-120 ms (measured: FastAPI's fixtures_app at 300
    concurrent requests, CPython 3.11, every half second or so) and stops the loop like
    a blocking call: but no line of the app's is to blame, and it is reported apart."""

    #: Shorter pauses are not kept: they make no stall of their own.
    FLOOR = 0.005

    def __init__(self) -> None:
        self._started = 0.0
        self._pauses: deque[tuple[float, float]] = deque(maxlen=32)

    def open(self) -> None:
        gc.callbacks.append(self._note)

    def _note(self, phase: str, info: dict[str, int]) -> None:
        # Called around every collection, the young ones (hundreds a second) included:
        # kept to a clock read and a comparison.
        now = time.monotonic()
        if phase == "start":
            self._started = now
        elif now - self._started >= self.FLOOR:
            self._pauses.append((self._started, now))

    def pauses_since(self, since: float) -> list[tuple[float, float]]:
        return [pause for pause in self._pauses if pause[1] > since]


class SchedReading(NamedTuple):
    """Seconds a thread has run on a CPU, and waited, runnable, for one, so far."""

    on_cpu: float
    waited: float


class RunQueueClock:
    """How long the calling thread has run and waited for a CPU (Linux's schedstat);
    always 0 where the kernel does not say."""

    def __init__(self) -> None:
        self._fd = -1

    def open(self) -> None:
        """In the thread to be measured: `thread-self` is the opener's."""
        try:
            self._fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._fd = -1

    def read(self) -> SchedReading:
        if self._fd < 0:
            return SchedReading(0.0, 0.0)
        # `<on-cpu ns> <run-queue wait ns> <timeslices>`
        on_cpu, waited = os.pread(self._fd, 64, 0).split()[:2]
        return SchedReading(int(on_cpu) / 1e9, int(waited) / 1e9)


def woken_wait(elapsed: float, on_cpu: float, waited: float) -> float:
    """The part of `waited`, the run-queue wait in the `elapsed` seconds up to a sample,
    that the sample's own signal caused: it woke a thread that slept (in `time.sleep`, a
    blocking read, a lock), and the thread waited for a CPU to run the handler while its
    sleep went on - a sleep that the kernel resumes to its original deadline.  That wait
    did not make the stall any longer, and charging the busy machine with it would hide
    a stall that is one.  A thread that did not sleep (a CPU loop, or one runnable all
    along on a busy machine) was woken by nothing: all its wait is the machine's."""
    slept = elapsed - on_cpu - waited
    return min(waited, slept) if slept > 0 else 0.0


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
