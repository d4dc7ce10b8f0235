"""Hello-world apps for the benchmarks: `GET /`, returning a small JSON.

`app` is FastAPI (what the plugin is mostly used with); `starlette_app` is the same
route on bare Starlette, a lighter app on which any fixed per-request cost of the
plugin's wrapper weighs more.

`GET /busy` is the same JSON after holding its worker's loop for `?ms=` (default
`BUSY_MS`): a worker that serves a steady ~1100 requests a second (measured on a 2-core
machine) whatever else runs there, far below what a load generator sends:
`bench/load_vs_wrk.py`'s tail.  It sleeps rather than spins, so that it does not compete
for the CPU with the load generator it is measured with.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BUSY_MS = 0.5

app = FastAPI()


@app.get("/")
async def hello() -> dict[str, str]:
    return {"message": "hello"}


@app.get("/busy")
async def busy(ms: float = BUSY_MS) -> dict[str, str]:
    time.sleep(ms / 1000)  # noqa: ASYNC251 - holds the loop, on purpose
    return {"message": "hello"}


async def _hello(request: Request) -> JSONResponse:
    return JSONResponse({"message": "hello"})


async def _busy(request: Request) -> JSONResponse:
    time.sleep(float(request.query_params.get("ms", BUSY_MS)) / 1000)  # noqa: ASYNC251 - as `busy`
    return JSONResponse({"message": "hello"})


starlette_app = Starlette(routes=[Route("/", _hello), Route("/busy", _busy)])
