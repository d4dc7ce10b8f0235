"""The HTML report as a person sees it: reports of real runs (a stall, a budget miss, a
drain; a sweep of `asyncsafe-tune --html`) and of a sweep with markup in it, opened in
Debian's headless Chromium (`.ci/run` installs it), driven by Playwright over CDP with
no browser of its own.  The page loads without a console error, every chart is drawn
with its axes, the spectrum with the budget, the stall card shows the blocking line, a
hostile test id is text, no `asyncsafe_env` value is anywhere in the file, and a
screenshot is not blank."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_asyncsafe.htmlreport import page

from .support import REPO_ROOT, app_line, run, write_ini

CHROMIUM = shutil.which("chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
HOSTILE = "<img src=x onerror=document.title='pwned'>"
SECRET = "s3cr3t-token-9f2c"

TESTS = f"""
import pytest

def test_stall(asyncsafe_client):
    asyncsafe_client.get("/hazards/sleep")

@pytest.mark.asyncsafe_allow_blocking  # judged by the budget
@pytest.mark.latency_budget(p99="100ms")
def test_budget_miss(asyncsafe_load, asyncsafe_server_factory):
    server = asyncsafe_server_factory(app="fixtures_app.variants:periodic_stall_app")
    asyncsafe_load.on(server).get("/ping", rate=200, duration="2s")

def test_drain(asyncsafe_drain):
    asyncsafe_drain(app="fixtures_app.shutdown:leaky_shutdown", in_flight=2, params={{"seconds": 0.2}})

@pytest.mark.parametrize("name", [{HOSTILE!r}])
def test_hostile(asyncsafe_client, name):
    asyncsafe_client.get("/hazards/sleep")
"""

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no `chromium` on PATH: .ci/run installs Debian's (apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _open(browser: Any, path: Path) -> tuple[Any, list[str]]:
    """The page at `path`, once its charts are drawn, and the console errors on the way."""
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(path.as_uri())
    tab.wait_for_selector("body[data-charts-drawn]", timeout=15_000)
    return tab, errors


def _charts(tab: Any) -> list[dict[str, Any]]:
    """What each chart shows: its kind, tick labels of each axis, trace names and marks drawn."""
    return list(
        tab.eval_on_selector_all(
            ".chart",
            """charts => charts.map(chart => ({
                kind: chart.dataset.kind,
                svg: chart.querySelectorAll("svg.main-svg").length,
                xticks: chart.querySelectorAll(".xtick text, .x2tick text, .x3tick text").length,
                yticks: chart.querySelectorAll(".ytick text, .y2tick text, .y3tick text").length,
                xtitle: chart.querySelector(".g-xtitle") ? chart.querySelector(".g-xtitle").textContent : "",
                legend: Array.from(chart.querySelectorAll(".legendtext")).map(t => t.textContent),
                lines: Array.from(chart.querySelectorAll(".scatterlayer path.js-line"))
                    .filter(p => (p.getAttribute("d") || "").length > 10).length,
                bars: chart.querySelectorAll(".barlayer path").length,
                gl: chart.querySelectorAll("canvas").length,
            }))""",
        )
    )


def _colours(browser: Any, png: bytes) -> int:
    """How many distinct colours a screenshot holds, counted by the browser's canvas."""
    tab = browser.new_page()
    count = tab.evaluate(
        """async src => {
            const image = new Image(); image.src = src; await image.decode();
            const canvas = document.createElement("canvas");
            canvas.width = image.width; canvas.height = image.height;
            const context = canvas.getContext("2d"); context.drawImage(image, 0, 0);
            const data = context.getImageData(0, 0, image.width, image.height).data;
            const seen = new Set();
            for (let i = 0; i < data.length; i += 4) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
            return seen.size;
        }""",
        "data:image/png;base64," + base64.b64encode(png).decode(),
    )
    tab.close()
    return int(count)


