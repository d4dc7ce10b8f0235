"""How a sweep reads: the table of points, the limits and the recommendation for the
terminal, and the `--json` document (seconds and bytes)."""

from __future__ import annotations

import math
from typing import Any

from pytest_asyncsafe.tune.recommend import needed
from pytest_asyncsafe.tune.sweep import TuneReport
from pytest_asyncsafe.units import format_bytes, format_ms, json_number, table

HEADER = (
    "workers", "capacity req/s", "p50", "p99", "CPU/worker", "PSS/worker", "RSS/worker", "memory needed", "loop busy",
    "threads", "verdict",
)  # fmt: skip


def render(report: TuneReport) -> list[str]:
    limits = report.limits
    lines = [
        f"limits: {limits.cpus:g} CPUs ({limits.cpus_source}), {format_bytes(limits.memory_bytes)} of memory "
        f"({limits.memory_source})",
        "",
    ]
    rows = []
    chosen = report.recommendation.workers
    for point in report.points:
        verdict = (
            "no rate met the budget" if point.capacity_rps <= 0 else ("recommended" if point.workers == chosen else "")
        )
        if point.generator_bound:
            verdict = f"{verdict}, generator-bound".lstrip(", ")
        rows.append(
            (
                str(point.workers),
                f"{point.capacity_rps:,.0f}",
                format_ms(point.p50),
                format_ms(point.p99),
                "-" if math.isnan(point.cpu_per_worker) else f"{point.cpu_per_worker:.2f}",
                format_bytes(point.memory.pss_bytes),
                format_bytes(point.memory.rss_bytes),
                format_bytes(needed(point)),
                "-" if math.isnan(point.loop_busy) else f"{point.loop_busy:.0%}",
                f"{point.threads_in_use}/{point.threads_total}" if point.threads_total else "-",
                verdict,
            )
        )
    lines += table(HEADER, rows, right=range(1, 10), pipes=False)
    lines += ["", f"recommendation: {report.recommendation.reason} (bound: {report.recommendation.bound})"]
    if report.skipped:
        lines.append(f"not measured within --max-seconds: {', '.join(map(str, report.skipped))} workers")
    return lines


def to_json(report: TuneReport) -> dict[str, Any]:
    limits = report.limits
    return {
        "limits": {
            "cpus": limits.cpus,
            "memory_bytes": limits.memory_bytes,
            "cpus_source": limits.cpus_source,
            "memory_source": limits.memory_source,
        },
        "points": [
            {
                "workers": point.workers,
                "capacity_rps": point.capacity_rps,
                "p50": json_number(point.p50),
                "p95": json_number(point.p95),
                "p99": json_number(point.p99),
                "error_rate": json_number(point.error_rate),
                "cpu_per_worker": json_number(point.cpu_per_worker),
                "rss_bytes_per_worker": point.memory.rss_bytes,
                "pss_bytes_per_worker": point.memory.pss_bytes,
                "uss_bytes_per_worker": point.memory.uss_bytes,
                "loop_busy": json_number(point.loop_busy),
                "loop_lag_p99": json_number(point.loop_lag_p99),
                "threads_in_use": point.threads_in_use,
                "threads_total": point.threads_total,
                "generator_bound": point.generator_bound,
                "generators": point.generators,
            }
            for point in report.points
        ],
        "recommendation": {
            "workers": report.recommendation.workers,
            "bound": report.recommendation.bound,
            "reason": report.recommendation.reason,
            "cpu_bound": report.recommendation.cpu_bound,
        },
        "skipped": report.skipped,
    }
