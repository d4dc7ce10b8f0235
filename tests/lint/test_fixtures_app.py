"""`fixtures_app` is linted exactly as its `# expect:` annotations say, and its
hazards are real when the app runs.

The lint half uses the project's own configuration (`[tool.asyncsafe]` in the repo's
`pyproject.toml`), which names one blocking call of the app for ASF109.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncsafe_lint import Diagnostic, Settings, check_paths, load

from .expectations import expected, reported

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "fixtures_app"
FILES = sorted(APP.rglob("*.py"))


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load(start=REPO)


@pytest.fixture(scope="module")
def findings(settings: Settings) -> dict[Path, list[Diagnostic]]:
    # Files named one by one: `[tool.asyncsafe] exclude` keeps the app out of the
    # project's own lint run, and an explicitly named file is checked regardless.
    result = check_paths(FILES, settings)
    assert not result.crashes, f"the linter crashed on: {result.crashes}"
    by_file: dict[Path, list[Diagnostic]] = {path: [] for path in FILES}
    for diagnostic in result.diagnostics:
        by_file.setdefault(Path(diagnostic.filename).resolve(), []).append(diagnostic)
    return by_file


def _describe(
    path: Path, rows: set[tuple[int, str]], lines: list[str], messages: dict[tuple[int, str], str]
) -> Iterator[str]:
    for row, code in sorted(rows):
        source = lines[row - 1].strip() if 0 < row <= len(lines) else "?"
        note = f"\n        {messages[row, code]}" if (row, code) in messages else ""
        yield f"    {path.relative_to(REPO)}:{row}: {code}  | {source}{note}"


def test_the_project_configures_a_blocking_call_of_the_app(settings: Settings) -> None:
    assert "fixtures_app.services.legacy_sync_fetch" in dict(settings.blocking_calls)


def test_every_annotation_names_a_known_rule(settings: Settings) -> None:
    codes = {rule.code for rule in settings.rules}
    annotated = {(path.name, row, code) for path in FILES for row, code in expected(path.read_text())}
    unknown = {(name, row, code) for name, row, code in annotated if code not in codes}
    assert not unknown


def test_the_app_exercises_every_rule_family() -> None:
    annotated = {code for path in FILES for _, code in expected(path.read_text())}
    # ASF208 and ASF209 are missing: the app uses neither asyncpg nor Redis, and does not depend on them.
    wanted = (
        {f"ASF1{n:02d}" for n in range(1, 10)} | {f"ASF2{n:02d}" for n in (*range(1, 8), 10, 11)} | {"ASF301", "ASF302"}
    )
    assert wanted <= annotated, f"no `# expect:` for {sorted(wanted - annotated)}"


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(APP)))
def test_findings_match_annotations(path: Path, findings: dict[Path, list[Diagnostic]]) -> None:
    source = path.read_text(encoding="utf-8")
    diagnostics = findings.get(path.resolve(), [])
    wanted, got = expected(source), reported(diagnostics)
    if wanted == got:
        return
    lines = source.splitlines()
    messages = {(d.location.row, d.code): d.message for d in diagnostics}
    report = [f"{path.relative_to(REPO)}: findings differ from the `# expect:` annotations"]
    if wanted - got:
        report += ["  missing (annotated, not reported):", *_describe(path, wanted - got, lines, messages)]
    if got - wanted:
        report += ["  unexpected (reported, not annotated):", *_describe(path, got - wanted, lines, messages)]
    pytest.fail("\n".join(report), pytrace=False)


def test_linting_the_directory_finds_what_linting_each_file_finds(
    settings: Settings, findings: dict[Path, list[Diagnostic]]
) -> None:
    """`asyncsafe-lint check fixtures_app` (the demo) must see the whole app."""
    walked = check_paths([APP], settings)
    per_file = sorted(
        (Path(d.filename).resolve(), d.location, d.code, d.message) for ds in findings.values() for d in ds
    )
    assert sorted((Path(d.filename).resolve(), d.location, d.code, d.message) for d in walked.diagnostics) == per_file


def test_dependencies_say_which_routes_of_other_modules_use_them(settings: Settings) -> None:
    """`dependencies.py` holds the dependencies; `routes/hazards.py` names them in `Depends`."""
    alone = check_paths([APP / "dependencies.py"], settings).diagnostics
    where = sorted({d.message.split(": ")[0].partition("` in ")[2] for d in alone if d.code.startswith("ASF10")})
    assert where == [
        "async dependency `get_build_info` used by 1 route",
        "async dependency `get_cached_rates` used by 1 route",
        "async dependency `get_db` used by 1 route",
        "async dependency `get_exchange_rates` used by 1 route",
        "async dependency `get_feature_flags` used by 1 route",
        "async dependency `probe_upstream` used by 1 route",
        "async dependency `throttle` used by 1 route",
    ]


# --- the hazards are real -------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    testclient = pytest.importorskip("fastapi.testclient")
    pytest.importorskip("requests")
    pytest.importorskip("aiohttp")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.delenv("FIXTURES_UPSTREAM", raising=False)
    monkeypatch.setenv("FIXTURES_WORKDIR", str(tmp_path_factory.mktemp("fixtures_app")))
    from fixtures_app.main import app

    with testclient.TestClient(app) as test_client:  # `with` runs the lifespan
        yield test_client
    monkeypatch.undo()


def _timed_get(client: object, url: str) -> tuple[object, float]:
    started = time.perf_counter()
    response = client.get(url)  # type: ignore[attr-defined]
    return response, time.perf_counter() - started


def test_health_and_items_are_fast(client: object) -> None:
    health, health_took = _timed_get(client, "/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    items, items_took = _timed_get(client, "/items")
    assert items.status_code == 200 and {"id", "name", "price"} <= set(items.json()[0])
    assert health_took < 2 and items_took < 2  # generous: a bound, not a speed


def test_a_safe_route_answers(client: object) -> None:
    response, took = _timed_get(client, "/safe/sleep")
    assert response.status_code == 200 and response.json()["hazard"] == "sleep"
    assert took >= 0.25


def _finishing_order(client: object, slow: str) -> list[str]:
    """The order in which `slow` and a `/health` sent 0.1 s after it finish."""
    finished: list[str] = []

    def get_slow() -> None:
        assert client.get(slow).status_code == 200  # type: ignore[attr-defined]
        finished.append(slow)

    thread = threading.Thread(target=get_slow)
    thread.start()
    time.sleep(0.1)
    assert client.get("/health").status_code == 200  # type: ignore[attr-defined]
    finished.append("/health")
    thread.join(timeout=10)
    return finished


def test_the_sleep_hazard_really_blocks(client: object) -> None:
    response, took = _timed_get(client, "/hazards/sleep")
    assert response.status_code == 200
    assert took >= 0.25
    assert response.json()["elapsed_ms"] >= 250
    # The loop is blocked: a request sent meanwhile waits for the sleep to end, which the
    # safe version does not make it do.  Up to three tries each, for a loaded machine
    # that starts the slow request late; a wrong app fails all three.
    assert any(_finishing_order(client, "/hazards/sleep") == ["/hazards/sleep", "/health"] for _ in range(3))
    assert any(_finishing_order(client, "/safe/sleep") == ["/health", "/safe/sleep"] for _ in range(3))


def test_the_orm_routes_run_the_report_through_sqlalchemy(client: object) -> None:
    on_the_loop, _ = _timed_get(client, "/hazards/orm?limit=3")
    in_the_pool, _ = _timed_get(client, "/safe/orm/sync-route?limit=3")
    assert on_the_loop.status_code == in_the_pool.status_code == 200, on_the_loop.text
    assert on_the_loop.json() == in_the_pool.json()
    assert len(on_the_loop.json()) == 3


@pytest.mark.parametrize("route", ["/outbound/stream", "/outbound/stream/unbounded"])
def test_the_stream_routes_talk_to_the_loopback_upstream(client: object, route: str) -> None:
    response, took = _timed_get(client, route)
    assert response.status_code == 200, response.text
    assert response.json()["body"]["status_line"].startswith("HTTP/1.")
    assert took >= 0.15


@pytest.mark.parametrize("route", ["/outbound/subprocess/async", "/outbound/subprocess/async/unbounded"])
def test_the_asyncio_subprocess_routes_wait_for_their_child(client: object, route: str) -> None:
    response, _ = _timed_get(client, route)
    assert response.status_code == 200, response.text
    assert response.json()["body"] == {"output": "exported"}


def test_an_http_hazard_really_waits_for_the_loopback_upstream(client: object) -> None:
    response, took = _timed_get(client, "/hazards/http")
    assert response.status_code == 200, response.text
    assert response.json()["body"]["path"] == "/inventory"
    assert took >= 0.15
