"""What the run says about stalls and load runs: the terminal summary and the JSON file."""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path

import pytest

from asyncsafe_lint.untrusted import printable
from pytest_asyncsafe.durations import format_duration
from pytest_asyncsafe.readings import UNBALANCED
from pytest_asyncsafe.runs import LoadRun
from pytest_asyncsafe.saturation import Saturation
from pytest_asyncsafe.session import AsyncsafeSession, Charged
from pytest_asyncsafe.stalls import Stall, request_line
from pytest_asyncsafe.units import format_ms, format_rate, format_rps, table


def terminal_summary(session: AsyncsafeSession, terminal: pytest.TerminalReporter) -> None:
    if session.dry_pools:
        terminal.section("asyncsafe: thread pools run dry", yellow=True)
        for line in dry_pool_lines(session):
            terminal.write_line(line, yellow=True)
    startup = session.startup_stalls()
    if not session.charged and not startup:
        return
    terminal.section("asyncsafe: event loop stalls")
    # Allowed stalls apart from failing ones at the same place: each line says which it is.
    by_place: dict[tuple[str, bool], list[Charged]] = defaultdict(list)
    for charged in session.charged:
        by_place[charged.stall.where(charged.server.settings.rootdir), charged.allowed].append(charged)
    for (place, allowed_here), group in sorted(by_place.items(), key=lambda item: -max(c.duration for c in item[1])):
        worst = max(c.duration for c in group)
        tests = sorted({printable(c.test) for c in group})
        allowed = " (allowed)" if allowed_here else ""
        terminal.write_line(
            f"{len(group)} stall(s), worst {format_duration(worst)}{allowed}: {place}  [{', '.join(tests)}]"
        )
    at_startup: dict[str, list[Stall]] = defaultdict(list)
    for server, stall in startup:
        at_startup[stall.where(server.settings.rootdir)].append(stall)
    for place, stalls in sorted(at_startup.items(), key=lambda item: -max(s.duration() for s in item[1])):
        pids = ", ".join(str(pid) for pid in sorted({stall.pid for stall in stalls}))
        terminal.write_line(
            f"{len(stalls)} stall(s) during startup (not charged to a test), worst "
            f"{format_duration(max(stall.duration() for stall in stalls))}: {place}  [worker pid {pids}]"
        )


def dry_pool_lines(session: AsyncsafeSession) -> list[str]:
    """A line for each test during which a worker's thread pool ran dry: the requests
    holding its threads then."""
    lines = []
    for dry in session.dry_pools:
        held = ", ".join(f"{printable(f'{method} {path}')} ({n})" for method, path, n in dry.event.holders)
        lines.append(
            f"{printable(dry.test)}: worker pid {dry.event.pid}: all {dry.event.total} threads of its pool in use and "
            f"a task waiting for one; held by {held or 'no request (code outside any request)'}"
        )
    return lines


#: Stalls listed at most under a budget miss.
MISS_STALLS = 10


def budget_miss(run: LoadRun, session: AsyncsafeSession) -> str:
    """The budget table, and the loop stalls the servers had during the run."""
    result = run.result
    text = result.describe_miss(run.rows)
    if not session.servers or not result.finished:
        return text
    stalls = session.stalls_between(result.started, result.finished)
    floor = min(server.recording_threshold for server in session.servers)
    if not stalls:
        return f"{text}\nno event loop stall of {format_duration(floor)} or more during the run"
    lines = [
        f"event loop stalls during the run ({len(stalls)}, longest first; recorded from {format_duration(floor)}):"
    ]
    for server, stall in stalls[:MISS_STALLS]:
        where = stall.where(server.settings.rootdir)
        serving = ", ".join(request_line(request) for request in stall.requests[:3]) or "no request"
        lines.append(f"  {format_duration(stall.duration())} in worker pid {stall.pid} serving {serving}: {where}")
    if len(stalls) > MISS_STALLS:
        lines.append(f"  ... and {len(stalls) - MISS_STALLS} more")
    return "\n".join([text, *lines])


# --- load runs ---------------------------------------------------------------------------------
def load_table(runs: list[LoadRun]) -> list[str]:
    """test | target | shape | requests | rps | p50 | p95 | p99 | errors | busy | loop lag | threads | verdict:
    busy, loop lag (p50/p99/max) and threads (most in use / the pool's size) for each
    worker, in pid order."""
    header = ("test", "target", "shape", "requests", "rps", "p50", "p95", "p99", "errors", "busy",
              "loop lag p50/p99/max", "threads", "verdict")  # fmt: skip
    rows = []
    for run in runs:
        result = run.result
        failed = result.count - result.ok
        unfinished = f", {len(result.unfinished)} unfinished" if result.unfinished else ""
        errors = f"{failed} ({format_rate(result.error_rate)}{unfinished})" if failed else "0"
        rows.append(
            (printable(run.test), printable(run.numbered), run.shape, str(result.count),
             format_rps(result.rps), format_ms(result.p50), format_ms(result.p95), format_ms(result.p99), errors,
             " ".join(_busy(worker) for worker in result.saturation) or "-",
             ", ".join(_lags(worker) for worker in result.saturation) or "-",
             " ".join(f"{pool.peak_in_use}/{pool.total}" for pool in result.threadpool) or "-", run.verdict)
        )  # fmt: skip
    return table(header, rows, right=(3, 4, 5, 6, 7, 8, 9, 10, 11), pipes=False)