@pytest.mark.machine
def test_the_report_of_a_real_run_draws_every_chart_and_runs_nothing(
    project: pytest.Pytester, browser: Any, tmp_path: Path
) -> None:
    write_ini(project, extra=f"asyncsafe_env = API_TOKEN={SECRET}")
    project.makepyfile(test_report=TESTS)
    report = project.path / "report.html"
    result = run(project, "--asyncsafe", "--asyncsafe-html", str(report), "-n", "0")
    result.assert_outcomes(passed=1, failed=3)  # the drain is drawn, not asserted
    result.stdout.fnmatch_lines([f"report: {report}"])
    text = report.read_text(encoding="utf-8")
    assert SECRET not in text
    assert "http://" not in text.split("<script>", 1)[0] and "<script src" not in text  # nothing to fetch

    tab, errors = _open(browser, report)
    charts = _charts(tab)
    assert errors == []
    # The one load run (the budget miss: three charts), then the drain.
    assert [chart["kind"] for chart in charts] == ["spectrum", "over-time", "workers", "drain"]
    for chart in charts:
        assert chart["svg"] > 0 and chart["xticks"] > 0 and chart["yticks"] > 0, chart
    spectrum, over_time, workers, drain = charts
    assert spectrum["xtitle"] == "percentile" and spectrum["legend"] == ["latency", "budget"]
    assert spectrum["lines"] == 2  # the spectrum and the budget's bound
    assert over_time["gl"] > 0 and "stall" in over_time["legend"]
    assert workers["bars"] >= 2
    assert drain["xtitle"] == "seconds from SIGTERM" and "leaked tasks" in drain["legend"]

    line, _, source = app_line("routes/hazards.py", "time.sleep(0.3)  # expect: ASF101")
    stall_line = f"{line:>5}      {source}"  # indented as in the file
    periodic, _, periodic_source = app_line("variants.py", "time.sleep(STALL_SECONDS)")
    blocking = tab.locator(".stall.card .source .blocking").all_inner_texts()
    # test_stall's, test_hostile's, and the allowed one test_budget_miss ran into.
    assert sorted(blocking) == sorted([stall_line, stall_line, f"{periodic:>5}          {periodic_source}"])
    # The overview's worst stall is one that failed its test, not the allowed one.
    worst = tab.inner_text(".worst")
    assert re.fullmatch(
        rf"Worst stall: \d+\.\d ms in worker pid \d+ at fixtures_app/routes/hazards\.py:{line} in blocking_sleep "
        r"during test_report\.py::test_(stall|hostile\[.*\])",
        worst,
    ), worst
    # The hostile id is shown as text; nothing it holds ran or became an element.
    assert f"test_hostile[{HOSTILE}]" in tab.inner_text("body")
    assert tab.title() == "asyncsafe report"
    assert tab.locator("img").count() == 0

    screenshot = tmp_path / "report.png"
    tab.screenshot(path=str(screenshot))
    assert _colours(browser, screenshot.read_bytes()) > 50


@pytest.mark.machine
def test_the_report_of_a_real_sweep_draws_capacity_p99_and_memory(browser: Any, tmp_path: Path) -> None:
    page_path, json_path = tmp_path / "sizing.html", tmp_path / "sizing.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest_asyncsafe.tune.cli", "fixtures_app.sizing:app", "--path", "/wait",
         "--workers", "1,2", "--p99", "100ms", "--memory", "1GiB", "--max-seconds", "90",
         "--html", str(page_path), "--json", str(json_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"report: {page_path}"
    report = json.loads(json_path.read_text())

    tab, errors = _open(browser, page_path)
    charts = _charts(tab)
    assert errors == []
    assert [(chart["kind"], chart["legend"]) for chart in charts] == [
        ("sweep", ["capacity (req/s)", "p99 (ms)"]),
        ("memory", ["memory needed (MiB): workers x PSS x margin", "PSS per worker (MiB)", "memory limit (MiB)"]),
    ]
    sweep, memory = charts
    assert sweep["xticks"] == 2 and sweep["yticks"] > 0 and sweep["lines"] == 2
    assert memory["xticks"] == 2 and memory["bars"] == 2 and memory["lines"] == 2
    recommendation = report["recommendation"]
    assert tab.inner_text(".recommendation") == (
        f"Recommendation: {recommendation['workers']} worker(s): {recommendation['reason']} "
        f"(bound: {recommendation['bound']})"
    )
    assert tab.title() == "asyncsafe-tune fixtures_app.sizing:app"


def test_a_sweep_draws_capacity_p99_and_memory_against_the_limit(browser: Any, tmp_path: Path) -> None:
    # The sweep's figures are made up, its reason holding markup: what is tested is how
    # they are drawn, and that the markup is text.
    point = {"capacity_rps": 0.0, "p50": 0.002, "p95": 0.004, "p99": 0.006, "error_rate": 0.0,
             "cpu_per_worker": 0.9, "rss_bytes_per_worker": 90 * 2**20, "pss_bytes_per_worker": 60 * 2**20,
             "uss_bytes_per_worker": 50 * 2**20, "loop_busy": 0.8, "loop_lag_p99": 0.01, "threads_in_use": 1,
             "threads_total": 40, "generator_bound": False, "generators": 1}  # fmt: skip
    sweep = {
        "test": None,
        "limits": {"cpus": 2.0, "memory_bytes": 512 * 2**20, "cpus_source": "--cpus", "memory_source": "--memory"},
        "points": [point | {"workers": n, "capacity_rps": 900.0 * n} for n in (1, 2, 4)],
        "recommendation": {"workers": 2, "bound": "cpu", "reason": "2 workers: <b>CPU-bound</b>", "cpu_bound": True},
        "skipped": [],
    }
    path = tmp_path / "sweep.html"
    path.write_text(page({"sweeps": [sweep]}, "asyncsafe-tune app:app"), encoding="utf-8")
    tab, errors = _open(browser, path)
    charts = _charts(tab)
    assert errors == []
    assert [(chart["kind"], chart["legend"]) for chart in charts] == [
        ("sweep", ["capacity (req/s)", "p99 (ms)"]),
        ("memory", ["memory needed (MiB): workers x PSS x margin", "PSS per worker (MiB)", "memory limit (MiB)"]),
    ]
    assert all(chart["xticks"] == 3 and chart["yticks"] > 0 for chart in charts)
    assert tab.inner_text(".recommendation") == "Recommendation: 2 worker(s): 2 workers: <b>CPU-bound</b> (bound: cpu)"
