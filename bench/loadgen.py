"""A small HTTP/1.1 load generator, the fallback when `wrk` is not installed.

    python bench/loadgen.py --url http://127.0.0.1:PORT/ --connections 32 --seconds 3

Keeps `--connections` keep-alive connections busy, one request at a time each, for
`--seconds` (and at most `--max-requests` requests), then prints one JSON line:
requests, seconds, requests_per_second, p50_ms, errors.  Loopback only.

It is Python, so it costs far more CPU per request than `wrk` and may saturate before
the server does: its figures are fit for comparing two servers in the same run, not
as absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


async def _connection(host: str, port: int, path: str, deadline: float, budget: list[int],
                      latencies: list[float], errors: list[int]) -> None:  # fmt: skip
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=5)
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await asyncio.wait_for(reader.readexactly(length), timeout=5)
            latencies.append(time.perf_counter() - started)
            if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
                errors[0] += 1
    except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        errors[0] += 1
    finally:
        writer.close()


async def _run(url: str, connections: int, seconds: float, max_requests: int) -> dict[str, float]:
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK or parts.port is None:
        raise SystemExit(f"loadgen: loopback URLs with a port only, got {url!r}")
    latencies: list[float] = []
    errors = [0]
    budget = [max_requests]
    started = time.perf_counter()
    deadline = started + seconds
    tasks = [_connection(parts.hostname, parts.port, parts.path or "/", deadline, budget, latencies, errors)
             for _ in range(connections)]  # fmt: skip
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 15)
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "requests_per_second": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--max-requests", type=int, default=5_000_000)
    args = parser.parse_args()
    work = _run(args.url, args.connections, args.seconds, args.max_requests)
    try:
        import uvloop  # a faster client leaves more of the CPU to the server
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
