"""The service built by a factory, as most services build theirs: serve it with
`uvicorn --factory fixtures_app.factory:create_app` (or `asyncsafe_factory = true`).

``create_app``
    The same routers and lifespan as `fixtures_app.main`, so the same hazards at the
    same lines, plus ``GET /built``: the pid of the process the factory ran in and of
    the one that answers (a factory runs once in every worker, so they are the same).
``create_app_without_settings``
    A factory that raises, as one does when a setting it needs is missing: every
    worker fails to start, with this traceback.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, Request

from fixtures_app.main import health, lifespan
from fixtures_app.routes import checkout, hazards, items, lifecycle, outbound, reports, safe


class MissingSetting(RuntimeError):
    pass


def create_app() -> FastAPI:
    app = FastAPI(title="fixtures_app (factory)", version="1.0.0", lifespan=lifespan)
    for router in (
        items.router,
        safe.router,
        outbound.router,
        hazards.router,
        lifecycle.router,
        reports.router,
        checkout.router,
    ):
        app.include_router(router)
    app.add_api_route("/health", health, tags=["ops"])
    app.add_api_route("/built", built)
    app.state.built_in = os.getpid()
    return app


async def built(request: Request) -> dict[str, int]:
    return {"built_in": request.app.state.built_in, "served_by": os.getpid()}


def create_app_without_settings() -> FastAPI:
    raise MissingSetting("fixtures_app.factory: ORDERS_DATABASE_URL is not set")
