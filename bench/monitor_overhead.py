"""What the plugin's worker wrapper and loop monitor cost a hello-world route.

Serves the same app two ways, one Uvicorn worker each, same loop and HTTP settings,
on 127.0.0.1 only:

  plain    `python -m uvicorn APP --fd N`: the app alone;
  monitor  `pytest_asyncsafe.server.Server`: the app wrapped by the plugin, with the
           loop monitor at the given block threshold (default 100ms, as the plugin).

and puts both under the same steady load (`wrk`, else a Python load generator) in
alternating rounds - plain/monitor, then monitor/plain, ... - so that machine drift
hits both alike.  Only one server is alive while a round is measured, and each is
warmed up first.  Prints each round, the medians and the ratios monitor / plain,
against the goal: at most 3% less throughput and 3% more p50 latency.  A benchmark,
not a test: it exits 0 on a miss too.

    .venv/bin/python bench/monitor_overhead.py [--rounds N --seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from meters import machine_cpu, process_cpu

from pytest_asyncsafe.channel import beat_interval
from pytest_asyncsafe.server import RECORDING_FLOOR, Server, ServerError, listening_socket
from pytest_asyncsafe.settings import ServerSettings

ROOT = Path(__file__).resolve().parents[1]

GOAL_THROUGHPUT = 0.97
GOAL_P50 = 1.03
STARTUP_TIMEOUT = 30.0
#: With --pin: the first two CPUs this process may use.
LOAD_CPU, SERVER_CPU = (sorted(os.sched_getaffinity(0)) * 2)[:2] if hasattr(os, "sched_getaffinity") else (0, 0)


@dataclass
class Result:
    rps: float
    p50_ms: float
    requests: int
    errors: int
    #: The server process's CPU time (user + system) per request, if /proc tells.
    cpu_us: float = float("nan")
    #: CPU used meanwhile by everything but the server and the load generator, in % of
    #: one CPU: other work on the machine, which makes the round less trustworthy.
    other_percent: float = float("nan")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pin(pid: int, cpus: set[int]) -> None:
    """Move every thread of a process to `cpus`."""
    for task in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(task), cpus)


# --- the two servers ------------------------------------------------------------------------
class PlainServer:
    """Uvicorn serving the app directly, on a socket bound to 127.0.0.1:0 and handed over."""

    def __init__(self, args: argparse.Namespace, directory: Path) -> None:
        self.args = args
        self.log_path = directory / "plain.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> PlainServer:
        # Set up exactly as the plugin's Server sets up its socket (TCP_NODELAY included).
        listener = listening_socket()
        self.port = listener.getsockname()[1]
        command = [sys.executable, "-m", "uvicorn", self.args.app, "--fd", str(listener.fileno()),
                   "--loop", self.args.loop, "--http", self.args.http, *shlex.split(self.args.uvicorn_args)]  # fmt: skip
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        try:
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env={**os.environ, "PYTHONPATH": path},
                    pass_fds=(listener.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        finally:
            listener.close()
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise SystemExit(f"plain uvicorn exited with status {self.process.returncode}:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(self.base_url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.close()
        raise SystemExit(f"plain uvicorn was not ready within {STARTUP_TIMEOUT:.0f}s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])

    def close(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()  # noqa: ASF206 - after SIGKILL it exits; nothing is left to wait for


class MonitoredServer:
    """The app served the plugin's way: `Server`, i.e. the wrapper and the loop monitor."""

    def __init__(self, args: argparse.Namespace) -> None:
        settings = ServerSettings(app=args.app, workers=1, loop=args.loop, http=args.http,
                                  server_args=args.uvicorn_args, block_threshold=args.threshold,
                                  rootdir=ROOT)  # fmt: skip
        self.server = Server(settings)
        self.stalls = 0

    @property
    def base_url(self) -> str:
        return self.server.base_url + "/"

    @property
    def pid(self) -> int:
        return self.server.pid  # with one worker, Uvicorn serves in this very process

    def start(self) -> MonitoredServer:
        self.server.start()
        return self

    def close(self) -> None:
        self.server.poll()
        self.stalls = len(self.server.stalls)
        self.server.close()


# --- load ----------------------------------------------------------------------------------------
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _load_affinity(args: argparse.Namespace) -> dict[str, object]:
    return {"preexec_fn": lambda: os.sched_setaffinity(0, {LOAD_CPU})} if args.pin else {}


def run_wrk(url: str, args: argparse.Namespace, seconds: int) -> Result:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency", url]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False,
                               **_load_affinity(args))  # type: ignore[call-overload]  # fmt: skip
    out = completed.stdout
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", out, re.MULTILINE)
    if completed.returncode != 0 or not (rps and p50 and total):
        raise SystemExit(f"wrk failed (status {completed.returncode}):\n{out}{completed.stderr}")
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    return Result(float(rps.group(1)), float(p50.group(1)) * _UNITS[p50.group(2)], int(total.group(1)), errors)


