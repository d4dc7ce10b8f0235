"""How far `asyncsafe-tune`'s capacity is from what the server sustains for longer.

For each worker count: the sweep's point (a search over short open-loop steps, as
`asyncsafe-tune` runs it, each request on a fresh connection), then, on the same server,
a steady open-loop run of SECONDS (30 by default) at the rate the point reported.  Printed: the point's capacity, the long
run's throughput and its p99 against the budget, and the ratio of the two throughputs.
The goal: the long run meets the budget, and its throughput is within 10% of the capacity
(ratio 0.90-1.10).

    .venv/bin/python bench/tune_accuracy.py [--path /compute] [--workers 1,2] [--seconds 30]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_asyncsafe.load import LoadResult  # noqa: E402
from pytest_asyncsafe.server import Server  # noqa: E402
from pytest_asyncsafe.settings import ServerSettings  # noqa: E402
from pytest_asyncsafe.tune.capacity import Goal, measure_point  # noqa: E402
from pytest_asyncsafe.tune.generators import Generators, Workload  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", default="fixtures_app.sizing:app")
    parser.add_argument("--path", default="/compute")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--p99", type=float, default=0.1, help="seconds (default 0.1)")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    budget = Goal(args.p99)
    print(f"{args.app} {args.path}, budget p99 <= {args.p99 * 1000:g} ms, long runs of {args.seconds:g} s")
    print(f"{'workers':>7}  {'capacity':>9}  {'long run':>9}  {'long p99':>9}  {'ratio':>6}  verdict")
    workload = Workload(requests=(("GET", args.path),))
    for workers in (int(word) for word in args.workers.split(",")):
        server = Server(ServerSettings(app=args.app, workers=workers, rootdir=ROOT)).start()
        try:
            with Generators(workload) as generators:
                point = measure_point(server, generators, budget, lambda line: None)
            long = _steady(server, workload, point.capacity_rps, args.seconds)
        finally:
            server.close()
        achieved = long.count / long.elapsed
        p99 = long.latencies.percentile(99)
        ratio = achieved / point.capacity_rps
        ok = 0.9 <= ratio <= 1.1 and p99 <= budget.latency and long.invalid is None
        print(
            f"{workers:>7}  {point.capacity_rps:>9,.0f}  {achieved:>9,.0f}  {p99 * 1000:>6.1f} ms  {ratio:>6.2f}  "
            f"{'PASS' if ok else 'FAIL'}{'' if long.invalid is None else f' (invalid: {long.invalid})'}"
        )


def _steady(server: Server, workload: Workload, rate: float, seconds: float) -> LoadResult:
    return workload.send(server.base_url, {"rate": rate, "duration": seconds, "warmup": 1.0}, server)


if __name__ == "__main__":
    main()
