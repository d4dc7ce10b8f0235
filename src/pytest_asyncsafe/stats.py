"""Latency statistics: exact percentiles over every sample, and a histogram for reports."""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator

#: Histogram buckets grow by 1%: a bucket's bounds differ by at most 1% from any value in it.
GROWTH = 1.01
_SMALLEST = 1e-6


class Latencies:
    """Every latency of a run, in seconds; percentiles are exact (no estimation)."""

    def __init__(self, values: Iterable[float] = ()) -> None:
        self._values = array("d", values)
        self._sorted: list[float] | None = None

    def add(self, seconds: float) -> None:
        self._values.append(seconds)
        self._sorted = None

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[float]:
        return iter(self._values)

    def without(self, values: Iterable[float]) -> Latencies:
        """These latencies less `values`, one sample each."""
        left = Counter(values)
        kept = array("d")
        for value in self._values:
            if left[value] > 0:
                left[value] -= 1
            else:
                kept.append(value)
        return Latencies(kept)

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100), nearest-rank: a value some sample really took."""
        if not self._values:
            return math.nan
        if self._sorted is None:
            self._sorted = sorted(self._values)
        rank = max(1, math.ceil(q / 100 * len(self._sorted)))
        return self._sorted[rank - 1]

    @property
    def mean(self) -> float:
        return sum(self._values) / len(self._values) if self._values else math.nan

    @property
    def max(self) -> float:
        return max(self._values) if self._values else math.nan

    def histogram(self) -> list[tuple[float, int]]:
        """(upper bound in seconds, count) of every non-empty bucket, in order."""
        counts: dict[int, int] = {}
        for value in self._values:
            index = 0 if value <= _SMALLEST else math.ceil(math.log(value / _SMALLEST, GROWTH))
            counts[index] = counts.get(index, 0) + 1
        return [(_SMALLEST * GROWTH**index, counts[index]) for index in sorted(counts)]