def run_python(url: str, args: argparse.Namespace, seconds: int) -> Result:
    command = [sys.executable, str(ROOT / "bench" / "loadgen.py"), "--url", url,
               "--connections", str(args.connections), "--seconds", str(seconds)]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False,
                               **_load_affinity(args))  # type: ignore[call-overload]  # fmt: skip
    if completed.returncode != 0:
        raise SystemExit(f"loadgen failed (status {completed.returncode}):\n{completed.stdout}{completed.stderr}")
    data = json.loads(completed.stdout)
    return Result(data["requests_per_second"], data["p50_ms"], data["requests"], data["errors"])


def choose_load(wanted: str) -> str:
    if wanted in ("auto", "wrk") and shutil.which("wrk"):
        return "wrk"
    if wanted == "wrk":
        raise SystemExit("wrk is not on PATH (Debian: apt-get install wrk); or use --load python")
    return "python"


# --- the run ---------------------------------------------------------------------------------
def measure(kind: str, args: argparse.Namespace, directory: Path, load: str) -> tuple[Result, int]:
    server: PlainServer | MonitoredServer = PlainServer(args, directory) if kind == "plain" else MonitoredServer(args)
    run = run_wrk if load == "wrk" else run_python
    server.start()
    try:
        if args.pin:
            pin(server.pid, {SERVER_CPU})
        if args.warmup > 0:
            run(server.base_url, args, args.warmup)
        before = (process_cpu(server.pid), machine_cpu(), children_cpu(), time.monotonic())
        result = run(server.base_url, args, args.seconds)
        after = (process_cpu(server.pid), machine_cpu(), children_cpu(), time.monotonic())
        served, busy, load_generator, elapsed = (b - a for a, b in zip(before, after, strict=True))
        result.cpu_us = served / max(result.requests, 1) * 1e6
        result.other_percent = max(busy - served - load_generator, 0.0) / elapsed * 100
    finally:
        server.close()
    return result, getattr(server, "stalls", 0)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput and p50 of a hello-world route served by plain Uvicorn and the plugin's way "
        "(wrapper + loop monitor), in alternating rounds of one run; prints the ratios monitor / plain.",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds; each measures both servers (default: 5)")
    parser.add_argument("--seconds", type=int, default=3, help="measured load per server and round (default: 3)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="seconds of unmeasured load after each start (default: 1)"
    )
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default: 32)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default: 1)")
    parser.add_argument("--app", default="bench.hello_app:app",
                        help="the app, IMPORT:ATTRIBUTE from the repo root (default: bench.hello_app:app, FastAPI; "
                        "bench.hello_app:starlette_app is bare Starlette)")  # fmt: skip
    parser.add_argument("--loop", default="auto", choices=("auto", "asyncio", "uvloop"), help="(default: auto)")
    parser.add_argument("--http", default="auto", choices=("auto", "h11", "httptools"), help="(default: auto)")
    parser.add_argument("--uvicorn-args", default="", metavar="ARGS",
                        help="extra Uvicorn options for both servers, e.g. '--no-access-log' (default: none)")  # fmt: skip
    parser.add_argument("--threshold", type=float, default=0.1, metavar="SECONDS",
                        help="the monitored server's block threshold (default: 0.1, the plugin's)")  # fmt: skip
    parser.add_argument("--pin", action="store_true",
                        help="run the server (all its threads) on one CPU and the load generator on another")  # fmt: skip
    parser.add_argument("--load", default="auto", choices=("auto", "wrk", "python"),
                        help="load generator: wrk if on PATH, else a Python one (default: auto)")  # fmt: skip
    args = parser.parse_args()
    if min(args.rounds, args.seconds, args.connections, args.threads) < 1 or args.warmup < 0:
        parser.error("--rounds, --seconds, --connections and --threads must be positive, --warmup not negative")
    if args.threads > args.connections:
        parser.error("--threads may not exceed --connections")
    if args.pin and (not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2):
        parser.error("--pin needs Linux and at least 2 CPUs")
    return args


