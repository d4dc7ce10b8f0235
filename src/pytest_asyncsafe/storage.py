"""Baselines: the metrics of a session's load runs saved under `.asyncsafe/NAME.json` in the
rootdir (`--asyncsafe-save NAME`), and a later session's runs compared to them
(`--asyncsafe-compare[=NAME]`, `--asyncsafe-compare-fail=p95:10%`)."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncsafe_lint.untrusted import printable
from pytest_asyncsafe.runs import LoadRun, run_key
from pytest_asyncsafe.units import format_metric

DIRECTORY = ".asyncsafe"
FORMAT = 1
#: What a save keeps of each run.
METRICS = ("p50", "p90", "p95", "p99", "max", "mean", "rps", "error_rate")
#: What a comparison shows.
SHOWN = ("p50", "p95", "p99", "rps", "error_rate")
#: Metrics for which less is worse (a drop is the regression).
HIGHER_IS_BETTER = frozenset({"rps"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_LIMIT = re.compile(r"^\s*(?P<metric>[A-Za-z_0-9]+)\s*:\s*(?P<percent>\d+(?:\.\d*)?|\.\d+)\s*%?\s*$")


class StorageError(ValueError):
    """A bad name or limit, or a saved run that is missing or unreadable; the message
    starts with the option it came from."""


def directory(rootdir: Path) -> Path:
    return rootdir / DIRECTORY


def check_name(name: str, option: str) -> str:
    if not _NAME.match(name):
        raise StorageError(
            f"{option}: a name is letters, digits, '.', '_' and '-' (starting with a letter or digit), got {name!r}"
        )
    return name


# --- saving ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SavedRun:
    test: str
    target: str
    index: int
    shape: str
    count: int
    #: Why the run was invalid (its numbers are not compared), or None.
    invalid: str | None
    #: `METRICS`, None where the run had no value (no response at all).
    metrics: dict[str, float | None]

    @property
    def key(self) -> str:
        return run_key(self.test, self.target, self.index)

    @classmethod
    def of(cls, run: LoadRun) -> SavedRun:
        result = run.result
        metrics = {name: _finite(result.metric(name)) for name in METRICS}
        return cls(run.test, run.target, run.index, run.shape, result.count, result.invalid, metrics)

    def to_json(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "target": self.target,
            "index": self.index,
            "shape": self.shape,
            "count": self.count,
            "invalid": self.invalid,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SavedRun:
        metrics = {name: (None if value is None else float(value)) for name, value in data["metrics"].items()}
        return cls(
            str(data["test"]), str(data["target"]), int(data["index"]), str(data["shape"]), int(data["count"]),
            data.get("invalid"), metrics,
        )  # fmt: skip


@dataclass(frozen=True)
class Baseline:
    name: str
    #: When it was saved: ISO 8601, UTC.
    saved: str
    machine: dict[str, Any]
    runs: dict[str, SavedRun]
    path: Path

    # A saved run is a file of the repository: what it says is shown escaped (`untrusted`).
    def describe(self) -> str:
        return f"{self.name!r} (saved {printable(self.saved[:16].replace('T', ' '))} UTC)"

    def elsewhere(self) -> str | None:
        """Where the save was made, if not on a machine like this one (the numbers may differ
        for that alone)."""
        here = machine()
        if all(self.machine.get(key) == here[key] for key in here):
            return None
        return printable(
            f"platform {self.machine.get('platform')}, Python {self.machine.get('python')}, "
            f"{self.machine.get('cpus')} CPUs"
        )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}


def save(rootdir: Path, name: str, runs: Iterable[LoadRun], *, now: datetime.datetime | None = None) -> Path:
    """Write `.asyncsafe/NAME.json` (replacing one of that name); returns its path."""
    saved = (now or datetime.datetime.now(datetime.UTC)).isoformat()
    data = {
        "format": FORMAT,
        "name": name,
        "saved": saved,
        "machine": machine(),
        "runs": [SavedRun.of(run).to_json() for run in runs],
    }
    path = directory(rootdir) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(data, indent=2) + "\n")
    partial.replace(path)
    return path


# --- loading ---------------------------------------------------------------------------------
def read(path: Path, option: str = "--asyncsafe-compare") -> Baseline:
    try:
        data = json.loads(path.read_text())
        runs = [SavedRun.from_json(run) for run in data["runs"]]
        baseline = Baseline(str(data["name"]), str(data["saved"]), dict(data.get("machine", {})), {}, path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StorageError(f"{option}: cannot read the saved run {path}: {error}") from None
    baseline.runs.update((run.key, run) for run in runs)
    return baseline


def saved_names(rootdir: Path) -> list[str]:
    folder = directory(rootdir)
    return sorted(path.stem for path in folder.glob("*.json")) if folder.is_dir() else []


def load(rootdir: Path, name: str | None, option: str = "--asyncsafe-compare") -> Baseline:
    """The save called `name`, or (None) the most recent one."""
    names = saved_names(rootdir)
    folder = directory(rootdir)
    if name is None:
        if not names:
            raise StorageError(f"{option}: no saved runs in {folder} (save one with --asyncsafe-save NAME)")
        return max((read(folder / f"{each}.json", option) for each in names), key=lambda baseline: baseline.saved)
    check_name(name, option)
    if name not in names:
        known = f"saved: {', '.join(names)}" if names else "none saved yet: save one with --asyncsafe-save NAME"
        hint = ""
        if Path(name).exists():
            hint = f"; {name!r} is a path: write --asyncsafe-compare=NAME, or put --asyncsafe-compare after the paths"
        raise StorageError(f"{option}: no saved run {name!r} in {folder} ({known}){hint}")
    return read(folder / f"{name}.json", option)


# --- comparing ---------------------------------------------------------------------------------
def change(before: float | None, after: float | None) -> float | None:
    """The relative change (0.1 is +10%); infinite from zero to more; None when unknown."""
    if before is None or after is None:
        return None
    if before == 0:
        return 0.0 if after == 0 else math.inf
    return (after - before) / before


def format_change(value: float | None) -> str:
    if value is None:
        return "?"
    if math.isinf(value):
        return "from zero"
    return f"{value * 100:+.1f}%"


@dataclass(frozen=True)
class Comparison:
    run: LoadRun
    #: The same run in the baseline: None if it has none.
    saved: SavedRun | None

    @property
    def comparable(self) -> bool:
        return self.saved is not None and self.saved.invalid is None and self.run.result.invalid is None

    def values(self, metric: str) -> tuple[float | None, float | None]:
        before = self.saved.metrics.get(metric) if self.saved is not None else None
        return before, _finite(self.run.result.metric(metric))

    def change(self, metric: str) -> float | None:
        return change(*self.values(metric)) if self.comparable else None

    def cell(self, metric: str) -> str:
        """`12.1 ms -> 14.0 ms (+15.7%)`, or why there is nothing to compare."""
        if self.saved is None:
            return "new"
        if not self.comparable:
            return "invalid"
        before, after = self.values(metric)
        shown = [format_metric(metric, math.nan if v is None else v) for v in (before, after)]
        return f"{shown[0]} -> {shown[1]} ({format_change(self.change(metric))})"


@dataclass(frozen=True)
class Limit:
    """How much a metric may get worse: `p95:10%` (rps: drop; the others: rise)."""

    metric: str
    percent: float

    @classmethod
    def parse(cls, text: str, option: str = "--asyncsafe-compare-fail") -> Limit:
        match = _LIMIT.match(text)
        if match is None:
            raise StorageError(f"{option}: expected METRIC:PERCENT, e.g. p95:10%, got {text!r}")
        metric = match.group("metric").lower()
        if metric not in METRICS:
            raise StorageError(f"{option}: unknown metric {metric!r} in {text!r} (use one of {', '.join(METRICS)})")
        return cls(metric, float(match.group("percent")))

    def describe(self) -> str:
        return f"{'-' if self.metric in HIGHER_IS_BETTER else '+'}{self.percent:g}%"

    def exceeded(self, relative: float | None) -> bool:
        if relative is None:
            return False
        worse = -relative if self.metric in HIGHER_IS_BETTER else relative
        return worse * 100 > self.percent


@dataclass(frozen=True)
class Regression:
    comparison: Comparison
    limit: Limit

    def line(self) -> str:
        """`test::x GET /items p95 12.1 ms -> 14.0 ms (+15.7%, limit +10%)`"""
        metric = self.limit.metric
        before, after = self.comparison.values(metric)
        shown = [format_metric(metric, math.nan if v is None else v) for v in (before, after)]
        relative = format_change(self.comparison.change(metric))
        return (
            f"{self.comparison.run.label} {metric} {shown[0]} -> {shown[1]} ({relative}, limit {self.limit.describe()})"
        )


def compare(baseline: Baseline, runs: Iterable[LoadRun]) -> list[Comparison]:
    return [Comparison(run, baseline.runs.get(run.key)) for run in runs]


def regressions(comparisons: Iterable[Comparison], limits: Sequence[Limit]) -> list[Regression]:
    return [
        Regression(comparison, limit)
        for comparison in comparisons
        for limit in limits
        if limit.exceeded(comparison.change(limit.metric))
    ]