def _busy(worker: Saturation) -> str:
    return "-" if math.isnan(worker.busy) else f"{worker.busy:.0%}"


def _lags(worker: Saturation) -> str:
    if math.isnan(worker.lag_max):
        return "-"
    return "/".join(f"{lag * 1000:.0f}" for lag in (worker.lag_p50, worker.lag_p99, worker.lag_max)) + " ms"


def worker_lines(runs: list[LoadRun]) -> list[str]:
    """One line for each worker a run took to its capacity, for each whose thread pool
    it ran dry, and for each that received more than its share of it."""
    lines = []
    for run in runs:
        result = run.result
        lines += [f"{run.label}: {worker.describe()}" for worker in result.saturation if worker.at_capacity]
        lines += [f"{run.label}: {pool.describe()}" for pool in result.threadpool if pool.exhausted]
        received = sum(result.per_worker.values())
        lines += [
            f"{run.label}: worker {pid} received {result.per_worker[pid]} of the run's {received} requests across "
            f"{len(result.per_worker)} workers, {UNBALANCED} times an even share or more: a connection stays with the "
            "worker that accepted it, so few long-lived connections (a proxy's pool, a load generator's) load few workers"
            for pid in result.unbalanced
        ]
    return lines


def compare_table(session: AsyncsafeSession) -> list[str]:
    """test | target | p50 | p95 | p99 | rps | error_rate, each `before -> after (change)`."""
    from pytest_asyncsafe.storage import SHOWN

    header = ("test", "target", *SHOWN)
    rows = []
    for comparison in session.comparisons:
        run = comparison.run
        test, target = printable(run.test), printable(run.numbered)
        if comparison.saved is None or not comparison.comparable:
            why = "new: not in the saved run" if comparison.saved is None else "invalid: not compared"
            rows.append((test, target, why, *("" for _ in SHOWN[1:])))
        else:
            rows.append((test, target, *(comparison.cell(metric) for metric in SHOWN)))
    return table(header, rows, right=tuple(range(2, 2 + len(SHOWN))), pipes=False)


def load_summary(session: AsyncsafeSession, terminal: pytest.TerminalReporter) -> None:
    """The load runs, their comparison to the baseline, the regressions, the invalid runs:
    whenever there is any (with or without --asyncsafe)."""
    if session.loads:
        terminal.section("asyncsafe: load runs")
        for line in load_table(session.loads):
            terminal.write_line(line)
        for line in worker_lines(session.loads):
            terminal.write_line(line, yellow=True)
        if any(run.budget is not None and not run.enforced and not run.result.invalid for run in session.loads):
            terminal.write_line("(verdict -: latency budgets are held against the runs under --asyncsafe only)")
    if session.baseline is not None:
        terminal.section(f"asyncsafe: load runs compared to {session.baseline.describe()}")
        elsewhere = session.baseline.elsewhere()
        if elsewhere is not None:
            terminal.write_line(f"(saved on another machine: {elsewhere})", yellow=True)
        if session.comparisons:
            for line in compare_table(session):
                terminal.write_line(line)
        else:
            terminal.write_line("no load runs to compare")
        ran = {run.key for run in session.loads}
        missing = [key for key in session.baseline.runs if key not in ran]
        if missing:
            terminal.write_line(f"{len(missing)} saved run(s) did not run this time")
    if session.regressions:
        limits = ", ".join(f"{limit.metric}:{limit.percent:g}%" for limit in session.settings.compare_fail)
        terminal.section(f"asyncsafe: performance regressed (--asyncsafe-compare-fail {limits})", red=True)
        for regression in session.regressions:
            terminal.write_line(regression.line(), red=True)
    if session.invalid:
        terminal.section("asyncsafe: invalid load runs (the load asked for was not applied)", yellow=True)
        for test, cause in session.invalid:
            terminal.write_line(f"INVALID {printable(test)} - {printable(cause)}", yellow=True)
    if session.settings.save is not None:
        if session.saved_to is not None:
            shown = os.path.relpath(session.saved_to, session.settings.server.rootdir)
            terminal.write_line(f"asyncsafe: saved {len(session.loads)} load run(s) to {shown}")
        else:
            terminal.write_line(f"asyncsafe: nothing saved as {session.settings.save!r}: no load run happened")


def write_json(session: AsyncsafeSession, path: Path) -> None:
    # Imported only to write it: the model reaches the drain, load and tune modules,
    # which a run that writes neither file never imports.
    from pytest_asyncsafe.rundata import run_data

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run_data(session), indent=2) + "\n")


def write_html(session: AsyncsafeSession, path: Path) -> None:
    """The same data as `write_json`, as one page with charts (imports the `report` extra)."""
    from pytest_asyncsafe.htmlreport import write
    from pytest_asyncsafe.rundata import run_data

    write(path, run_data(session), "asyncsafe report")