def main() -> int:
    args = parse_args()
    load = choose_load(args.load)
    recording = min(args.threshold, RECORDING_FLOOR)
    heartbeat = beat_interval(recording)
    if load == "wrk":
        tool = f"wrk, {args.threads} thread(s)"
    else:
        why = "wrk not found" if args.load == "auto" else "--load python"
        tool = (f"Python load generator (bench/loadgen.py, {why}); it may saturate before the server does, "
                "so the throughput ratio may say little - see the CPU ratio")  # fmt: skip

    print(f"app {args.app}, 1 worker, loop {args.loop}, http {args.http}"
          + (f", uvicorn args {args.uvicorn_args!r}" if args.uvicorn_args else ""))  # fmt: skip
    print(f"monitor: threshold {args.threshold * 1000:g}ms (records from {recording * 1000:g}ms, "
          f"heartbeat every {heartbeat * 1000:g}ms)")  # fmt: skip
    print(f"load: {tool}, {args.connections} connections, {args.rounds} rounds x {args.seconds:g}s per server "
          f"after {args.warmup:g}s warmup")  # fmt: skip
    print(f"python {platform.python_version()}, uvicorn {uvicorn.__version__}, {os.cpu_count()} CPUs")
    if args.pin:
        # This process too, as the pytest process, which reads the workers' channel, runs
        # beside its load generator, not on the server's CPU.  Threads started from here
        # on inherit it.
        os.sched_setaffinity(0, {LOAD_CPU})
        print(f"pinned: server on CPU {SERVER_CPU}; load generator and this process on CPU {LOAD_CPU}")
    print()
    header = (f"{'round':>5}  {'server':<8} {'req/s':>9} {'p50 ms':>8} {'cpu us/req':>10} {'requests':>9} "
              f"{'errors':>6} {'stalls':>6} {'other cpu':>9}")  # fmt: skip
    print(header)
    print("-" * len(header))
    results: dict[str, list[Result]] = {"plain": [], "monitor": []}
    try:
        run_rounds(args, load, results)
    except ServerError as error:
        print(f"\n{error}", file=sys.stderr)
        return 1
    summarize(results)
    return 0


def run_rounds(args: argparse.Namespace, load: str, results: dict[str, list[Result]]) -> None:
    with tempfile.TemporaryDirectory(prefix="asyncsafe-bench-") as temporary:
        for number in range(1, args.rounds + 1):
            order = ("plain", "monitor") if number % 2 else ("monitor", "plain")
            for kind in order:
                result, stalls = measure(kind, args, Path(temporary), load)
                results[kind].append(result)
                print(f"{number:>5}  {kind:<8} {result.rps:>9.0f} {result.p50_ms:>8.3f} {result.cpu_us:>10.1f} "
                      f"{result.requests:>9} {result.errors:>6} {stalls if kind == 'monitor' else '':>6} "
                      f"{result.other_percent:>8.0f}%", flush=True)  # fmt: skip
            plain, monitor = results["plain"][-1], results["monitor"][-1]
            print(f"{'':>5}  {'ratio':<8} {monitor.rps / plain.rps:>8.3f}x {monitor.p50_ms / plain.p50_ms:>7.3f}x "
                  f"{monitor.cpu_us / plain.cpu_us:>9.3f}x", flush=True)  # fmt: skip


def summarize(results: dict[str, list[Result]]) -> None:
    def median(kind: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in results[kind])

    print()
    for kind in ("plain", "monitor"):
        print(f"median {kind:>7}: {median(kind, 'rps'):>8.0f} req/s, p50 {median(kind, 'p50_ms'):.3f} ms, "
              f"server CPU {median(kind, 'cpu_us'):.1f} us/request")  # fmt: skip
    throughput = median("monitor", "rps") / median("plain", "rps")
    p50 = median("monitor", "p50_ms") / median("plain", "p50_ms")
    cpu = median("monitor", "cpu_us") / median("plain", "cpu_us")
    pairs = list(zip(results["plain"], results["monitor"], strict=True))
    paired_rps = statistics.median(m.rps / p.rps for p, m in pairs)
    paired_p50 = statistics.median(m.p50_ms / p.p50_ms for p, m in pairs)
    print(f"throughput ratio (monitor / plain): {throughput:.2f}x ({throughput:.3f}; median of the rounds' "
          f"ratios {paired_rps:.3f})")  # fmt: skip
    print(f"p50 ratio (monitor / plain): {p50:.2f}x ({p50:.3f}; median of the rounds' ratios {paired_p50:.3f})")
    print(f"server CPU per request ratio (monitor / plain, for information): {cpu:.2f}x ({cpu:.3f})")
    verdict = "PASS" if throughput >= GOAL_THROUGHPUT and p50 <= GOAL_P50 else "MISS"
    print(f"goal: >= {GOAL_THROUGHPUT:.2f} throughput, <= {GOAL_P50:.2f} p50: {verdict}")
    if any(r.errors for rs in results.values() for r in rs):
        print("warning: some requests failed (see the errors column); the figures are suspect")
    busiest = max((r.other_percent for rs in results.values() for r in rs if r.other_percent >= 0), default=0.0)
    if busiest >= 10:
        print(f"note: other work used up to {busiest:.0f}% of a CPU during some rounds (other cpu column); "
              "more rounds on a quieter machine give steadier figures")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
