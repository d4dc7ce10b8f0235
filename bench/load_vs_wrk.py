"""The plugin's load generator against `wrk`, on the same server in one run.

One Uvicorn worker serves a hello-world route (`bench/hello_app.py`, bare Starlette by
default) the plugin's way - `pytest_asyncsafe.server.Server`: 127.0.0.1 only, a port
the kernel chose, TCP_NODELAY on the listening socket - and the same server takes, in
alternating order (wrk then ours, ours then wrk, ...) so that machine drift hits both:

  max throughput   closed loop, C connections each sending its next request as soon as
                   the last one is answered: `wrk -t1 -cC -dS` against
                   `asyncsafe_load.get("/", concurrency=C, duration=S)`.
                   Goal: our requests/s / wrk's >= 0.8.

  moderate rate    Debian's wrk has no constant-rate mode (that is wrk2), so wrk runs
                   closed loop with a Lua `delay()` of D ms before each request of a
                   connection: with c connections that is a steady ~c / (D + latency)
                   requests a second.  A short calibration run (not counted) measures
                   that rate R once; then, in each round, wrk runs that shape again and
                   ours runs *open loop* at R (`rate=R`) - the plugin's way to hold a
                   rate.  Each side reports its own latency: wrk from writing a request
                   to reading its last byte; ours from the request's scheduled start
                   (or its write, if that came first), so any lateness of our scheduler
                   counts against us.  Uniform arrivals are a little gentler on the
                   server than wrk's bursts at its timer ticks; counting from the
                   schedule is harsher on us.  Goal: our p50 and p95 within 15% or 1 ms
                   of wrk's.

  the tail         closed loop at 400 connections for 12 s, on `/busy` (the same JSON
                   after holding the worker's loop 0.5 ms: ~1100 requests/s here, far
                   below what either tool sends): `wrk -t1 -c400 -d12s` against
                   `asyncsafe_load.get("/busy?ms=0.5", concurrency=400, duration=12)`.
                   Each run starts the way the issue's starvation did: on an idle
                   server, one request holds the worker for 1 s, and the tool opens its
                   400 connections meanwhile; all of them wait in the kernel's accept
                   queue, and Uvicorn on uvloop accepts one per turn of its loop (libuv
                   >= 1.45), so some wait for seconds (docs/budgets.md: "Connections that wait to
                   be accepted").  Without the hold the two tools would not meet the
                   same server: wrk writes each first request as its socket connects,
                   and the worker gets busy before it has accepted them all; ours opens
                   its connections first (~0.1 s), and an idle worker accepts them all
                   meanwhile.  Compared: the share of requests slower than 2 s, and p50
                   and p95 over every request, the slow ones included.  wrk is read for
                   what it measured: its "timeouts" are responses later than 2 s (wrk
                   4.1 cancels nothing: it counts them, and leaves them out of its
                   latencies); the requests still in the accept queue when it stops are
                   in none of its figures (the bench reads them off the server's accept
                   queue, /proc/net/tcp); its percentiles add phantom samples below each
                   long latency (its coordinated-omission correction), which the bench
                   takes out again from its histogram.  Ours counts a request slower
                   than 2 s however it ended; its timeout is longer than the run, since
                   wrk's cuts nothing off.  Goal: the share, p50 and p95 within 15% of
                   wrk's.

Prints every measurement (requests/s, p50/p95/p99, the server's and the load
generator's CPU use in % of one CPU, other work on the machine, and whether our run was
valid by its own self-checks), the medians, the ratios ours / wrk and PASS/MISS per
goal.  A benchmark, not a test: it exits 0 on a miss too.  Every load is bounded in time
(and ours in requests), every subprocess has a timeout.

    .venv/bin/python bench/load_vs_wrk.py [--rounds N --seconds S --tail-seconds S --tail-ms MS]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self, TypeVar
from urllib.parse import urlsplit

import uvicorn
from meters import machine_cpu, process_cpu

from pytest_asyncsafe.load import MAX_CONCURRENCY, InvalidLoadRun, LoadResult, LoadRunner
from pytest_asyncsafe.server import Server, ServerError
from pytest_asyncsafe.settings import ServerSettings
from pytest_asyncsafe.stats import Latencies

ROOT = Path(__file__).resolve().parents[1]

GOAL_THROUGHPUT = 0.8
GOAL_LATENCY_SHARE = 0.15
GOAL_LATENCY_MS = 1.0
WRK_TIMEOUT_MARGIN = 30.0
#: The tail: a request slower than this is slow (wrk's default --timeout).
SLOW = 2.0
GOAL_TAIL = 0.15
#: How often the server's accept queue is read during a tail run, and how long the
#: server may take to empty it (accepting what the last run left) before the next one.
QUEUE_INTERVAL = 0.05
SETTLE_LIMIT = 10.0
#: The tail's start: how long a request holds the idle worker, and how long after sending
#: it the run starts (ours opens 400 connections in ~0.15 s: all arrive while it holds).
HOLD = 1.0
HOLD_LEAD = 0.05
#: The tail's route (bench/hello_app.py): the small JSON after holding the loop `?ms=`.
TAIL_PATH = "/busy"
#: Ours waits this much longer than its run for an answer.
TIMEOUT_MARGIN = 10.0

#: Prints wrk's exact percentiles (microseconds), request count, duration and errors on
#: one line; with WRK_DELAY_MS set, pauses that long before each request of a connection;
#: with WRK_HISTOGRAM=1, prints every bucket of its latency histogram too (microseconds:
#: count; wrk walks its histogram from the start for each, a few seconds after the run).
WRK_SCRIPT = """
local d = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if d > 0 then function delay() return d end end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("ASYNCSAFE %d %d %d %d %d %d %d %d %d %d %d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
  if os.getenv("WRK_HISTOGRAM") == "1" then
    local buckets = {}
    for i = 1, #latency do
      local value, count = latency(i)
      buckets[#buckets + 1] = string.format("%d:%d", value, count)
    end
    io.write("ASYNCSAFE-HISTOGRAM " .. table.concat(buckets, " ") .. "\\n")
  end
end
"""


@dataclass
class Run:
    tool: str
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    errors: int
    #: In % of one CPU over the run: the server's worker, the load generator (wrk's
    #: process; for ours this whole process), and everything else on the machine.
    server_cpu: float
    load_cpu: float
    other_cpu: float
    #: Ours only: why its self-checks call the run invalid.
    invalid: str | None = None


@dataclass
class Tail:
    """One tail run: every request it sent, and the slow ones (slower than `SLOW`)."""

    tool: str
    #: Every request sent, answered or not; how many of them were slow.
    requests: int
    slow: int
    #: Over every request, the slow ones included (a slow one unanswered at its wait so far).
    p50_ms: float
    p95_ms: float
    #: Connections still in the server's accept queue when the run stopped sending.
    queued: int
    server_cpu: float
    load_cpu: float
    other_cpu: float
    #: What the tool says of the run itself.
    note: str
    invalid: str | None = None

    @property
    def share(self) -> float:
        return self.slow / self.requests if self.requests else math.nan


# --- the server's accept queue ----------------------------------------------------------------
def accept_queue(port: int) -> int | None:
    """Connections the kernel completed for the listening socket on 127.0.0.1:`port` that
    the server has not accepted yet (Linux: /proc/net/tcp, whose rx_queue of a listening
    socket is that count); None without it."""
    local = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split()
                if fields[1] == local and fields[3] == "0A":  # LISTEN
                    return int(fields[4].split(":")[1], 16)
    except OSError:
        return None
    return None


class QueueWatch:
    """Reads the accept queue every `QUEUE_INTERVAL` in a thread, over a `with` block
    (at most `limit` seconds)."""

    def __init__(self, port: int, limit: float) -> None:
        self.port, self.limit = port, limit
        self.samples: list[tuple[float, int | None]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="accept-queue", daemon=True)

    def _watch(self) -> None:
        deadline = time.monotonic() + self.limit
        while not self._done.is_set() and time.monotonic() < deadline:
            self.samples.append((time.monotonic(), accept_queue(self.port)))
            self._done.wait(QUEUE_INTERVAL)

    def at(self, moment: float) -> int:
        """The queue's length at the last reading before `moment` (monotonic); -1 if unknown."""
        before = [depth for when, depth in self.samples if when <= moment]
        return before[-1] if before and before[-1] is not None else -1

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


def settle(port: int) -> None:
    """Until the server has accepted every connection the last run left (closed ones
    too), then half a second of nothing: each tail run starts on an idle server."""
    deadline = time.monotonic() + SETTLE_LIMIT
    while (accept_queue(port) or 0) > 0 and time.monotonic() < deadline:
        time.sleep(QUEUE_INTERVAL)
    time.sleep(0.5)


@contextlib.contextmanager
def busy_worker(port: int) -> Iterator[None]:
    """Once the server is idle, one request that holds its loop for `HOLD`, and the
    `with` block from `HOLD_LEAD` after it was sent: every connection of the run arrives
    at a busy worker, whichever tool opens them and however fast (see the docstring)."""
    settle(port)
    sent = threading.Event()
    holder = threading.Thread(target=hold, args=(port, sent), daemon=True)
    holder.start()
    sent.wait(HOLD)
    time.sleep(HOLD_LEAD)
    try:
        yield
    finally:
        holder.join(HOLD + 10)


def hold(port: int, sent: threading.Event) -> None:
    request = f"GET {TAIL_PATH}?ms={HOLD * 1000:g} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=HOLD + 10) as held:
        held.sendall(request.encode())
        sent.set()
        while held.recv(65536):
            pass


# --- CPU meters ------------------------------------------------------------------------------
def rusage(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """CPU of the server, of the load generator (`who`: RUSAGE_SELF or RUSAGE_CHILDREN)
    and of the rest of the machine, over a `with` block."""

    def __init__(self, server_pid: int, who: int) -> None:
        self.server_pid, self.who = server_pid, who
        self.server = self.load = self.other = float("nan")

    def _read(self) -> tuple[float, float, float, float]:
        return process_cpu(self.server_pid), rusage(self.who), machine_cpu(), time.monotonic()

    def __enter__(self) -> Self:
        self._before = self._read()
        return self

    def __exit__(self, *_: object) -> None:
        served, load, busy, elapsed = (b - a for a, b in zip(self._before, self._read(), strict=True))
        self.server, self.load = served / elapsed * 100, load / elapsed * 100
        self.other = max(busy - served - load, 0.0) / elapsed * 100


# --- wrk -------------------------------------------------------------------------------------
def find_wrk(install: bool) -> str | None:
    """wrk on PATH; else, with `install`, `apt-get install wrk` (as root, or with sudo -n)."""
    found = shutil.which("wrk")
    apt = shutil.which("apt-get")
    if found or not install or apt is None:
        return found
    print("wrk is not on PATH: installing it with apt-get ...", flush=True)
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    for command in ([*prefix, apt, "update", "-qq"], [*prefix, apt, "install", "-y", "-qq", "wrk"]):
        try:
            if subprocess.run(command, timeout=600, check=False).returncode != 0:
                return None
        except (OSError, subprocess.TimeoutExpired):
            return None
    return shutil.which("wrk")


class Wrk:
    def __init__(self, path: str, script: Path, url: str, server_pid: int) -> None:
        self.path, self.script, self.url, self.server_pid = path, script, url, server_pid

    def run(self, connections: int, seconds: float, delay_ms: float = 0.0) -> Run:
        command = [self.path, "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(self.script), self.url]
        environment = {**os.environ, "WRK_DELAY_MS": f"{delay_ms:g}"}
        with Meter(self.server_pid, resource.RUSAGE_CHILDREN) as meter:
            completed = subprocess.run(command, capture_output=True, text=True, env=environment, check=False,
                                       timeout=seconds + WRK_TIMEOUT_MARGIN)  # fmt: skip
        line = re.search(r"^ASYNCSAFE((?: \d+){11})$", completed.stdout, re.MULTILINE)
        if completed.returncode != 0 or line is None:
            raise SystemExit(f"wrk failed (status {completed.returncode}):\n{completed.stdout}{completed.stderr}")
        requests, duration_us, p50, p95, p99, _max, *errors = (int(n) for n in line.group(1).split())
        return Run("wrk", requests / (duration_us / 1e6), p50 / 1000, p95 / 1000, p99 / 1000, requests, sum(errors),
                   meter.server, meter.load, meter.other)  # fmt: skip

    def tail(self, connections: int, seconds: float, path: str) -> Tail:
        port = urlsplit(self.url).port
        assert port is not None
        base_url = self.url.rstrip("/")
        command = [self.path, "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(self.script), base_url + path]
        environment = {**os.environ, "WRK_HISTOGRAM": "1"}
        with busy_worker(port), Meter(self.server_pid, resource.RUSAGE_CHILDREN) as meter, \
                QueueWatch(port, seconds + 5) as queue:  # fmt: skip
            started = time.monotonic()
            completed = subprocess.run(command, capture_output=True, text=True, env=environment, check=False,
                                       timeout=seconds + WRK_TIMEOUT_MARGIN)  # fmt: skip
        line = re.search(r"^ASYNCSAFE((?: \d+){11})$", completed.stdout, re.MULTILINE)
        buckets = re.search(r"^ASYNCSAFE-HISTOGRAM((?: \d+:\d+)*)$", completed.stdout, re.MULTILINE)
        if completed.returncode != 0 or line is None or buckets is None:
            raise SystemExit(f"wrk failed (status {completed.returncode}):\n{completed.stdout}{completed.stderr}")
        requests, duration_us, p50, p95, _p99, _max, *errors = (int(n) for n in line.group(1).split())
        timeouts = errors[-1]
        histogram = {int(v): int(n) for v, n in (bucket.split(":") for bucket in buckets.group(1).split())}
        note = (
            f"printed: p50 {p50 / 1000:.1f}, p95 {p95 / 1000:.1f} ms, {timeouts} timeouts ({timeouts / requests:.2%})"
        )
        # wrk stops sending at its duration; what is still in the accept queue then was
        # written at its start (it connects once) and is in none of its figures.
        queued = queue.at(started + seconds)
        if queued < 0:
            note += "; no /proc/net/tcp: what wrk left in the accept queue is not counted"
            queued = 0
        interval = duration_us // (requests // connections) if requests >= connections else 0
        measured = [us / 1e6 for us, n in uncorrected(histogram, interval).items() for _ in range(n)]
        if len(measured) != requests - timeouts:  # each response is a latency or a timeout
            note += f"; its phantoms did not come out: {len(measured)} latencies of {requests - timeouts} responses"
        # The late responses and the ones never answered are slow: their exact latency
        # does not move p50 or p95 while they are fewer than 5%.
        every = Latencies([*measured, *[math.inf] * (timeouts + queued)])
        return Tail("wrk", requests + queued, timeouts + queued, every.percentile(50) * 1000,
                    every.percentile(95) * 1000, queued, meter.server, meter.load, meter.other, note)  # fmt: skip


def uncorrected(histogram: dict[int, int], interval: int) -> dict[int, int]:
    """wrk's latency histogram (microseconds: count) as it measured it.  wrk 4.1 corrects
    for coordinated omission (`stats_correct`): each latency n of at least twice
    `interval` (its run's mean time between two requests of a connection) adds a phantom
    sample at n - interval, n - 2 interval, ... down to just above `interval`.  Ours
    counts what it sent, so the phantoms come out again: from the top down, a bucket
    less what the measured buckets above it added to it."""
    if not histogram or interval <= 0:
        return dict(histogram)
    top = max(histogram)
    measured: dict[int, int] = {}
    for value in sorted(histogram, reverse=True):
        count = histogram[value]
        if value > interval:
            count -= sum(measured.get(above, 0) for above in range(value + interval, top + 1, interval))
        if count:
            measured[value] = count
    return measured


# --- ours ------------------------------------------------------------------------------------
class Ours:
    def __init__(self, base_url: str, server_pid: int) -> None:
        self.results: list[LoadResult] = []
        # `on_result` sees every run, an invalid one too (which then raises).
        self.runner = LoadRunner(base_url, self.results.append)
        self.server_pid = server_pid

    def run(self, **shape: float) -> Run:
        invalid = None
        with Meter(self.server_pid, resource.RUSAGE_SELF) as meter:
            try:
                self.runner.get("/", **shape)
            except InvalidLoadRun as error:
                invalid = str(error)
        result = self.results[-1]
        return Run("ours", result.rps, result.p50 * 1000, result.p95 * 1000, result.p99 * 1000, result.count,
                   result.count - result.ok, meter.server, meter.load, meter.other, invalid)  # fmt: skip

    def tail(self, connections: int, seconds: float, path: str) -> Tail:
        port = urlsplit(self.runner.base_url).port
        assert port is not None
        invalid = None
        with busy_worker(port), Meter(self.server_pid, resource.RUSAGE_SELF) as meter, \
                QueueWatch(port, seconds + 30) as queue:  # fmt: skip
            started = time.monotonic()
            try:
                # No request times out during the run: wrk's do not either (see the docstring).
                self.runner.get(path, concurrency=connections, duration=seconds, timeout=seconds + TIMEOUT_MARGIN)
            except InvalidLoadRun as error:
                invalid = str(error)
        result = self.results[-1]
        # The unfinished are in the latencies at their wait; a timeout is slow too.
        slow = sum(1 for latency in result.latencies if latency > SLOW) + result.errors["timeout"]
        note = f"{len(result.unfinished)} unfinished, {result.count - result.ok} failed"
        return Tail("ours", result.count, slow, result.p50 * 1000, result.p95 * 1000, queue.at(started + seconds),
                    meter.server, meter.load, meter.other, note, invalid)  # fmt: skip


# --- the run ---------------------------------------------------------------------------------
HEADER = (f"{'round':>5}  {'load':<4} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'requests':>8} "
          f"{'errors':>6} {'server':>6} {'loadgen':>7} {'other':>5}  valid")  # fmt: skip


def validity(tool: str, invalid: str | None) -> str:
    """The `valid` column: wrk does not judge itself; ours says why a run was invalid."""
    return "-" if tool == "wrk" else ("yes" if invalid is None else f"NO: {invalid}")


def show(number: int | str, run: Run) -> None:
    valid = validity(run.tool, run.invalid)
    print(f"{number:>5}  {run.tool:<4} {run.rps:>8.0f} {run.p50_ms:>7.3f} {run.p95_ms:>7.3f} {run.p99_ms:>7.3f} "
          f"{run.requests:>8} {run.errors:>6} {run.server_cpu:>5.0f}% {run.load_cpu:>6.0f}% {run.other_cpu:>4.0f}%  "
          f"{valid}", flush=True)  # fmt: skip


def ratios(mine: Run, theirs: Run) -> str:
    return (f"ours/wrk {mine.rps / theirs.rps:>4.2f}x {mine.p50_ms / theirs.p50_ms:>6.2f}x "
            f"{mine.p95_ms / theirs.p95_ms:>6.2f}x {mine.p99_ms / theirs.p99_ms:>6.2f}x")  # fmt: skip


TAIL_HEADER = (f"{'round':>5}  {'load':<4} {'requests':>8} {'>2 s':>5} {'share':>6} {'p50 ms':>7} {'p95 ms':>7} "
               f"{'queued':>6} {'server':>6} {'loadgen':>7} {'other':>5}  valid; notes")  # fmt: skip


def show_tail(number: int | str, run: Tail) -> None:
    valid = validity(run.tool, run.invalid)
    print(f"{number:>5}  {run.tool:<4} {run.requests:>8} {run.slow:>5} {run.share:>6.2%} {run.p50_ms:>7.1f} "
          f"{run.p95_ms:>7.1f} {run.queued:>6} {run.server_cpu:>5.0f}% {run.load_cpu:>6.0f}% {run.other_cpu:>4.0f}%  "
          f"{valid}; {run.note}", flush=True)  # fmt: skip


def tail_ratios(mine: Tail, theirs: Tail) -> str:
    return (f"ours/wrk share {ratio(mine.share, theirs.share)}, p50 {ratio(mine.p50_ms, theirs.p50_ms)}, "
            f"p95 {ratio(mine.p95_ms, theirs.p95_ms)}")  # fmt: skip


def ratio(mine: float, theirs: float) -> str:
    if not (math.isfinite(mine) and math.isfinite(theirs)):
        return "-"
    return f"{mine / theirs:.2f}x" if theirs else ("1.00x" if mine == theirs else "-")


#: A measurement of either comparison: a `Run` or a `Tail`.
R = TypeVar("R", Run, Tail)


def alternate(
    rounds: int,
    wrk: Callable[[], R],
    ours: Callable[[], R],
    header: str,
    show: Callable[[int | str, R], None],
    compared: Callable[[R, R], str],
) -> dict[str, list[R]]:
    """Each round runs both, wrk first in odd rounds and ours first in even ones."""
    runs: dict[str, list[R]] = {"wrk": [], "ours": []}
    print(header)
    print("-" * len(header))
    for number in range(1, rounds + 1):
        order = (("wrk", wrk), ("ours", ours)) if number % 2 else (("ours", ours), ("wrk", wrk))
        for tool, measure in order:
            runs[tool].append(measure())
            show(number, runs[tool][-1])
        print(f"{'':>5}  {compared(runs['ours'][-1], runs['wrk'][-1])}", flush=True)
    return runs


def median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def within(ours_ms: float, wrk_ms: float) -> bool:
    return abs(ours_ms - wrk_ms) <= max(GOAL_LATENCY_SHARE * wrk_ms, GOAL_LATENCY_MS)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="The plugin's load generator against wrk on one 1-worker Uvicorn hello-world server: max "
        "throughput, and p50/p95 at a moderate fixed rate; alternating rounds, ratios ours / wrk.",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per comparison, each runs both (default: 3)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per run (default: 3)")
    parser.add_argument("--warmup", type=float, default=0.5,
                        help="ours: seconds of uncounted load before each run (default: 0.5); wrk has nothing to "
                        "warm up, and the server is warmed once at the start")  # fmt: skip
    parser.add_argument("--connections", type=int, default=32,
                        help="max throughput: connections of both (default: 32)")  # fmt: skip
    parser.add_argument("--rate-connections", type=int, default=8,
                        help="moderate rate: wrk's connections, each pausing --delay-ms (default: 8)")  # fmt: skip
    parser.add_argument("--delay-ms", type=float, default=1.0,
                        help="moderate rate: wrk's pause before each request (default: 1)")  # fmt: skip
    parser.add_argument("--open-connections", type=int, default=32,
                        help="moderate rate: most connections ours may use (default: 32)")  # fmt: skip
    parser.add_argument("--tail-connections", type=int, default=400,
                        help="the tail: connections of both (default: 400)")  # fmt: skip
    parser.add_argument("--tail-seconds", type=float, default=12.0,
                        help="the tail: seconds per run, more than 2 (default: 12: enough requests that the slow "
                        "ones stay well under 5%%, so that p95 is not one of them)")  # fmt: skip
    parser.add_argument("--tail-ms", type=float, default=0.5,
                        help="the tail: how long /busy holds the worker per request (default: 0.5)")  # fmt: skip
    parser.add_argument("--app", default="bench.hello_app:starlette_app",
                        help="the app, IMPORT:ATTRIBUTE from the repo root (default: bench.hello_app:starlette_app; "
                        "bench.hello_app:app is the FastAPI one)")  # fmt: skip
    parser.add_argument("--loop", default="auto", choices=("auto", "asyncio", "uvloop"), help="server (default: auto)")
    parser.add_argument("--http", default="auto", choices=("auto", "h11", "httptools"), help="server (default: auto)")
    parser.add_argument("--uvicorn-args", default="--no-access-log", metavar="ARGS",
                        help="extra Uvicorn options (default: '--no-access-log': a faster server is a harder "
                        "target for a load generator)")  # fmt: skip
    parser.add_argument("--no-install", action="store_true", help="do not apt-get install wrk when it is missing")
    args = parser.parse_args()
    counts = (args.rounds, args.connections, args.rate_connections, args.open_connections, args.tail_connections)
    if min(counts) < 1 or args.seconds <= 0 or args.warmup < 0 or args.delay_ms <= 0:
        parser.error("counts and --seconds, --delay-ms must be positive, --warmup not negative")
    if args.seconds > 60 or args.tail_seconds > 60 or args.rounds > 20:
        parser.error("at most 20 rounds of 60 s: every load loop here is bounded")
    if args.tail_seconds <= SLOW:
        parser.error(f"--tail-seconds must be more than {SLOW:g}: the tail counts requests slower than that")
    if args.tail_connections > MAX_CONCURRENCY:
        parser.error(f"--tail-connections: ours opens at most {MAX_CONCURRENCY}")
    return args


def main() -> int:
    args = parse_args()
    wrk_path = find_wrk(install=not args.no_install)
    if wrk_path is None:
        print("wrk is not installed and could not be (Debian: apt-get install wrk): nothing to compare to")
        return 0
    version = subprocess.run([wrk_path, "-v"], capture_output=True, text=True, timeout=10, check=False)
    wrk_version = (version.stdout + version.stderr).split("\n", 1)[0].strip()
    settings = ServerSettings(app=args.app, workers=1, loop=args.loop, http=args.http,
                              server_args=args.uvicorn_args, rootdir=ROOT)  # fmt: skip
    print(f"server: {args.app}, 1 Uvicorn worker (pytest_asyncsafe.server.Server), loop {args.loop}, http "
          f"{args.http}" + (f", uvicorn args {args.uvicorn_args!r}" if args.uvicorn_args else ""))  # fmt: skip
    print(f"wrk: {wrk_path} ({wrk_version}), 1 thread; ours: pytest_asyncsafe.load.LoadRunner in this process")
    print(f"python {platform.python_version()}, uvicorn {uvicorn.__version__}, {os.cpu_count()} CPUs; "
          f"{args.rounds} rounds x {args.seconds:g}s per tool and comparison"
          + (f", ours after {args.warmup:g}s warm-up" if args.warmup else ""))  # fmt: skip
    server = Server(settings)
    try:
        server.start()
    except ServerError as error:
        print(error, file=sys.stderr)
        return 1
    try:
        with tempfile.TemporaryDirectory(prefix="asyncsafe-bench-") as temporary:
            script = Path(temporary) / "asyncsafe.lua"
            script.write_text(WRK_SCRIPT)
            compare(args, Wrk(wrk_path, script, server.base_url + "/", server.worker_pids[0]),
                    Ours(server.base_url, server.worker_pids[0]))  # fmt: skip
    finally:
        server.poll()
        stalls = len(server.stalls)
        server.close()
    if stalls:
        print(f"note: the server's loop monitor recorded {stalls} stall(s) of 20 ms or more during the run (the "
              f"tail holds the worker's loop on purpose: {HOLD:g} s before each run, then {args.tail_ms:g} ms a "
              "request, hundreds of them a turn)")  # fmt: skip
    return 0


def compare(args: argparse.Namespace, wrk: Wrk, ours: Ours) -> None:
    seconds, warmup = args.seconds, args.warmup
    wrk.run(args.connections, 1.0)  # warm the server (imports, first requests, caches)

    print(f"\n== max throughput: closed loop, {args.connections} connections ==")
    peak = alternate(
        args.rounds,
        lambda: wrk.run(args.connections, seconds),
        lambda: ours.run(concurrency=args.connections, duration=seconds, warmup=warmup),
        HEADER,
        show,
        ratios,
    )

    calibration = wrk.run(args.rate_connections, min(seconds, 2.0), args.delay_ms)
    rate = round(calibration.rps, -1)
    print(f"\n== moderate rate: wrk {args.rate_connections} connections with a {args.delay_ms:g} ms delay() "
          f"(calibrated: {calibration.rps:.0f} req/s); ours open loop at rate={rate:g}, "
          f"<= {args.open_connections} connections ==")  # fmt: skip
    steady = alternate(
        args.rounds,
        lambda: wrk.run(args.rate_connections, seconds, args.delay_ms),
        lambda: ours.run(rate=rate, duration=seconds, warmup=warmup, concurrency=args.open_connections),
        HEADER,
        show,
        ratios,
    )

    connections, lasting, path = args.tail_connections, args.tail_seconds, f"{TAIL_PATH}?ms={args.tail_ms:g}"
    print(f"\n== the tail: closed loop, GET {path}, {connections} connections for {lasting:g}s, each run arriving "
          f"while one request holds the worker {HOLD:g}s; slow: over {SLOW:g} s (answered late, timed out, or still "
          "waiting at the end); queued: in the accept queue when the run stopped sending ==")  # fmt: skip
    tail = alternate(args.rounds, lambda: wrk.tail(connections, lasting, path),
                     lambda: ours.tail(connections, lasting, path), TAIL_HEADER, show_tail, tail_ratios)  # fmt: skip
    summarize(args, peak, steady)
    summarize_tail(tail)


def summarize(args: argparse.Namespace, peak: dict[str, list[Run]], steady: dict[str, list[Run]]) -> None:
    print("\n== summary (medians of the rounds) ==")
    ours_rps, wrk_rps = median(peak["ours"], "rps"), median(peak["wrk"], "rps")
    throughput = ours_rps / wrk_rps
    paired = statistics.median(o.rps / w.rps for o, w in zip(peak["ours"], peak["wrk"], strict=True))
    print(f"max throughput: ours {ours_rps:.0f} req/s, wrk {wrk_rps:.0f} req/s: ours/wrk {throughput:.2f} "
          f"(median of the rounds' ratios {paired:.2f}); goal >= {GOAL_THROUGHPUT:g}: "
          f"{'PASS' if throughput >= GOAL_THROUGHPUT else 'MISS'}")  # fmt: skip
    server_busy = median(peak["wrk"], "server_cpu")
    print(f"  server CPU at max throughput: {server_busy:.0f}% under wrk, {median(peak['ours'], 'server_cpu'):.0f}% "
          f"under ours; load generator CPU: wrk {median(peak['wrk'], 'load_cpu'):.0f}%, ours "
          f"{median(peak['ours'], 'load_cpu'):.0f}% (this whole process)")  # fmt: skip
    print(f"moderate rate: wrk {median(steady['wrk'], 'rps'):.0f} req/s, ours {median(steady['ours'], 'rps'):.0f} "
          "req/s")  # fmt: skip
    for field in ("p50_ms", "p95_ms", "p99_ms"):
        mine, theirs = median(steady["ours"], field), median(steady["wrk"], field)
        name = field.removesuffix("_ms")
        goal = ("" if name == "p99" else
                f"; goal within {GOAL_LATENCY_SHARE:.0%} or {GOAL_LATENCY_MS:g} ms: "
                f"{'PASS' if within(mine, theirs) else 'MISS'}")  # fmt: skip
        print(f"  {name}: ours {mine:.3f} ms, wrk {theirs:.3f} ms: ours/wrk {mine / theirs:.2f}, "
              f"ours-wrk {mine - theirs:+.3f} ms{goal}")  # fmt: skip
    invalid = [run for runs in (peak, steady) for run in runs["ours"] if run.invalid]
    if invalid:
        print(f"note: {len(invalid)} of our runs were invalid by the generator's own checks (see the valid column)")
    if any(run.errors for runs in (peak, steady) for rs in runs.values() for run in rs):
        print("warning: some requests failed (errors column): the figures are suspect")
    busiest = max(run.other_cpu for runs in (peak, steady) for rs in runs.values() for run in rs)
    if busiest >= 10:
        print(f"note: other work used up to {busiest:.0f}% of a CPU during some runs (other column); a quieter "
              "machine gives steadier figures")  # fmt: skip


def summarize_tail(tail: dict[str, list[Tail]]) -> None:
    mine, theirs = tail["ours"], tail["wrk"]
    share = statistics.median(run.share for run in mine), statistics.median(run.share for run in theirs)
    agrees = abs(share[0] - share[1]) <= GOAL_TAIL * share[1]
    print(f"tail: slower than {SLOW:g} s: ours {share[0]:.2%}, wrk {share[1]:.2%} (its timeouts, and what was still "
          f"queued when it stopped): ours/wrk {ratio(*share)}; goal within {GOAL_TAIL:.0%}: "
          f"{'PASS' if agrees else 'MISS'}")  # fmt: skip
    for field in ("p50_ms", "p95_ms"):
        ours_ms, wrk_ms = (statistics.median(getattr(run, field) for run in runs) for runs in (mine, theirs))
        if math.isinf(wrk_ms):
            verdict = f"MISS: one of wrk's requests slower than {SLOW:g} s, of unknown latency; run longer"
        else:
            verdict = "PASS" if abs(ours_ms - wrk_ms) <= GOAL_TAIL * wrk_ms else "MISS"
        print(f"  {field.removesuffix('_ms')}: ours {ours_ms:.1f} ms, wrk {wrk_ms:.1f} ms (its own figure less its "
              f"phantom samples): ours/wrk {ratio(ours_ms, wrk_ms)}; goal within {GOAL_TAIL:.0%}: {verdict}")  # fmt: skip
    invalid = [run for run in mine if run.invalid]
    if invalid:
        print(f"note: {len(invalid)} of our tail runs were invalid by the generator's own checks (valid column)")


if __name__ == "__main__":
    sys.exit(main())
