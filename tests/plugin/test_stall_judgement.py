"""Blocked or saturated: a late beat is a stall only when one callback held the loop for
the threshold (`Stall.blocked`), judged from the samples taken while the beat was overdue;
and the request named is the one whose callback that was."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import FrameType

import pytest

from pytest_asyncsafe.events import StallOver
from pytest_asyncsafe.stalls import Frame, Sample, Stall, during
from pytest_asyncsafe.worker import monitor

HANDLER = Frame("app.py", 10, "handler")
BLOCKING = Frame("app.py", 20, "blocking")
THRESHOLD = 0.1
#: Samples come every 5 ms while a beat is overdue (the watcher's pace at the 20 ms floor).
EVERY = 0.005


def sample(at: float, callback: int, request: int = 0, frame: Frame = HANDLER) -> Sample:
    """A sample `at` s into the stall, in `callback` (0: none), with `request` running (0: none)."""
    running = {"id": request, "method": "GET", "path": f"/{request}", "responded": False} if request else None
    return Sample(4242, 100.0 + at, (frame,), running, 40, (), callback)


def saturated(start: float, end: float, first_callback: int = 100) -> list[Sample]:
    """A sample every 5 ms from `start` to `end`, each in a callback of its own."""
    count = round((end - start) / EVERY)
    return [sample(start + i * EVERY, first_callback + i, request=first_callback + i) for i in range(count)]


def stall(*samples: Sample, end: float = 0.3, collecting: tuple[tuple[float, float], ...] = ()) -> Stall:
    requests = [{"id": number, "method": "GET", "path": f"/{number}", "responded": False} for number in (1, 2, 3)]
    over = [(100.0 + a, 100.0 + b) for a, b in collecting]
    return Stall.from_event(StallOver(4242, 100.0, 100.0 + end, 0.0, over, "serving", requests), list(samples))


@pytest.mark.parametrize(
    ("samples", "blocked"),
    [
        pytest.param([], True, id="no-sample-cannot-tell"),
        pytest.param([sample(0.06, 11)], True, id="one-sample-cannot-tell"),
        pytest.param(saturated(0.01, 0.3), False, id="each-sample-a-new-callback"),
        pytest.param([sample(0.01 + i * EVERY, 0) for i in range(58)], False, id="no-callback-running"),
        # A task's step of 10 ms, caught twice in a row: far from the threshold.
        pytest.param(
            [*saturated(0.01, 0.1), sample(0.1, 7), sample(0.105, 7), *saturated(0.11, 0.3)],
            False,
            id="a-short-callback-caught-twice",
        ),
        # 130 ms of one callback amid saturation: from the sample before it to the one after.
        pytest.param(
            [*saturated(0.01, 0.1), *(sample(0.1 + i * EVERY, 7) for i in range(25)), *saturated(0.225, 0.3)],
            True,
            id="a-block-amid-saturation",
        ),
        # One callback from 0.2 s to the stall's end: bounded by the end.
        pytest.param(
            [*saturated(0.01, 0.2), *(sample(0.2 + i * EVERY, 7) for i in range(20))], True, id="a-block-at-the-end"
        ),
        # Samples 120 ms apart cannot rule out a block between them.
        pytest.param([sample(0.06, 11), sample(0.18, 12), sample(0.185, 13)], True, id="a-gap-in-the-samples"),
    ],
)
def test_a_late_beat_is_blocked_only_when_one_callback_could_have_held_it_for_the_threshold(
    samples: list[Sample], blocked: bool
) -> None:
    assert stall(*samples).blocked(THRESHOLD) is blocked


def test_the_bound_is_held_against_the_threshold_asked_for() -> None:
    # A 40 ms callback: a stall at a 20 ms threshold, not at 100 ms.
    late = stall(*saturated(0.01, 0.1), *(sample(0.1 + i * EVERY, 7) for i in range(7)), *saturated(0.135, 0.3))
    assert (late.blocked(0.02), late.blocked(0.1)) == (True, False)


def test_the_stalls_of_a_window_leave_saturation_out() -> None:
    blocked = stall(sample(0.06, 1), sample(0.2, 1))
    saturation = stall(*saturated(0.01, 0.3))
    assert during([blocked, saturation], 100.0, 101.0, THRESHOLD) == [blocked]


def test_the_request_and_line_named_are_those_of_the_callback_that_blocked() -> None:
    # Under load most samples catch other requests, in the middleware (HANDLER); the block
    # is request 2's, at BLOCKING.
    samples = [
        *saturated(0.01, 0.1, first_callback=100),
        *(sample(0.1 + i * EVERY, 7, request=2, frame=BLOCKING) for i in range(25)),
        *saturated(0.225, 0.3, first_callback=200),
    ]
    late = stall(*samples)
    assert late.blocked(THRESHOLD)
    assert late.blocking_frame == BLOCKING
    assert late.requests == (
        {"id": 2, "method": "GET", "path": "/2", "responded": False, "running": True},
        {"id": 1, "method": "GET", "path": "/1", "responded": False, "running": False},
        {"id": 3, "method": "GET", "path": "/3", "responded": False, "running": False},
    )
    # The count is of those in flight while it blocked (40, the samples say), the list the
    # worker's own (every request it knew of since the stall began).
    assert late.waited == 39


def test_a_stall_still_going_on_names_the_blocking_request_and_counts_the_rest_in_flight() -> None:
    samples = [sample(0.05 + i * EVERY, 7, request=2, frame=BLOCKING) for i in range(10)]
    late = Stall.going_on(4242, 100.0, "serving", samples, descheduled=0.0)
    assert late.requests == ({"id": 2, "method": "GET", "path": "/2", "responded": False, "running": True},)
    assert late.waited == 39  # 40 in flight, one of them blocking
    assert late.blocking_frame == BLOCKING


def test_a_stall_still_going_on_is_not_charged_the_time_its_thread_waited_for_a_cpu() -> None:
    # Seen on a machine running three suites on two cores: a worker's loop, unscheduled
    # for half a second, was reported as "blocked for at least 548 ms" by nothing at all.
    starved = Stall.going_on(4242, 100.0, "serving", [], descheduled=0.45)
    assert starved.own_time(now=100.5) == pytest.approx(0.05)
    assert starved.duration(now=100.5) == pytest.approx(0.5)


def test_a_pause_of_the_garbage_collector_is_no_block_of_the_app() -> None:
    # No sample lands while the collector runs: the 110 ms gap it leaves is its own.
    gap = [*saturated(0.01, 0.1), *saturated(0.21, 0.3, first_callback=200)]
    assert stall(*gap).blocked(THRESHOLD)
    collected = stall(*gap, collecting=((0.1, 0.205),))
    assert not collected.blocked(THRESHOLD)
    assert collected.collected == pytest.approx(0.105)
    assert collected.own_time() == pytest.approx(0.3 - 0.105)
    # A block of the app's own beside a pause still stands, its bound less the pause.
    block = [*saturated(0.01, 0.05), *(sample(0.05 + i * EVERY, 7) for i in range(30)), *saturated(0.2, 0.3)]
    assert stall(*block, collecting=((0.12, 0.16),)).blocked(THRESHOLD)


# --- held off the GIL: the loop's thread waited in the monitor's beat for another thread ------

MONITOR = Frame(str(Path(monitor.__file__)), 120, "_beat")
IDLE = (Frame(threading.__file__, 320, "wait"),)
WRITING = (Frame("app/resources.py", 70, "prepare_workspace"), Frame("app/resources.py", 85, "write_catalog"))


def held_off(at: float, *threads: tuple[str, tuple[Frame, ...]], frame: Frame = MONITOR) -> Sample:
    return Sample(4242, 100.0 + at, (frame,), None, 0, (), 9, threads)


def test_a_loop_held_off_the_gil_is_blocked_by_the_thread_whose_code_ran_then() -> None:
    late = stall(*(held_off(0.01 + i * EVERY, ("pool-1", IDLE), ("seeder", WRITING)) for i in range(40)))
    assert late.blocked(THRESHOLD)
    assert (late.thread, late.stack, late.blocking_frame) == ("seeder", WRITING, WRITING[-1])
    assert late.where(Path("/")) == "app/resources.py:85 in write_catalog (in thread 'seeder', holding the GIL)"
    assert late.to_json(Path("/"), None)["thread"] == "seeder"


def test_the_loops_own_line_is_the_culprit_when_it_ran_the_users_code() -> None:
    # Other threads are described only for a loop caught outside the user's code: one
    # caught in it is its own culprit, whatever the threads did.
    late = stall(*(held_off(0.01 + i * EVERY, ("seeder", WRITING), frame=BLOCKING) for i in range(40)))
    assert (late.thread, late.blocking_frame, late.where(Path("/"))) == (None, BLOCKING, "app.py:20 in blocking")
    # And with no thread in the user's code either, the loop's own frame stays.
    idle = stall(*(held_off(0.01 + i * EVERY, ("pool-1", IDLE)) for i in range(40)))
    assert (idle.thread, idle.blocking_frame) == (None, MONITOR)


def test_a_sample_held_off_the_gil_carries_the_other_threads_stacks() -> None:
    started, stop = threading.Event(), threading.Event()

    def seeding() -> None:
        started.set()
        stop.wait()  # the seeder's line

    thread = threading.Thread(target=seeding, name="seeder")
    thread.start()
    try:
        started.wait()
        threads = {name: stack for name, stack in ((t["name"], t["stack"]) for t in monitor._other_threads())}
    finally:
        stop.set()
        thread.join()
    assert threading.current_thread().name not in threads
    assert [function for _, _, function in threads["seeder"]][-3:] == ["seeding", "wait", "wait"]

    # Taken only where the loop's thread was kept waiting: in the monitor's code, or idle.
    def beat() -> FrameType:
        return sys._getframe()

    beat.__code__ = beat.__code__.replace(co_filename=monitor.__file__)  # a frame of the monitor's code
    assert monitor._held_off(beat())
    assert (monitor._held_off(sys._getframe()), monitor._held_off(None)) == (False, False)


def test_a_request_that_blocked_before_its_response_is_not_called_a_background_task() -> None:
    # The same callback sleeps, then sends the response: a last sample may catch it after
    # the response started, which says nothing of when it blocked.
    before = Sample(4242, 100.06, (BLOCKING,), {"id": 1, "method": "GET", "path": "/1", "responded": False}, 1, (), 7)
    after = Sample(4242, 100.16, (BLOCKING,), {"id": 1, "method": "GET", "path": "/1", "responded": True}, 1, (), 7)
    [request] = [r for r in stall(before, after).requests if r["running"]]
    assert (request["path"], request["responded"]) == ("/1", False)


@pytest.mark.parametrize(
    ("elapsed", "on_cpu", "waited", "woken"),
    [
        # Asleep (time.sleep) when the sampler's signal came: the wait to run the handler
        # went by while the sleep went on, so the stall is charged with it.
        (0.025, 0.001, 0.010, 0.010),
        # Asleep for less time than it then waited: only as much as it slept overlapped.
        (0.025, 0.001, 0.020, 0.004),
        # Runnable all along on a busy machine (an idle loop the kernel did not run).
        (0.100, 0.000, 0.100, 0.0),
        # A CPU loop the kernel preempted: its wait made the stall longer.
        (0.025, 0.015, 0.010, 0.0),
    ],
)
def test_the_wait_a_sample_caused_is_not_the_busy_machines(
    elapsed: float, on_cpu: float, waited: float, woken: float
) -> None:
    assert monitor.woken_wait(elapsed, on_cpu, waited) == pytest.approx(woken)
