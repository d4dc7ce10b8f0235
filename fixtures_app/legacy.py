"""Lifecycle hooks the old way, for the linter's ASF301 rule.

`legacy_app` is a second application (an old admin API, run on its own with
`uvicorn fixtures_app.legacy:legacy_app`) that still uses the deprecated `on_event` /
`add_event_handler` hooks, and `metrics_app` their constructor form (`on_startup=`).
They work - with a `DeprecationWarning` - but belong in a lifespan.  For the worse
case, a lifespan *and* an event handler on one app, see `fixtures_app.hybrid`.
"""

from __future__ import annotations

import logging

import httpx
from fastapi import APIRouter, FastAPI

log = logging.getLogger(__name__)

_state: dict[str, object] = {}


async def open_pool() -> None:
    _state["client"] = httpx.AsyncClient(timeout=5.0)
    log.info("legacy admin API started")


async def close_pool() -> None:
    client = _state.pop("client", None)
    if isinstance(client, httpx.AsyncClient):
        await client.aclose()


def flush_metrics() -> None:
    log.info("metrics flushed")


legacy_app = FastAPI(title="legacy admin API")

legacy_app.on_event("startup")(open_pool)  # expect: ASF301


@legacy_app.on_event("shutdown")  # expect: ASF301
async def shutdown() -> None:
    await close_pool()


legacy_app.router.add_event_handler("shutdown", flush_metrics)  # expect: ASF301

reports = APIRouter(prefix="/reports")


@reports.on_event("startup")  # expect: ASF301
async def warm_report_cache() -> None:
    _state["reports"] = {"daily": []}


@reports.get("/daily")
async def daily_report() -> dict[str, object]:
    return {"rows": _state.get("reports", {})}


legacy_app.include_router(reports)


@legacy_app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"pong": "client" in _state}


#: The constructor form of the same deprecated hooks.
metrics_app = FastAPI(title="metrics", on_startup=[open_pool], on_shutdown=[close_pool])  # expect: ASF301

