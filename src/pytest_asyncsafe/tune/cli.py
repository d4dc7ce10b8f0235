"""`asyncsafe-tune APP`: how many workers, for this container.  Bad input is one line on
stderr and exit 2; a finished sweep prints its table and recommendation and exits 0."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_asyncsafe import htmlreport
from pytest_asyncsafe.durations import parse_duration
from pytest_asyncsafe.settings import HTTPS, LOOPS, SERVERS, ServerSettings, check, environment
from pytest_asyncsafe.tune.capacity import Goal
from pytest_asyncsafe.tune.generators import Workload
from pytest_asyncsafe.tune.limits import detect
from pytest_asyncsafe.tune.output import render, to_json
from pytest_asyncsafe.tune.sweep import Sweep, TuneError, default_workers, run

USAGE_ERROR = 2
_SIZE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]i?B?|B)?", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parser() -> argparse.ArgumentParser:
    tune = argparse.ArgumentParser(
        prog="asyncsafe-tune",
        description="Measure the app's capacity for each worker count under the real server, and recommend a "
        "worker count for the container's CPU and memory limits.",
    )
    tune.add_argument("app", metavar="IMPORT:ATTRIBUTE", help="the ASGI app, e.g. app.main:app")
    tune.add_argument("--path", action="append", default=[], help="a path to load (repeatable: each in turn)")
    tune.add_argument("--scenario", metavar="MODULE:ASYNC_FUNCTION", help="an async function of an httpx.AsyncClient")
    tune.add_argument("--method", default="GET", help="the method of each --path (default: GET)")
    tune.add_argument("--workers", metavar="LIST", help="worker counts, e.g. 1,2,4 (default: 1 up to twice the CPUs)")
    tune.add_argument("--server", choices=SERVERS, default="uvicorn", help="the server (default: uvicorn)")
    tune.add_argument("--loop", choices=LOOPS, default="auto", help="the event loop (default: auto)")
    tune.add_argument("--http", choices=HTTPS, default="auto", help="the HTTP implementation (default: auto)")
    tune.add_argument("--factory", action="store_true", help="the app is a factory: call it in each worker")
    tune.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="for the server (repeatable)")
    tune.add_argument("--p99", metavar="DURATION", help="the p99 a rate must meet to count (default: 100ms)")
    tune.add_argument("--p95", metavar="DURATION", help="the p95 a rate must meet, instead of a p99")
    tune.add_argument("--error-rate", type=float, default=0.0, help="the error rate a rate may have (default: 0)")
    tune.add_argument("--cpus", type=float, help="size for this CPU limit instead of the one detected, and run on it")
    tune.add_argument("--memory", metavar="SIZE", help="size for this memory limit, e.g. 1GiB or 512MiB")
    tune.add_argument("--json", metavar="PATH", help="write the sweep's figures to this JSON file")
    tune.add_argument(
        "--html", metavar="PATH", help="write the sweep as one HTML page with charts (needs pytest-asyncsafe[report])"
    )
    tune.add_argument("--max-seconds", type=float, default=600.0, help="a bound on the whole sweep (default: 600)")
    return tune


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    # A --scenario module is found where the command runs, as Uvicorn finds the app.
    sys.path.insert(0, str(Path.cwd()))
    try:
        if arguments.html:
            # Before the sweep, not after minutes of it.
            htmlreport.require()
        sweep = _sweep(arguments)
        report = run(sweep, lambda line: print(line, file=sys.stderr, flush=True))
    except (TuneError, ValueError, htmlreport.MissingExtra) as error:
        print(f"asyncsafe-tune: {error}", file=sys.stderr)
        return USAGE_ERROR
    print("\n".join(render(report)))
    data = to_json(report)
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(data, indent=2) + "\n")
    if arguments.html:
        sweeps = [{"test": None, **data}]
        htmlreport.write(Path(arguments.html), {"sweeps": sweeps}, f"asyncsafe-tune {arguments.app}")
        print(f"report: {arguments.html}")
    return 0


def _sweep(arguments: argparse.Namespace) -> Sweep:
    if not arguments.path and not arguments.scenario:
        raise TuneError("give --path (or --scenario): what to load")
    if arguments.path and arguments.scenario:
        raise TuneError("give --path or --scenario, not both")
    if arguments.p99 and arguments.p95:
        raise TuneError("give --p99 or --p95, not both")
    if not 0 <= arguments.error_rate < 1:
        raise TuneError(f"--error-rate: expected a fraction between 0 and 1, got {arguments.error_rate:g}")
    if arguments.cpus is not None and arguments.cpus <= 0:
        raise TuneError(f"--cpus: must be more than 0, got {arguments.cpus:g}")
    latency = parse_duration(arguments.p95 or arguments.p99 or "100ms", "--p95" if arguments.p95 else "--p99")
    budget = Goal(latency, 95 if arguments.p95 else 99, arguments.error_rate)
    cpus = arguments.cpus if arguments.cpus is not None else detect().cpus
    server = check(
        ServerSettings(
            app=arguments.app,
            factory=arguments.factory,
            server=arguments.server,
            loop=arguments.loop,
            http=arguments.http,
            env=tuple(environment(arguments.env, "--env")),
            rootdir=Path.cwd(),
        )
    )
    return Sweep(
        server,
        _workers(arguments.workers) if arguments.workers else default_workers(cpus),
        budget,
        Workload(tuple((arguments.method.upper(), path) for path in arguments.path), arguments.scenario),
        cpus=arguments.cpus,
        memory_bytes=parse_size(arguments.memory) if arguments.memory else None,
        max_seconds=arguments.max_seconds,
    )


def _workers(text: str) -> list[int]:
    try:
        counts = [int(word) for word in text.split(",")]
    except ValueError:
        raise TuneError(f"--workers: expected whole numbers separated by commas, e.g. 1,2,4, got {text!r}") from None
    if any(count < 1 for count in counts):
        raise TuneError(f"--workers: each count must be at least 1, got {text!r}")
    return sorted(set(counts))


def parse_size(text: str) -> int:
    """Bytes, from `1GiB`, `512MiB`, `1.5G`, `1000000`."""
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise TuneError(f"--memory: expected a size such as 1GiB or 512MiB, got {text!r}")
    unit = (match["unit"] or "").lower().rstrip("b")
    scale = 2 ** (10 * " kmgt".index(unit[0])) if unit.endswith("i") else _UNITS[unit]
    return int(float(match["number"]) * scale)


if __name__ == "__main__":
    sys.exit(main())
