"""What a run showed, as data: the one model `--asyncsafe-json` writes and
`--asyncsafe-html` draws (`htmlreport`).  Percentiles come from every latency
(`stats.Latencies`); what a chart draws of a big run is thinned here (`MAX_DRAWN`), and
the values of every `asyncsafe_env` variable are hidden from every string in it."""

from __future__ import annotations

import linecache
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

from pytest_asyncsafe.drain import DrainReport
from pytest_asyncsafe.keepalive import KEEPALIVE_ITEM
from pytest_asyncsafe.load.result import LoadResult
from pytest_asyncsafe.runs import LoadRun
from pytest_asyncsafe.server import Server
from pytest_asyncsafe.session import AsyncsafeSession
from pytest_asyncsafe.settings import HIDDEN
from pytest_asyncsafe.stalls import Stall, during, request_line
from pytest_asyncsafe.tune.output import to_json as sweep_json
from pytest_asyncsafe.units import json_number
from pytest_asyncsafe.verdicts import Verdict

#: A latency-over-time chart draws every request up to this many; past it, the slowest
#: request of each of `MAX_DRAWN // 2` slices of the run, and each slice's median.
MAX_DRAWN = 20_000
#: The percentile spectrum's points: this many for each power of ten of 1 / (1 - q).
SPECTRUM_STEPS = 40
#: Source lines shown on each side of a stall's blocking line.
CONTEXT_LINES = 3


def run_data(session: AsyncsafeSession) -> dict[str, Any]:
    charged = [
        {
            **_stall(c.stall, c.server, c.test),
            "duration": c.duration,
            "threshold": c.threshold,
            "allowed": c.allowed,
        }
        for c in session.charged
    ]
    startup = [_stall(stall, server, None) for server, stall in session.startup_stalls()]
    dry = [
        {
            "test": d.test,
            "pid": d.event.pid,
            "time": d.event.time,
            "total": d.event.total,
            "holders": [{"method": method, "path": path, "threads": n} for method, path, n in d.event.holders],
        }
        for d in session.dry_pools
    ]
    data = {
        "overview": _overview(session),
        "stalls": charged,
        "startup_stalls": startup,
        "dry_pools": dry,
        "load_runs": [load_json(run, session.servers) for run in session.loads],
        "drains": [drain_json(test, report) for test, report in session.drains],
        "sweeps": [{"test": test, **sweep_json(report)} for test, report in session.sweeps],
    }
    secrets = {value for server in session.servers for _, value in server.settings.env if value}
    secrets |= {value for _, value in session.settings.server.env if value}
    hidden: dict[str, Any] = hide(data, secrets)
    return hidden


