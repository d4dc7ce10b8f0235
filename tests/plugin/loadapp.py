"""The app the load generator's unit tests load: a hello route, a counter, routes that
take a given time (awaiting, or blocking the loop, or for the first requests only), and
the HTTP framings the transport must read."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

#: Requests `/tick` served: the tests count what reached the server (one worker).
ticks = 0
#: Requests `/hold` served, by `key`: a test's own key keeps it apart from the others.
holds: Counter[str] = Counter()


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"message": "hello"})


async def tick(request: Request) -> PlainTextResponse:
    global ticks
    ticks += 1
    return PlainTextResponse(str(ticks))


async def read_ticks(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(ticks))


async def sleep(request: Request) -> PlainTextResponse:
    await asyncio.sleep(int(request.query_params.get("ms", "0")) / 1000)
    return PlainTextResponse("slept")


async def hold(request: Request) -> PlainTextResponse:
    """The first `first` requests of a `key` take `hold_ms`, the later ones `ms`."""
    query = request.query_params
    holds[query["key"]] += 1
    held = holds[query["key"]] <= int(query["first"])
    await asyncio.sleep(int(query["hold_ms" if held else "ms"]) / 1000)
    return PlainTextResponse("held" if held else "served")


async def block(request: Request) -> PlainTextResponse:
    time.sleep(int(request.query_params.get("ms", "0")) / 1000)  # noqa: ASYNC251 - blocks the loop, on purpose
    return PlainTextResponse("blocked")


async def echo(request: Request) -> Response:
    """The request's method, a header and body, back."""
    body = await request.body()
    return Response(
        body,
        headers={"x-method": request.method, "x-token": request.headers.get("x-token", "")},
        media_type=request.headers.get("content-type", "application/octet-stream"),
    )


async def check(request: Request) -> PlainTextResponse:
    """200 when the request carries what test_load_unit sends, else 422."""
    expected = (
        request.headers.get("x-token") == "t"
        and request.query_params.get("q") == "1"
        and request.cookies.get("c") == "v"
        and await request.json() == {"a": 1}
    )
    return PlainTextResponse("ok" if expected else "unexpected", status_code=200 if expected else 422)


async def chunked(request: Request) -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one,", b"two,", b"three"):
            yield part

    return StreamingResponse(parts(), media_type="text/plain")


async def status(request: Request) -> Response:
    return Response(status_code=int(request.query_params["code"]))


async def close(request: Request) -> PlainTextResponse:
    return PlainTextResponse("bye", headers={"connection": "close"})


async def login(request: Request) -> PlainTextResponse:
    response = PlainTextResponse("in")
    response.set_cookie("session", "s1")
    return response


async def me(request: Request) -> PlainTextResponse:
    session = request.cookies.get("session")
    return PlainTextResponse(session or "anonymous", status_code=200 if session else 401)


app = Starlette(
    routes=[
        Route("/", hello),
        Route("/tick", tick),
        Route("/ticks", read_ticks),
        Route("/sleep", sleep),
        Route("/hold", hold),
        Route("/block", block),
        Route("/echo", echo, methods=["GET", "POST", "PUT", "HEAD"]),
        Route("/check", check, methods=["POST"]),
        Route("/chunked", chunked),
        Route("/status", status),
        Route("/close", close),
        Route("/login", login, methods=["POST"]),
        Route("/me", me),
    ]
)
