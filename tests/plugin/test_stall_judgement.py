"""Blocked or saturated: a late beat is a stall only when one callback ran for it
(`Stall.saturated`), judged from the samples taken while the beat was overdue."""

from __future__ import annotations

import pytest

from pytest_asyncsafe.stalls import Frame, Sample, Stall, during

FRAME = Frame("app.py", 10, "handler")


def sample(at: float, request: int, callback: int) -> Sample:
    """A sample at `at` s into the stall, with `request` running (0: none) in `callback`."""
    requests = tuple(
        {"id": number, "method": "GET", "path": f"/{number}", "responded": False, "running": number == request}
        for number in (1, 2, 3)
    )
    return Sample(4242, 100.0 + at, (FRAME,), requests, (), callback)


def stall(*samples: Sample) -> Stall:
    return Stall.from_event(
        {"pid": 4242, "start": 100.0, "end": 100.15, "phase": "serving", "requests": [], "descheduled": 0.0},
        list(samples),
    )


@pytest.mark.parametrize(
    ("samples", "saturated"),
    [
        pytest.param([], False, id="no-sample"),
        pytest.param([sample(0.06, 1, 11)], False, id="one-sample-proves-nothing"),
        pytest.param([sample(0.06, 1, 11), sample(0.09, 1, 11)], False, id="one-callback-throughout"),
        pytest.param([sample(0.06, 1, 11), sample(0.09, 2, 22), sample(0.12, 3, 33)], True, id="each-a-new-request"),
        pytest.param([sample(0.06, 0, 11), sample(0.09, 0, 22)], True, id="plain-callbacks-in-turn"),
        # The same request, but a new callback: one of its steps, then another.
        pytest.param([sample(0.06, 1, 11), sample(0.09, 1, 12)], True, id="steps-of-one-request"),
        # Saturated, then one callback blocking across two samples: the stall stands.
        pytest.param(
            [sample(0.06, 2, 22), sample(0.08, 3, 33), sample(0.11, 1, 11), sample(0.14, 1, 11)],
            False,
            id="a-block-amid-saturation",
        ),
    ],
)
def test_a_late_beat_is_saturation_when_no_two_samples_in_a_row_caught_one_callback(
    samples: list[Sample], saturated: bool
) -> None:
    assert stall(*samples).saturated is saturated


def test_the_stalls_of_a_window_leave_saturation_out() -> None:
    blocked = stall(sample(0.06, 1, 11), sample(0.09, 1, 11))
    saturated = stall(sample(0.06, 1, 11), sample(0.09, 2, 22))
    assert during([blocked, saturated], 100.0, 101.0) == [blocked]