def hide(data: Any, secrets: Iterable[str]) -> Any:
    """`data` with each of `secrets` replaced by `HIDDEN` in every string (a key too)."""
    ordered = sorted(set(secrets), key=len, reverse=True)
    if not ordered:
        return data

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            for secret in ordered:
                value = value.replace(secret, HIDDEN)
            return value
        if isinstance(value, dict):
            return {walk(key): walk(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [walk(item) for item in value]
        return value

    return walk(data)


# --- the overview --------------------------------------------------------------------------
def _overview(session: AsyncsafeSession) -> dict[str, Any]:
    stalled = {c.test for c in session.charged if not c.allowed}
    dry = {d.test for d in session.dry_pools}
    verdicts = [run.verdict for run in session.loads]
    keepalive = session.outcomes.get(KEEPALIVE_ITEM)
    # The worst stall that failed its test; an allowed one only when none did.
    worst = max(session.charged, key=lambda c: (not c.allowed, c.duration), default=None)
    return {
        "checks": {
            "stalls": _tally(len(session.judged - stalled), len(stalled)),
            "budgets": _tally(verdicts.count(Verdict.PASS), verdicts.count(Verdict.FAIL)),
            "drains": _tally(sum(r.clean for _, r in session.drains), sum(not r.clean for _, r in session.drains)),
            "thread_pool": _tally(len(session.judged - dry), len(dry)),
            "keep_alive": _tally(int(keepalive == "passed"), int(keepalive == "failed")),
        },
        "worst_stall": None
        if worst is None
        else {
            "test": worst.test,
            "duration": worst.duration,
            "pid": worst.stall.pid,
            "where": worst.stall.where(worst.server.settings.rootdir),
            "allowed": worst.allowed,
        },
        "servers": sorted({server.settings.command_line for server in session.servers}),
    }


def _tally(passed: int, failed: int) -> dict[str, int]:
    return {"passed": passed, "failed": failed}


# --- stalls ----------------------------------------------------------------------------------
def _stall(stall: Stall, server: Server, test: str | None) -> dict[str, Any]:
    """The stall as the JSON file keeps it, with what its card shows: which frames are the
    app's own, the request whose code blocked, the source around the blocking line."""
    data = stall.to_json(server.settings.rootdir, test)
    for frame, shown in zip(stall.stack, data["stack"], strict=True):
        shown["user"] = frame.user
    culprit = next((request for request in stall.requests if request.get("running")), None)
    data["culprit"] = request_line(culprit) if culprit is not None else None
    blocking = stall.blocking_frame
    data["context"] = (
        None
        if blocking is None
        else {
            "line": blocking.line,
            "lines": [
                [number, linecache.getline(blocking.file, number).rstrip("\n")]
                for number in range(max(1, blocking.line - CONTEXT_LINES), blocking.line + CONTEXT_LINES + 1)
                if linecache.getline(blocking.file, number)
            ],
        }
    )
    return data


# --- load runs -------------------------------------------------------------------------------
def load_json(run: LoadRun, servers: Sequence[Server] = ()) -> dict[str, Any]:
    result = run.result
    return {
        "test": run.test,
        "target": run.target,
        "index": run.index,
        "shape": {**asdict(result.shape), "description": run.shape},
        "count": result.count,
        "ok": result.ok,
        "status_counts": {str(status): n for status, n in sorted(result.status_counts.items())},
        "errors": dict(result.errors),
        "unfinished": result.unfinished,
        "error_rate": result.error_rate,
        "elapsed": result.elapsed,
        "rps": result.rps,
        **{name: json_number(result.metric(name)) for name in ("p50", "p90", "p95", "p99", "max", "mean")},
        "histogram": [[bound, count] for bound, count in result.histogram],
        "health": {name: json_number(value) for name, value in result.health.items()},
        "saturation": [worker.to_json() for worker in result.saturation],
        "threadpool": [pool.to_json() for pool in result.threadpool],
        "per_worker": {str(pid): count for pid, count in result.per_worker.items()},
        "invalid": result.invalid,
        "budget": run.budget.to_json() if run.budget is not None else None,
        "budget_rows": [
            {"metric": row.metric, "budget": row.budget, "measured": json_number(row.measured), "passed": row.passed}
            for row in run.rows
        ],
        "verdict": run.verdict,
        "open_loop": result.shape.open_loop,
        "spectrum": spectrum(result),
        "over_time": over_time(result),
        "bands": bands(result, servers),
    }


def spectrum(result: LoadResult) -> list[list[float]]:
    """[percentile, latency] from the median's side to the max, evenly spaced on a log
    "nines" axis (1 / (1 - q)) out to where the run has samples: each an exact percentile
    of every latency.  Starts at 0 (the fastest) and ends at 100 (the max)."""
    count = len(result.latencies)
    if not count:
        return []
    points = [[0.0, result.latencies.percentile(0)]]
    step = 1
    while (nines := 10 ** (step / SPECTRUM_STEPS)) < count:
        q = 100 * (1 - 1 / nines)
        points.append([q, result.latencies.percentile(q)])
        step += 1
    points.append([100.0, result.latencies.max])
    return points


def over_time(result: LoadResult) -> dict[str, Any]:
    """Latency over the run, each request at its start (seconds from the run's): every
    request of a run up to `MAX_DRAWN`; past it, each slice's slowest request and median."""
    starts, latencies = result.starts, list(result.latencies)
    if len(starts) != len(latencies):
        return {"every": True, "start": [], "latency": [], "median_start": [], "median": []}
    if len(latencies) <= MAX_DRAWN:
        return {"every": True, "start": list(starts), "latency": latencies, "median_start": [], "median": []}
    slices = MAX_DRAWN // 2
    span = max(max(starts), 1e-9)
    grouped: list[list[tuple[float, float]]] = [[] for _ in range(slices)]
    for start, latency in zip(starts, latencies, strict=True):
        grouped[min(int(start / span * slices), slices - 1)].append((latency, start))
    slowest = [max(group) for group in grouped if group]
    centres = [(i + 0.5) * span / slices for i, group in enumerate(grouped) if group]
    return {
        "every": False,
        "start": [start for _, start in slowest],
        "latency": [latency for latency, _ in slowest],
        "median_start": centres,
        "median": [sorted(group)[len(group) // 2][0] for group in grouped if group],
    }


def bands(result: LoadResult, servers: Sequence[Server]) -> list[dict[str, Any]]:
    """What to mark on the run's time axis (seconds from its start): the loop stalls that
    began during it, each thread pool that ran dry (an instant: marked as one slice of
    the run), and each worker the run took to its capacity (the whole run: it is known
    over the run only)."""
    marks: list[dict[str, Any]] = []
    instant = max(result.elapsed / 100, 0.01)
    for server in servers:
        for stall in during(server.stalls, result.started, result.finished, server.recording_threshold):
            end = stall.end if stall.end is not None else result.finished
            where = stall.where(server.settings.rootdir)
            label = f"stall {stall.duration() * 1000:.0f} ms, worker pid {stall.pid}: {where}"
            marks.append(_band("stall", stall.start - result.started, end - result.started, label))
        for event in server.dry_pools:
            if result.started <= event.time < result.finished:
                at = event.time - result.started
                label = f"worker pid {event.pid}: all {event.total} threads of its pool in use"
                marks.append(_band("thread pool dry", at, at + instant, label))
    for worker in result.saturation:
        if worker.at_capacity:
            marks.append(_band("saturated", 0.0, result.elapsed, worker.describe()))
    return marks


def _band(kind: str, start: float, end: float, label: str) -> dict[str, Any]:
    return {"kind": kind, "start": start, "end": end, "label": label}


# --- drains ------------------------------------------------------------------------------------
def drain_json(test: str, report: DrainReport) -> dict[str, Any]:
    """A drain's verdict and its timeline, in seconds from the signal."""
    return {
        "test": test,
        "app": report.app,
        "request": report.request,
        "server": report.server,
        "workers": report.workers,
        "clean": report.clean,
        "problems": report.problems,
        "prestop": report.prestop,
        "terminating": report.terminating,
        "exited": report.shutdown_seconds,
        "killed": report.killed,
        "exit_code": report.exit_code,
        "graceful_timeout": report.graceful_timeout,
        "in_flight": [{"sent": sent, "ended": ended, "failed": why} for sent, ended, why in report.in_flight_times],
        "traffic": [{"sent": at, "outcome": outcome} for at, outcome in report.traffic_times],
        "lifespan": [
            {
                "pid": pid,
                "outcome": outcome,
                "began": report.lifespan_times.get(pid, (None, None))[0],
                "ended": report.lifespan_times.get(pid, (None, None))[1],
                "raised": raised,
            }
            for pid, (outcome, raised) in sorted(report.lifespan.items())
        ],
        "leaked_tasks": [task.describe(report.root) for task in report.leaked_tasks],
    }
