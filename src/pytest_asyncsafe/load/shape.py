"""The shape of a load run, from the fixture's keywords: `LoadShape` (closed loop: so
many workers sending one request after another, for so many requests or so long; open
loop: a rate for a duration), `parse_shape`, which checks each keyword and names what
makes no sense in a `LoadUsageError`, and the hard limits on any run (`MAX_REQUESTS`,
`MAX_DURATION`, `MAX_CONCURRENCY`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pytest_asyncsafe.durations import parse_duration

#: Hard limits on any run, whatever it asks for.
MAX_REQUESTS = 1_000_000
MAX_DURATION = 300.0
#: Each connection is a socket of the pytest process: well under the usual 1024 files.
MAX_CONCURRENCY = 512
#: The connections an open-loop run may use when it does not say: enough for a 1000/s
#: run of 50 ms requests.  Idle ones cost nothing, and the most recently used is reused
#: first, so a slow rate keeps to a few (the server closes the others once they have
#: been idle its keep-alive timeout; they open again when needed).
OPEN_LOOP_CONCURRENCY = 64


class LoadUsageError(ValueError):
    """A load shape that makes no sense (`rate` without `duration`, `requests=0`, ...)."""


@dataclass(frozen=True)
class LoadShape:
    """How a run loads the server.  Closed loop: `concurrency` workers each sending one
    request after another, for `requests` in all or for `duration`.  Open loop: `rate`
    requests a second for `duration`, each timed from its scheduled start."""

    concurrency: int = 1
    requests: int | None = None
    duration: float | None = None
    rate: float | None = None
    #: Requests (int) or seconds (float) at the start that are not counted.
    warmup: int | float = 0
    #: Per request, in seconds.
    timeout: float = 10.0

    @property
    def open_loop(self) -> bool:
        return self.rate is not None

    def describe(self) -> str:
        if self.open_loop:
            return f"rate {self.rate:g}/s for {self.duration:g}s (<= {self.concurrency} connections)"
        amount = f"{self.requests} requests" if self.requests is not None else f"{self.duration:g}s"
        return f"{self.concurrency} concurrent, {amount}"


# --- the shape of a run, from keywords --------------------------------------------------------

SHAPE_KEYWORDS = ("concurrency", "requests", "duration", "rate", "warmup", "timeout")
#: Passed to `httpx.AsyncClient.build_request`.
REQUEST_KEYWORDS = ("headers", "params", "json", "content", "data", "cookies")


def parse_shape(**keywords: Any) -> tuple[LoadShape, dict[str, Any]]:
    """The run's shape, and the keywords that describe its request; LoadUsageError names
    what does not make sense."""
    for name in keywords:
        if name not in SHAPE_KEYWORDS and name not in REQUEST_KEYWORDS:
            raise LoadUsageError(
                f"asyncsafe_load: unknown keyword {name!r} (shape: {', '.join(SHAPE_KEYWORDS)}; "
                f"request: {', '.join(REQUEST_KEYWORDS)})"
            )
    request = {name: value for name, value in keywords.items() if name in REQUEST_KEYWORDS}
    rate = _rate(keywords["rate"]) if keywords.get("rate") is not None else None
    default_concurrency = OPEN_LOOP_CONCURRENCY if rate is not None else 1
    concurrency = _count(keywords.get("concurrency", default_concurrency), "concurrency", MAX_CONCURRENCY)
    requests = _count(keywords["requests"], "requests", MAX_REQUESTS) if keywords.get("requests") is not None else None
    duration = _seconds(keywords["duration"], "duration") if keywords.get("duration") is not None else None
    timeout = _seconds(keywords.get("timeout", LoadShape.timeout), "timeout")
    warmup = _warmup(keywords.get("warmup", 0))
    if rate is not None:
        if requests is not None:
            raise LoadUsageError(
                "asyncsafe_load: requests= and rate= do not go together: "
                "an open-loop run sends rate x duration requests"
            )
        if duration is None:
            raise LoadUsageError("asyncsafe_load: rate= needs duration= (how long to keep the rate up, e.g. '2s')")
        if scheduled_count(rate, duration) > MAX_REQUESTS:
            raise LoadUsageError(
                f"asyncsafe_load: rate= x duration= is {scheduled_count(rate, duration)} requests, "
                f"over the limit of {MAX_REQUESTS}"
            )
    elif requests is None and duration is None:
        raise LoadUsageError("asyncsafe_load: give requests= or duration=, e.g. requests=1000 or duration='2s'")
    elif requests is not None and duration is not None:
        raise LoadUsageError("asyncsafe_load: give requests= or duration=, not both")
    shape = LoadShape(concurrency, requests, duration, rate, warmup, timeout)
    return shape, request


def _count(value: object, name: str, limit: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise LoadUsageError(f"asyncsafe_load: {name}= must be a whole number, got {value!r}")
    if value < 1:
        raise LoadUsageError(f"asyncsafe_load: {name}= must be at least 1, got {value}")
    if value > limit:
        raise LoadUsageError(f"asyncsafe_load: {name}= is over the limit of {limit}, got {value}")
    return value


def _seconds(value: object, name: str) -> float:
    seconds = _duration(value, name)
    if seconds <= 0:
        raise LoadUsageError(f"asyncsafe_load: {name}= must be more than 0, got {value!r}")
    return seconds


def _duration(value: object, name: str) -> float:
    try:
        seconds = parse_duration(value, name)  # type: ignore[arg-type]
    except ValueError:
        raise LoadUsageError(
            f"asyncsafe_load: {name}= must be a duration such as '250ms', '2s' or 1.5 (seconds), got {value!r}"
        ) from None
    if seconds > MAX_DURATION:
        raise LoadUsageError(f"asyncsafe_load: {name}= is over the limit of {MAX_DURATION:g}s, got {value!r}")
    return seconds


def _rate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise LoadUsageError(f"asyncsafe_load: rate= must be a number of requests a second above 0, got {value!r}")
    return float(value)


def _warmup(value: object) -> int | float:
    """Requests (a whole number), or seconds (a duration: '500ms', 0.5); 0 for none."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise LoadUsageError(f"asyncsafe_load: warmup= cannot be negative, got {value}")
        if value > MAX_REQUESTS:
            raise LoadUsageError(f"asyncsafe_load: warmup= is over the limit of {MAX_REQUESTS}, got {value}")
        return value
    return _duration(value, "warmup")


def scheduled_count(rate: float, seconds: float) -> int:
    return max(1, round(rate * seconds))
