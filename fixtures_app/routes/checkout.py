"""`/checkout`: a call to the payments service (``FIXTURES_PAYMENTS_URL``), with a deadline
shorter than the route's own, next to the same call without one.

``GET /checkout``
    Gives the payments call 1 s (`PAYMENTS_TIMEOUT`): a payments service that is slow,
    silent, resets the connection or is not there at all gets a 504 within about that,
    and the requests, connections and threads behind it are not held.
``GET /checkout/unbounded``
    The same call with ``timeout=None``: a silent payments service holds the request, and
    its connection, for as long as the caller waits.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, HTTPException

from fixtures_app.dependencies import ResourcesDep

router = APIRouter(prefix="/checkout", tags=["checkout"])

#: The deadline of each payments call, shorter than the 2 s the route is allowed.
PAYMENTS_TIMEOUT = 1.0


def _charge_url(resources: ResourcesDep) -> str:
    if resources.config.payments is None:
        raise HTTPException(status_code=503, detail="FIXTURES_PAYMENTS_URL is not set")
    return f"{resources.config.payments}charge"


@router.get("")
async def checkout(resources: ResourcesDep) -> dict[str, object]:
    try:
        reply = await resources.http.get(_charge_url(resources), timeout=PAYMENTS_TIMEOUT)
    except httpx.HTTPError as error:
        # Slow, silent, reset or absent: the payments service did not answer in time.
        raise HTTPException(
            status_code=504, detail=f"payments gave no answer within {PAYMENTS_TIMEOUT:g} s ({type(error).__name__})"
        ) from None
    if reply.status_code >= 500:
        raise HTTPException(status_code=502, detail=f"payments answered {reply.status_code}")
    return {"paid": True, "payments": reply.json()}


@router.get("/unbounded")
async def checkout_without_deadline(resources: ResourcesDep) -> dict[str, object]:
    reply = await resources.http.get(_charge_url(resources), timeout=None)
    return {"paid": True, "payments": reply.json()}
