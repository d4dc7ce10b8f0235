"""The framework classes the analysis knows, in every spelling an import gives them."""

from __future__ import annotations

FASTAPI_APPS = frozenset({"fastapi.FastAPI", "fastapi.applications.FastAPI"})
APPS = FASTAPI_APPS | {"starlette.applications.Starlette"}
ROUTERS = frozenset({"fastapi.APIRouter", "fastapi.routing.APIRouter", "starlette.routing.Router"})
#: Everything routes, middleware and startup/shutdown handlers are registered on.
REGISTRIES = APPS | ROUTERS
#: The list methods that add to a list of handlers (`app.router.on_startup.append(f)`).
LIST_METHODS = frozenset({"append", "extend", "insert"})


def is_one_of(owner: str, types: frozenset[str]) -> bool:
    """Whether `owner` is one of `types`, or the router of one (`app.router` resolves to
    `fastapi.FastAPI.router`)."""
    return owner in types or owner.removesuffix(".router") in types
