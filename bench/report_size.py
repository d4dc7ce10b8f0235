"""The HTML report of a 1,000,000-request run: its size and the time headless Chromium
takes to open it with every chart drawn, against the bounds (10 MB, 3 s), beside the
report of a 1,000-request run made the same way in the same run.

The runs are synthesized, not measured (a million requests take minutes to send): an
open loop at 10,000 requests a second, latencies drawn from a log-normal around 2 ms
(the shape of fixtures_app's `/items` under load), with a 300 ms loop stall every 10 s
that every request scheduled during it waits out, as `demo/`'s periodic stall does.
Percentiles come from every latency, as in a real run; only what is drawn is thinned.

    .venv/bin/python bench/report_size.py [--requests N]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from array import array
from collections import Counter
from pathlib import Path

from pytest_asyncsafe.budget import Budget
from pytest_asyncsafe.htmlreport import write
from pytest_asyncsafe.load.result import LoadResult
from pytest_asyncsafe.load.shape import LoadShape
from pytest_asyncsafe.rundata import run_data
from pytest_asyncsafe.session import AsyncsafeSession
from pytest_asyncsafe.settings import ServerSettings, Settings
from pytest_asyncsafe.stats import Latencies

MAX_MB = 10.0
MAX_SECONDS = 3.0
RATE = 10_000.0
STALL_EVERY, STALL = 10.0, 0.3


def synthesized(requests: int) -> LoadResult:
    chance = random.Random(22)
    starts = array("d", (i / RATE for i in range(requests)))
    latencies = []
    for start in starts:
        into = start % STALL_EVERY
        waited = STALL - (into - (STALL_EVERY - STALL)) if into > STALL_EVERY - STALL else 0.0
        latencies.append(waited + chance.lognormvariate(-6.2, 0.6))
    duration = requests / RATE
    return LoadResult(
        "GET /items",
        LoadShape(concurrency=64, duration=duration, rate=RATE),
        Latencies(latencies),
        Counter({200: requests}),
        elapsed=duration,
        started=0.0,
        finished=duration,
        starts=starts,
    )


def build(requests: int, folder: Path) -> tuple[Path, float]:
    session = AsyncsafeSession(Settings(True, ServerSettings("bench.hello_app:app")))
    budget = Budget.parse({"p99": "100ms", "p50": "5ms"}, "latency_budget")
    session.record_load("bench/report_size.py::test_items", synthesized(requests), budget, enforce=True)
    began = time.perf_counter()
    path = folder / f"report-{requests}.html"
    write(path, run_data(session), "asyncsafe report (synthesized run)")
    return path, time.perf_counter() - began


def open_seconds(path: Path) -> float:
    """From navigation to every chart drawn, in headless Chromium (the best of three)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox"])
        times = []
        for _ in range(3):
            tab = browser.new_page(viewport={"width": 1280, "height": 900})
            began = time.perf_counter()
            tab.goto(path.as_uri())
            tab.wait_for_selector("body[data-charts-drawn]", timeout=60_000)
            times.append(time.perf_counter() - began)
            tab.close()
        browser.close()
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    arguments = parser.parse_args()
    if shutil.which("chromium") is None:
        print("no chromium on PATH (apt-get install -y chromium): cannot time the load", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        rows = []
        for requests in (1_000, arguments.requests):
            path, built = build(requests, Path(folder))
            rows.append((requests, path.stat().st_size / 1e6, built, open_seconds(path)))
    for requests, size, built, opened in rows:
        print(f"{requests:>9,} requests: {size:5.2f} MB, written in {built:5.2f} s, opened in {opened:4.2f} s")
    (_, small_size, _, small_open), (_, size, _, opened) = rows
    print(f"size  {size:.2f} MB  ({size / small_size:.2f}x the 1,000-request report)  bound {MAX_MB:g} MB: "
          f"{'PASS' if size < MAX_MB else 'MISS'}")  # fmt: skip
    print(f"open  {opened:.2f} s   ({opened / small_open:.2f}x the 1,000-request report)  bound {MAX_SECONDS:g} s: "
          f"{'PASS' if opened < MAX_SECONDS else 'MISS'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
