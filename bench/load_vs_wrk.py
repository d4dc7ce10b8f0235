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

Prints every measurement (requests/s, p50/p95/p99, the server's and the load
generator's CPU use in % of one CPU, other work on the machine, and whether our run was
valid by its own self-checks), the medians, the ratios ours / wrk and PASS/MISS per
goal.  A benchmark, not a test: it exits 0 on a miss too.  Every load is bounded in time
(and ours in requests), every subprocess has a timeout.

    .venv/bin/python bench/load_vs_wrk.py [--rounds N --seconds S]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import uvicorn
from meters import machine_cpu, process_cpu

from pytest_asyncsafe.load import InvalidLoadRun, LoadResult, LoadRunner
from pytest_asyncsafe.server import Server, ServerError
from pytest_asyncsafe.settings import ServerSettings

ROOT = Path(__file__).resolve().parents[1]

GOAL_THROUGHPUT = 0.8
GOAL_LATENCY_SHARE = 0.15
GOAL_LATENCY_MS = 1.0
WRK_TIMEOUT_MARGIN = 30.0

#: Prints wrk's exact percentiles (microseconds), request count, duration and errors on
#: one line; with WRK_DELAY_MS set, pauses that long before each request of a connection.
WRK_SCRIPT = """
local d = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if d > 0 then function delay() return d end end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("ASYNCSAFE %d %d %d %d %d %d %d %d %d %d %d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
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


# --- the run ---------------------------------------------------------------------------------
HEADER = (f"{'round':>5}  {'load':<4} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'requests':>8} "
          f"{'errors':>6} {'server':>6} {'loadgen':>7} {'other':>5}  valid")  # fmt: skip


def show(number: int | str, run: Run) -> None:
    valid = "-" if run.tool == "wrk" else ("yes" if run.invalid is None else f"NO: {run.invalid}")
    print(f"{number:>5}  {run.tool:<4} {run.rps:>8.0f} {run.p50_ms:>7.3f} {run.p95_ms:>7.3f} {run.p99_ms:>7.3f} "
          f"{run.requests:>8} {run.errors:>6} {run.server_cpu:>5.0f}% {run.load_cpu:>6.0f}% {run.other_cpu:>4.0f}%  "
          f"{valid}", flush=True)  # fmt: skip


def alternate(rounds: int, wrk: Callable[[], Run], ours: Callable[[], Run]) -> dict[str, list[Run]]:
    """Each round runs both, wrk first in odd rounds and ours first in even ones."""
    runs: dict[str, list[Run]] = {"wrk": [], "ours": []}
    print(HEADER)
    print("-" * len(HEADER))
    for number in range(1, rounds + 1):
        order = (("wrk", wrk), ("ours", ours)) if number % 2 else (("ours", ours), ("wrk", wrk))
        for tool, measure in order:
            runs[tool].append(measure())
            show(number, runs[tool][-1])
        mine, theirs = runs["ours"][-1], runs["wrk"][-1]
        print(f"{'':>5}  ours/wrk {mine.rps / theirs.rps:>4.2f}x {mine.p50_ms / theirs.p50_ms:>6.2f}x "
              f"{mine.p95_ms / theirs.p95_ms:>6.2f}x {mine.p99_ms / theirs.p99_ms:>6.2f}x", flush=True)  # fmt: skip
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
    counts = (args.rounds, args.connections, args.rate_connections, args.open_connections)
    if min(counts) < 1 or args.seconds <= 0 or args.warmup < 0 or args.delay_ms <= 0:
        parser.error("counts and --seconds, --delay-ms must be positive, --warmup not negative")
    if args.seconds > 60 or args.rounds > 20:
        parser.error("at most 20 rounds of 60 s: every load loop here is bounded")
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
                              uvicorn_args=args.uvicorn_args, rootdir=ROOT)  # fmt: skip
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
        print(f"note: the server's loop monitor recorded {stalls} stall(s) of 20 ms or more during the run")
    return 0


def compare(args: argparse.Namespace, wrk: Wrk, ours: Ours) -> None:
    seconds, warmup = args.seconds, args.warmup
    wrk.run(args.connections, 1.0)  # warm the server (imports, first requests, caches)

    print(f"\n== max throughput: closed loop, {args.connections} connections ==")
    peak = alternate(
        args.rounds,
        lambda: wrk.run(args.connections, seconds),
        lambda: ours.run(concurrency=args.connections, duration=seconds, warmup=warmup),
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
    )
    summarize(args, peak, steady)


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


if __name__ == "__main__":
    sys.exit(main())
