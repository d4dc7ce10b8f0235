"""Where code runs: a route's full path, with the prefixes of every router and app that
serve it (`include_router(..., prefix=...)`, Starlette's `Mount` and route lists,
`app.mount(...)`), in one module and across modules, whichever files are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncsafe_lint import Settings, check_paths, load
from asyncsafe_lint.engine import check_source

from .test_call_graph import HEADER, laid_out, places, where

STARLETTE = (
    "import time\nfrom starlette.applications import Starlette\n"
    "from starlette.routing import Mount, Route, Router, WebSocketRoute\n"
)


# --- in one module -----------------------------------------------------------------------------
def test_include_router_prefixes_compose_with_each_routers_own_at_any_depth() -> None:
    source = HEADER + (
        "app = FastAPI()\nv1 = APIRouter(prefix='/v1')\norders = APIRouter(prefix='/orders')\n"
        "@orders.get('/{id}')\nasync def get_order():\n    time.sleep(1)\n"
        "@v1.post('/ping')\nasync def ping():\n    time.sleep(1)\n"
        "@orders.websocket('/feed')\nasync def feed(ws):\n    time.sleep(1)\n"
        "v1.include_router(orders)\napp.include_router(v1, prefix='/api')\n"
        "app.include_router(orders, prefix='/legacy')\napp.include_router(orders, prefix='/legacy')\n"
    )
    assert where(source) == [
        "in async route GET /api/v1/orders/{id}, GET /legacy/orders/{id}",
        "in async route POST /api/v1/ping",
        "in async websocket route /api/v1/orders/feed, /legacy/orders/feed",
    ]


def test_starlette_route_lists_mounts_and_routers() -> None:
    source = STARLETTE + (
        "async def home(request):\n    time.sleep(1)\n"
        "async def orders(request):\n    time.sleep(1)\n"
        "async def feed(ws):\n    time.sleep(1)\n"
        "async def daily(request):\n    time.sleep(1)\n"
        "async def health(request):\n    time.sleep(1)\n"
        "api = [Route('/orders', orders, methods=['GET', 'POST']), WebSocketRoute('/feed', feed)]\n"
        "reports = Router([Route('/daily', daily)])\n"
        "probe = Route('/health', health)\n"
        "routes = [\n    Route('/', home),\n    Mount('/api', routes=api),\n"
        "    Mount('/internal/', routes=[Mount('/reports', app=reports)]),\n    probe,\n]\n"
        "app = Starlette(routes=routes)\n"
    )
    assert where(source) == [
        "in async route GET /",
        "in async route GET /api/orders, POST /api/orders",
        "in async websocket route /api/feed",
        "in async route GET /internal/reports/daily",
        "in async route GET /health",
    ]


def test_apps_mounted_on_a_fastapi_app() -> None:
    source = HEADER + (
        "from starlette.applications import Starlette\nfrom starlette.routing import Mount, Route\n"
        "async def old(request):\n    time.sleep(1)\n"
        "sub = FastAPI()\n"
        "@sub.get('/items')\nasync def items():\n    time.sleep(1)\n"
        "legacy = Starlette(routes=[Route('/old', old)])\n"
        "app = FastAPI()\napp.mount('/v2', sub)\napp.mount('/legacy/', app=legacy)\n"
        "site = Starlette(routes=[Mount('/site', app=app)])\n"
    )
    assert where(source) == ["in async route GET /site/legacy/old", "in async route GET /site/v2/items"]


def test_prefixes_from_module_strings_unknown_prefixes_and_cycles() -> None:
    source = HEADER + (
        "API = '/api'\nV1 = f'{API}/v1'\n"
        "app = FastAPI()\na = APIRouter(prefix='/a')\nb = APIRouter(prefix='/b')\n"
        "a.include_router(b)\nb.include_router(a)\n"
        "app.include_router(a, prefix=V1)\napp.include_router(b, prefix=settings.PREFIX)\n"
        "@a.get('/x')\nasync def x():\n    time.sleep(1)\n"
        "@APIRouter(prefix='/c').get('/y')\nasync def y():\n    time.sleep(1)\n"
    )
    # Each chain of routers ends where it would close a cycle; `?` is a prefix the code does not spell out.
    assert where(source) == ["in async route GET /api/v1/a/x, GET ?/b/a/x", "in async route GET /c/y"]


def test_a_long_chain_of_routers_is_cut() -> None:
    routers = "".join(f"r{n} = APIRouter(prefix='/{n}')\nr{n}.include_router(r{n + 1})\n" for n in range(20))
    source = HEADER + routers + "r20 = APIRouter()\n@r20.get('/x')\nasync def x():\n    time.sleep(1)\n"
    # Sixteen routers from the inside out: r20 and the fifteen that serve it nearest.
    assert where(source) == ["in async route GET " + "".join(f"/{n}" for n in range(5, 20)) + "/x"]


# --- across modules ------------------------------------------------------------------------------
ROUTERS = {
    "pyproject.toml": "[tool.asyncsafe]\n",
    "app/__init__.py": "",
    "app/routes/__init__.py": "",
    "app/routes/orders.py": (
        "import time\n\nfrom fastapi import APIRouter\n\nrouter = APIRouter(prefix='/orders')\n\n\n"
        "def pause():\n    time.sleep(1)\n\n\n"
        "@router.get('')\nasync def list_orders():\n    time.sleep(1)\n\n\n"
        "@router.get('/{order_id}')\nasync def get_order(order_id: int):\n    pause()\n\n\n"
        "@router.websocket('/feed')\nasync def feed(ws):\n    time.sleep(1)\n"
    ),
    "app/api.py": (
        "from fastapi import APIRouter\n\nfrom app.routes import orders\n\n"
        "api = APIRouter()\napi.include_router(orders.router)\n"
    ),
    "app/admin.py": (
        "import time\n\nfrom starlette.routing import Mount, Route\n\n\n"
        "async def stats(request):\n    time.sleep(1)\n\n\n"
        "async def health(request):\n    time.sleep(1)\n\n\n"
        "routes = [Route('/stats', stats), Mount('/probes', routes=[Route('/health', health)])]\n"
    ),
    "main.py": (
        "from fastapi import FastAPI\nfrom starlette.applications import Starlette\n\n"
        "from app import admin\nfrom app.api import api\nfrom app.routes.orders import router as orders_router\n\n"
        "API_V1 = '/api/v1'\n\n"
        "app = FastAPI()\napp.include_router(api, prefix=API_V1)\napp.include_router(orders_router, prefix='/legacy')\n"
        "app.mount('/admin', Starlette(routes=admin.routes))\n"
    ),
}

#: Every route of `ROUTERS` with a blocking call, where it runs: only `main.py` and `app/api.py` tell.
ROUTER_PLACES = [
    ("app/admin.py", 7, "in async route GET /admin/stats"),
    ("app/admin.py", 11, "in async route GET /admin/probes/health"),
    ("app/routes/orders.py", 14, "in async route GET /api/v1/orders, GET /legacy/orders"),
    ("app/routes/orders.py", 19, (
        "Call to sync helper `orders.pause()` in async route GET /api/v1/orders/{order_id}, "
        "GET /legacy/orders/{order_id} reaches a blocking call: "
        "get_order -> orders.pause -> time.sleep (app/routes/orders.py:9)"
    )),
    ("app/routes/orders.py", 24, "in async websocket route /api/v1/orders/feed, /legacy/orders/feed"),
]  # fmt: skip


@pytest.fixture
def routers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return laid_out(tmp_path, monkeypatch, ROUTERS)


@pytest.mark.parametrize("named", [
    ["app", "main.py"], ["app/routes/orders.py"], ["app/admin.py"], ["app/routes/orders.py", "app/admin.py"],
])  # fmt: skip
def test_routes_are_placed_under_the_prefixes_given_elsewhere_whichever_files_are_named(
    routers: Path, named: list[str]
) -> None:
    result = check_paths(named, load())
    assert result.crashes == {}
    expected = [place for place in ROUTER_PLACES if any(place[0].startswith(name) for name in named)]
    assert places(result.diagnostics) == expected


def test_a_route_file_checked_alone_shows_its_routers_own_prefix(routers: Path) -> None:
    source = (routers / "app/routes/orders.py").read_bytes()
    diagnostics = check_source(source, "app/routes/orders.py", Settings(), Settings().rules, "app.routes.orders")
    assert [where for _, _, where in places(diagnostics)] == [
        "in async route GET /orders",
        (
            "Call to sync helper `orders.pause()` in async route GET /orders/{order_id} reaches a blocking call: "
            "get_order -> orders.pause -> time.sleep (app/routes/orders.py:9)"
        ),
        "in async websocket route /orders/feed",
    ]


def test_a_prefix_edited_in_another_module_changes_the_message_with_the_cache(
    routers: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cache = tmp_path_factory.mktemp("cache")

    def list_orders() -> str:
        result = check_paths(["app/routes/orders.py"], load(), cache_dir=cache)
        return next(where for _, row, where in places(result.diagnostics) if row == 14)

    assert list_orders() == "in async route GET /api/v1/orders, GET /legacy/orders"
    main = routers / "main.py"
    main.write_text(main.read_text().replace("API_V1 = '/api/v1'", "API_V1 = '/api/v2'"))
    assert list_orders() == "in async route GET /api/v2/orders, GET /legacy/orders"
    main.write_text(main.read_text().replace("app.include_router(orders_router, prefix='/legacy')\n", ""))
    assert list_orders() == "in async route GET /api/v2/orders"


@pytest.mark.parametrize("named", [["app/routes/orders.py"], ["app", "main.py"]])
def test_a_router_made_in_one_module_decorated_in_another_and_included_in_a_third(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: list[str]
) -> None:
    laid_out(
        tmp_path,
        monkeypatch,
        {
            "pyproject.toml": "[tool.asyncsafe]\n",
            "app/__init__.py": "",
            "app/routes/__init__.py": "",
            "app/api.py": "from fastapi import APIRouter\n\nrouter = APIRouter(prefix='/orders')\n",
            "app/routes/orders.py": (
                "import time\n\nfrom app.api import router\n\n\n"
                "@router.get('')\nasync def list_orders():\n    time.sleep(1)\n"
            ),
            "main.py": (
                "from fastapi import FastAPI\nfrom starlette.routing import Mount\n\nfrom app import api\n\n"
                "app = FastAPI()\napp.include_router(api.router, prefix='/api/v1')\n"
                "legacy = FastAPI()\nlegacy.include_router(api.router)\napp.mount('/legacy', legacy)\n"
            ),
        },
    )
    result = check_paths(named, load())
    assert result.crashes == {}
    assert places(result.diagnostics) == [
        ("app/routes/orders.py", 8, "in async route GET /api/v1/orders, GET /legacy/orders")
    ]


def test_prefixes_named_in_another_module_as_the_fastapi_template_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    laid_out(
        tmp_path,
        monkeypatch,
        {
            "pyproject.toml": "[tool.asyncsafe]\n",
            "app/__init__.py": "",
            "app/core/__init__.py": "",
            "app/core/config.py": (
                "from pydantic_settings import BaseSettings\n\n\nclass Settings(BaseSettings):\n"
                "    API_V1_STR: str = '/api/v1'\n    PROJECT_NAME: str\n\n\nsettings = Settings()\n"
                "LEGACY = '/legacy'\n"
            ),
            "app/items.py": (
                "import time\n\nfrom fastapi import APIRouter\n\nrouter = APIRouter(prefix='/items')\n\n\n"
                "@router.get('/{id}')\nasync def read_item(id: int):\n    time.sleep(1)\n"
            ),
            "app/main.py": (
                "from fastapi import FastAPI\n\nfrom app import items\nfrom app.core import config\n"
                "from app.core.config import settings\n\n"
                "app = FastAPI()\napp.include_router(items.router, prefix=settings.API_V1_STR)\n"
                "app.include_router(items.router, prefix=config.LEGACY + '/v0')\n"
                "app.include_router(items.router, prefix=settings.UNKNOWN)\n"
            ),
        },
    )
    result = check_paths(["app/items.py"], load())
    assert result.crashes == {}
    assert places(result.diagnostics) == [
        ("app/items.py", 10, "in async route GET /api/v1/items/{id}, GET /legacy/v0/items/{id}, GET ?/items/{id}")
    ]
