"""Hello-world apps for the benchmarks: one route, `GET /`, returning a small JSON.

`app` is FastAPI (what the plugin is mostly used with); `starlette_app` is the same
route on bare Starlette, a lighter app on which any fixed per-request cost of the
plugin's wrapper weighs more.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

app = FastAPI()


@app.get("/")
async def hello() -> dict[str, str]:
    return {"message": "hello"}


async def _hello(request: Request) -> JSONResponse:
    return JSONResponse({"message": "hello"})


starlette_app = Starlette(routes=[Route("/", _hello)])
