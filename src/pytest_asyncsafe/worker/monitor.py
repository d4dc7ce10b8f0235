"""The loop monitor: a thread that measures how long the event loop takes to answer.

Every `interval` it asks the loop to run a tiny callback (`call_soon_threadsafe`) and
waits for it.  A loop that does not answer within `threshold` is stalled - whatever
the cause: `time.sleep`, a CPU loop, sync I/O, C code holding the GIL.  While it is
stalled the thread samples the loop thread's stack (`sys._current_frames`), so the
report can point at the blocking line.  This works the same under asyncio and uvloop,
since it needs nothing from the loop but `call_soon_threadsafe`.

A stall is reported twice: as `stall-begin` as soon as it is seen (so the pytest
process knows about a stall still going on when a test ends) and as `stall` with its
measured length once the loop answers again.
"""

from __future__ import annotations

import asyncio
import functools
import linecache
import sys
import sysconfig
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_asyncsafe.channel import WorkerChannel

#: Longest a stall's stack is sampled for; the stall itself is timed to its end.
MAX_SAMPLES = 200
_LIBRARY_DIRS = tuple(
    str(Path(p).resolve()) for p in {sysconfig.get_path("stdlib"), sysconfig.get_path("purelib"),
                                     sysconfig.get_path("platlib")}  # fmt: skip
)
_OWN_DIR = str(Path(__file__).resolve().parents[1])


class LoopMonitor:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        channel: WorkerChannel,
        threshold: float,
        requests: Callable[[], list[dict[str, Any]]],
        phase: Callable[[], str],
    ) -> None:
        self.loop = loop
        self.channel = channel
        self.threshold = threshold
        # Heartbeats often enough to time a stall to within a fifth of the threshold,
        # rarely enough to cost nothing measurable (100 wakeups a second at most).
        self.interval = min(max(threshold / 5, 0.001), 0.01)
        self.requests = requests
        self.phase = phase
        self._loop_thread = threading.get_ident()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="asyncsafe-loop-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            answered = threading.Event()
            answers: list[float] = []

            def heartbeat() -> None:
                now = time.monotonic()
                # Written from the loop's own thread, so the pytest process sees the loop
                # answer at once, even before this thread has woken up to notice.
                self.channel.answered(now)
                answers.append(now)
                answered.set()

            sent = time.monotonic()
            try:
                self.loop.call_soon_threadsafe(heartbeat)
            except RuntimeError:  # the loop is closed: the worker is exiting
                return
            if answered.wait(self.threshold):
                if answers[0] - sent >= self.threshold:
                    # This thread could not even run while the loop was stalled: C code
                    # held the GIL the whole time, so there is no stack to show.
                    self._report(sent, answers[0], [], self.requests(), self.phase())
            elif not self._follow_stall(sent, answered, answers):
                return
            self._stopped.wait(self.interval)

    def _follow_stall(self, since: float, answered: threading.Event, answers: list[float]) -> bool:
        """Sample the stack until the loop answers; False if the monitor was stopped first."""
        # What was in flight when the stall was seen, not what is left once it is over -
        # read first: sampling the stack reads source files, which lets the loop thread run
        # on (and finish a short stall's request) in the meantime.
        requests, phase = self.requests(), self.phase()
        self.channel.stalled_since(since)
        samples = [self._sample()]
        self.channel.emit("stall-begin", start=since, phase=phase, requests=requests, stack=samples[0])
        sample_every = max(self.threshold / 10, 0.005)
        while not answered.wait(sample_every):
            if self._stopped.is_set():
                return False
            if len(samples) < MAX_SAMPLES:
                samples.append(self._sample())
        self.channel.stalled_since(0.0)
        # Ends when the loop ran the heartbeat, not when this thread got to notice it.
        self._report(since, answers[0], samples, requests, phase)
        return True

    def _report(
        self, start: float, end: float, samples: list[list[dict[str, Any]]], requests: list[dict[str, Any]], phase: str
    ) -> None:
        self.channel.emit(
            "stall",
            start=start,
            end=end,
            duration=end - start,
            phase=phase,
            requests=requests,
            stack=_most_common(samples) if samples else [],
            samples=len(samples),
        )

    def _sample(self) -> list[dict[str, Any]]:
        """The loop thread's stack, outermost first.  Walked by hand rather than with
        `traceback.extract_stack`, which stats every file of the stack for each sample:
        while the loop holds the GIL each system call costs this thread a switch interval,
        and a CPU-bound stall would get a handful of samples instead of one every tick."""
        frame = sys._current_frames().get(self._loop_thread)
        frames = []
        while frame is not None:
            frames.append((frame.f_code.co_filename, frame.f_lineno or 0, frame.f_code.co_name))
            frame = frame.f_back
        stack = []
        for file, line, name in reversed(frames):
            code = linecache.getline(file, line).strip()
            stack.append({"file": file, "line": line, "function": name, "code": code, "user": _is_user(file)})
        return stack


@functools.cache
def _is_user(filename: str) -> bool:
    path = str(Path(filename).resolve()) if not filename.startswith("<") else filename
    return not (filename.startswith("<") or path.startswith(_LIBRARY_DIRS) or path.startswith(_OWN_DIR))


def _most_common(samples: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The stack seen most often while the loop was stalled, judged by its innermost user
    frame: the line that kept the loop busy for most of the stall."""
    def key(stack: list[dict[str, Any]]) -> tuple[str, int]:
        user = [f for f in stack if f["user"]]
        innermost = user[-1] if user else (stack[-1] if stack else {"file": "", "line": 0})
        return innermost["file"], innermost["line"]

    counts = Counter(key(stack) for stack in samples)
    best = counts.most_common(1)[0][0]
    return next(stack for stack in reversed(samples) if key(stack) == best)
