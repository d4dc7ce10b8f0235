"""Latency budgets: what a load run must meet (the `latency_budget` marker's keywords,
`LoadResult.assert_budget`), and the table a miss reads as."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from pytest_asyncsafe.durations import parse_duration
from pytest_asyncsafe.units import format_metric, table
from pytest_asyncsafe.verdicts import Verdict, of_rows

#: Budget keywords in the order their rows are shown.  Latencies are upper bounds in
#: seconds (`threadpool_wait`: the longest any task waited for a thread of a worker's
#: pool), `error_rate` an upper bound as a fraction, `min_rps` a lower bound.
DURATION_KEYS = ("p50", "p90", "p95", "p99", "max", "threadpool_wait")
KEYS = (*DURATION_KEYS, "error_rate", "min_rps")
#: The keywords that bound a percentile of the latencies, and which one (`max`: the 100th).
PERCENTILE_KEYS = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
#: The `LoadResult.metric` each keyword bounds.
MEASURES = {key: key for key in DURATION_KEYS} | {"error_rate": "error_rate", "min_rps": "rps"}


class Measured(Protocol):
    """What a budget is held against: a load run's result (`LoadResult`)."""

    def metric(self, name: str) -> float: ...

    def describe_miss(self, rows: Sequence[Row]) -> str: ...


class BudgetError(ValueError):
    """A budget that cannot be read: an unknown keyword, a bad or negative value."""


class BudgetMiss(AssertionError):
    """A load run missed its budget; the message is the metric | budget | measured | verdict table."""


@dataclass(frozen=True)
class Row:
    """One budget line checked against one run."""

    metric: str
    budget: float
    measured: float
    passed: bool

    @property
    def verdict(self) -> Verdict:
        return of_rows([self.passed])


@dataclass(frozen=True)
class Budget:
    #: (keyword, bound) in `KEYS` order: seconds, a fraction, or requests a second.
    limits: tuple[tuple[str, float], ...]

    @classmethod
    def of_markers(cls, markers: Sequence[pytest.Mark]) -> Budget | None:
        """A test's `latency_budget` markers, closest first, as one budget: their keywords,
        the closest marker's winning (a module's `pytestmark` may set p99 and a test its
        own p95).  None without a marker."""
        if not markers:
            return None
        keywords: dict[str, Any] = {}
        for marker in reversed(markers):
            if marker.args:
                raise BudgetError(
                    f'latency_budget: takes keywords only, e.g. latency_budget(p95="200ms"), got {marker.args!r}'
                )
            keywords.update(marker.kwargs)
        return cls.parse(keywords, "latency_budget")

    @classmethod
    def parse(cls, mapping: Mapping[str, Any], where: str) -> Budget:
        """Check and convert the keywords; `where` (the marker, `assert_budget`) starts the
        message of the `BudgetError` a bad keyword or value gets."""
        unknown = [key for key in mapping if key not in KEYS]
        if unknown:
            raise BudgetError(
                f"{where}: unknown keyword {unknown[0]!r} (a budget takes {', '.join(f'{k}=' for k in KEYS)})"
            )
        if not mapping:
            raise BudgetError(f"{where}: no budget given (use some of {', '.join(f'{k}=' for k in KEYS)})")
        return cls(tuple((key, _bound(key, mapping[key], where)) for key in KEYS if key in mapping))

    def to_json(self) -> dict[str, float]:
        return dict(self.limits)

    def evaluate(self, result: Measured) -> list[Row]:
        """A row per keyword."""
        rows = []
        for key, bound in self.limits:
            measured = result.metric(MEASURES[key])
            rows.append(Row(key, bound, measured, _within(key, bound, measured)))
        return rows

    def enforce(self, result: Measured) -> list[Row]:
        """The rows, if every one passed; else `BudgetMiss` with the table."""
        __tracebackhide__ = True
        rows = self.evaluate(result)
        if not all(row.passed for row in rows):
            raise BudgetMiss(result.describe_miss(rows))
        return rows


def _within(key: str, bound: float, measured: float) -> bool:
    """Does `measured` meet the budget's `key=bound`?  A latency the run has no value for
    (no response at all) does not."""
    if math.isnan(measured):
        return False
    return measured >= bound if key == "min_rps" else measured <= bound


def _bound(key: str, value: Any, where: str) -> float:
    what = f"{where}: {key}"
    if key in DURATION_KEYS:
        try:
            seconds = parse_duration(value, what)
        except ValueError as error:
            raise BudgetError(str(error)) from None
        return seconds
    if key == "error_rate":
        rate = _number(value, what, "a fraction of the requests, e.g. 0.01 (or '1%')", percent=True)
        if not 0 <= rate <= 1:
            raise BudgetError(f"{what}: expected a fraction between 0 and 1 (0.01 is 1%), got {value!r}")
        return rate
    rps = _number(value, what, "a number of requests a second")
    if rps < 0:
        raise BudgetError(f"{what}: cannot be negative ({value!r})")
    return rps


def _number(value: Any, what: str, expected: str, *, percent: bool = False) -> float:
    if isinstance(value, bool):
        raise BudgetError(f"{what}: expected {expected}, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip()
        scale = 1.0
        if percent and text.endswith("%"):
            text, scale = text[:-1].strip(), 0.01
        try:
            number = float(text) * scale
        except ValueError:
            raise BudgetError(f"{what}: expected {expected}, got {value!r}") from None
    if not math.isfinite(number):
        raise BudgetError(f"{what}: expected {expected}, got {value!r}")
    return number


def budget_rows(rows: Sequence[Row]) -> list[str]:
    """The metric | budget | measured | verdict table."""
    cells = [
        (
            row.metric,
            f"{'>=' if row.metric == 'min_rps' else '<='} {format_metric(row.metric, row.budget)}",
            format_metric(row.metric, row.measured),
            row.verdict,
        )
        for row in rows
    ]
    return table(("metric", "budget", "measured", "verdict"), cells, right=(1, 2))
