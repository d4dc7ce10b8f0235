"""Maintenance jobs, run from cron or by hand: `python -m fixtures_app.jobs <job>`.

This is plain synchronous code - nothing here runs on the server's event loop, so
blocking is fine.  Waiting *forever* is not: a cron job that hangs piles up behind
itself night after night.  Each job below has an unbounded call and a bounded twin.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys

import httpx
import requests

DEFAULT_UPSTREAM = os.environ.get("FIXTURES_UPSTREAM", "http://127.0.0.1:9/")
EXPORT = [sys.executable, "-c", "import time; time.sleep(0.1); print('rows: 42')"]


def export_orders() -> str:
    """Runs the exporter three ways; only the last waits with a deadline."""
    subprocess.check_call(EXPORT, stdout=subprocess.DEVNULL)  # expect: ASF206
    exporter = subprocess.Popen(EXPORT, stdout=subprocess.PIPE, text=True)
    output, _ = exporter.communicate(timeout=None)  # expect: ASF206
    exporter = subprocess.Popen(EXPORT, stdout=subprocess.DEVNULL)
    exporter.wait()  # expect: ASF206
    checked = subprocess.check_output(EXPORT, text=True, timeout=30)
    return output.strip() + " / " + checked.strip()


def ping_upstream(base_url: str = DEFAULT_UPSTREAM) -> bool:
    """True when the upstream answers.  The first probe can hang forever; the second cannot."""
    try:
        requests.head(base_url)  # expect: ASF201
        return requests.head(base_url, timeout=3).ok
    except requests.RequestException:
        return False


async def _warm(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        replies = await asyncio.gather(*(client.get(path) for path in ("inventory", "rates")), return_exceptions=True)
    return sum(1 for reply in replies if isinstance(reply, httpx.Response) and reply.is_success)


def warm_caches(base_url: str = DEFAULT_UPSTREAM) -> int:
    """Pre-fetches the hot upstream paths.  `wait_for(..., None)` is no deadline at all."""
    warmed = asyncio.run(asyncio.wait_for(_warm(base_url), None))  # expect: ASF207
    return warmed + asyncio.run(asyncio.wait_for(_warm(base_url), timeout=60))


JOBS = {"export": export_orders, "ping": ping_upstream, "warm": warm_caches}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fixtures_app.jobs", description=__doc__)
    parser.add_argument("job", choices=sorted(JOBS))
    args = parser.parse_args(argv)
    print(JOBS[args.job]())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
