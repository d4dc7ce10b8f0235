"""The linter's fixes keep fixtures_app working: on a copy fixed with `--fix
--unsafe-fixes`, the app still imports, its safe routes still answer, and the route the
fixes rewrote no longer stall the loop (the plugin would fail their tests): the sleep
made an `await`, the routes made plain `def`s, the HTTP calls handed to a thread."""

from __future__ import annotations

import shutil

import pytest

from asyncsafe_lint.config import load
from asyncsafe_lint.fix import fix_paths

from .support import APP_DIR, REPO_ROOT, run, write_ini

SERVED = """
import pytest


@pytest.mark.parametrize("path", [
    "/items",
    "/hazards/sleep",             # time.sleep -> await asyncio.sleep (ASF101)
    "/hazards/subprocess",        # made a plain `def` (ASF103)
    "/hazards/file",              # made a plain `def` (ASF104)
    "/hazards/http?client=requests",  # requests.get handed to a worker thread (ASF102)
    "/hazards/http?client=httpx",
    "/safe/sleep",
    "/safe/sleep/thread",
    "/safe/indirect",
    "/safe/cpu?milliseconds=300",
    "/safe/file/sync-route",
    "/safe/db/sync-route",
    "/safe/orm/sync-route",
    "/safe/http/sync-route",
    "/safe/deps/file",
    "/safe/background",
])
def test_route(asyncsafe_client, path):
    assert asyncsafe_client.get(path).status_code in (200, 202)
"""  # fmt: skip


def test_the_fixed_app_imports_and_serves_without_stalling(pytester: pytest.Pytester) -> None:
    app = pytester.path / "fixtures_app"
    shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("__pycache__"))
    fixed = fix_paths([app], load(start=REPO_ROOT), unsafe=True, write=True)
    assert (fixed.remaining.crashes, [file.error for file in fixed.files if file.error]) == ({}, [])
    assert fixed.fixed > 0
    write_ini(pytester)
    pytester.makepyfile(test_fixed=SERVED)

    result = run(pytester, "--asyncsafe", "-p", "no:randomly")

    result.assert_outcomes(passed=16)
