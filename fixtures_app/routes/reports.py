"""`/reports/...`: plain `def` routes, which FastAPI runs in the worker's thread pool.

Nothing here blocks the event loop: a `def` route is the right place for blocking work.
But each request holds one of the pool's threads while it runs (AnyIO's default limiter:
40 a worker, unless `FIXTURES_THREAD_TOKENS` raises it), and every `def` route, sync
dependency and `run_in_threadpool` call of the worker shares them.  Forty slow reports
at once and the next sync call, of any route, waits for a thread.
"""

from __future__ import annotations

import time

from fastapi import APIRouter

router = APIRouter(prefix="/reports", tags=["reports"])

#: How long a daily report holds its thread: a blocking query, say.
DAILY_SECONDS = 0.1


@router.get("/daily")
def daily_report() -> dict[str, float]:
    started = time.perf_counter()
    time.sleep(DAILY_SECONDS)
    return {"seconds": time.perf_counter() - started}
