"""Baselines: saving a session's load runs, comparing a later session's to them, and failing
it on a regression past a limit.  Results are built by hand: no server, no load generator."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import platform
from pathlib import Path

import pytest

from pytest_asyncsafe.runs import LoadRun
from pytest_asyncsafe.session import AsyncsafeSession
from pytest_asyncsafe.settings import ServerSettings, Settings
from pytest_asyncsafe.storage import (
    Limit,
    StorageError,
    change,
    compare,
    format_change,
    load,
    read,
    regressions,
    save,
    saved_names,
)

from .support import run, write_ini
from .test_budget import RECORDING_CONFTEST, make_result

#: Stall thresholds, latency budgets, capacities: these verdicts need the machine to themselves.
pytestmark = pytest.mark.machine

TEST = "tests/test_api.py::test_items"


def runs(
    *specs: tuple[str, str, float] | tuple[str, str, float, dict[int, int]], elapsed: float = 1.0
) -> list[LoadRun]:
    """(test, target, milliseconds every one of 100 requests took[, statuses]) per run."""
    state = AsyncsafeSession(Settings(True, ServerSettings(app=None)))
    for test, target, ms, *statuses in specs:
        result = make_result([ms] * 100, target=target, statuses=statuses[0] if statuses else None, elapsed=elapsed)
        state.record_load(test, result, None, enforce=True)
    return state.loads


# --- limits and changes ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("p95:10%", Limit("p95", 10.0)),
        ("p99:2.5", Limit("p99", 2.5)),
        (" RPS : 5% ", Limit("rps", 5.0)),
        ("error_rate:0%", Limit("error_rate", 0.0)),
    ],
)
def test_a_limit_is_a_metric_and_a_percent(text: str, limit: Limit) -> None:
    assert Limit.parse(text) == limit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("p95:ten", "--asyncsafe-compare-fail: expected METRIC:PERCENT, e.g. p95:10%, got 'p95:ten'"),
        ("p95", "--asyncsafe-compare-fail: expected METRIC:PERCENT, e.g. p95:10%, got 'p95'"),
        ("p95:-5%", "--asyncsafe-compare-fail: expected METRIC:PERCENT, e.g. p95:10%, got 'p95:-5%'"),
        (
            "p96:10%",
            "--asyncsafe-compare-fail: unknown metric 'p96' in 'p96:10%' "
            "(use one of p50, p90, p95, p99, max, mean, rps, error_rate)",
        ),
    ],
)
def test_a_bad_limit_names_the_option(text: str, message: str) -> None:
    with pytest.raises(StorageError) as raised:
        Limit.parse(text)
    assert str(raised.value) == message


def test_change_is_relative_and_from_zero_is_infinite() -> None:
    assert change(0.0121, 0.014) == pytest.approx(0.157, abs=0.001)
    assert change(200.0, 150.0) == -0.25
    assert change(0.0, 0.0) == 0.0
    assert change(0.0, 0.01) == math.inf
    assert change(None, 0.01) is None and change(0.01, None) is None
    assert [format_change(v) for v in (0.157024, -0.25, 0.0, math.inf, None)] == [
        "+15.7%",
        "-25.0%",
        "+0.0%",
        "from zero",
        "?",
    ]


def test_a_limit_is_exceeded_only_past_it_and_for_rps_by_a_drop() -> None:
    p95 = Limit("p95", 10.0)
    assert [p95.exceeded(v) for v in (0.05, 0.1, 0.1001, -0.5, math.inf, None)] == [
        False,
        False,
        True,
        False,
        True,
        False,
    ]
    rps = Limit("rps", 10.0)
    assert [rps.exceeded(v) for v in (0.5, -0.1, -0.1001)] == [False, False, True]
    assert (p95.describe(), rps.describe(), Limit("error_rate", 2.5).describe()) == ("+10%", "-10%", "+2.5%")


# --- saving and loading -------------------------------------------------------------------------
def test_a_save_keeps_every_runs_metrics_by_test_target_and_index(tmp_path: Path) -> None:
    saved_runs = runs(
        (TEST, "GET /items", 10.0), (TEST, "GET /items", 20.0), (TEST, "POST /items", 5.0, {201: 99, 500: 1})
    )
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    path = save(tmp_path, "main", saved_runs, now=when)
    assert path == tmp_path / ".asyncsafe" / "main.json"
    data = json.loads(path.read_text())
    assert (data["format"], data["name"], data["saved"]) == (1, "main", "2026-01-02T03:04:05+00:00")
    assert set(data["machine"]) == {"platform", "python", "cpus"}
    assert data["runs"][2] == {
        "test": TEST,
        "target": "POST /items",
        "index": 0,
        "shape": "10 concurrent, 100 requests",
        "count": 100,
        "invalid": None,
        "metrics": {
            "p50": 0.005,
            "p90": 0.005,
            "p95": 0.005,
            "p99": 0.005,
            "max": 0.005,
            "mean": pytest.approx(0.005),
            "rps": 100.0,
            "error_rate": 0.01,
        },
    }
    baseline = read(path)
    assert list(baseline.runs) == [f"{TEST} GET /items #0", f"{TEST} GET /items #1", f"{TEST} POST /items #0"]
    assert baseline.runs[f"{TEST} GET /items #1"].metrics["p95"] == 0.02
    assert baseline.describe() == "'main' (saved 2026-01-02 03:04 UTC)"
    assert baseline.elsewhere() is None
    other = dataclasses.replace(baseline, machine={**baseline.machine, "platform": "Plan9", "cpus": 512})
    assert other.elsewhere() == f"platform Plan9, Python {platform.python_version()}, 512 CPUs"
    assert not list((tmp_path / ".asyncsafe").glob("*.partial"))


def test_load_finds_a_save_by_name_or_the_most_recent_one(tmp_path: Path) -> None:
    day = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    save(tmp_path, "zeta-old", runs((TEST, "GET /", 1.0)), now=day)
    save(tmp_path, "alpha.new", runs((TEST, "GET /", 2.0)), now=day + datetime.timedelta(days=1))
    save(tmp_path, "middle_1", runs((TEST, "GET /", 3.0)), now=day + datetime.timedelta(hours=1))
    assert saved_names(tmp_path) == ["alpha.new", "middle_1", "zeta-old"]
    assert load(tmp_path, None).name == "alpha.new"
    assert load(tmp_path, "zeta-old").runs[f"{TEST} GET / #0"].metrics["p50"] == 0.001


def test_load_errors_name_the_option_and_what_is_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / ".asyncsafe"
    with pytest.raises(StorageError) as raised:
        load(tmp_path, None)
    assert str(raised.value) == (
        f"--asyncsafe-compare: no saved runs in {folder} (save one with --asyncsafe-save NAME)"
    )
    with pytest.raises(StorageError) as raised:
        load(tmp_path, "main")
    assert str(raised.value) == (
        f"--asyncsafe-compare: no saved run 'main' in {folder} (none saved yet: save one with --asyncsafe-save NAME)"
    )
    save(tmp_path, "b", [])
    save(tmp_path, "a", [])
    with pytest.raises(StorageError) as raised:
        load(tmp_path, "main")
    assert str(raised.value) == f"--asyncsafe-compare: no saved run 'main' in {folder} (saved: a, b)"

    # `--asyncsafe-compare tests` takes the path for the NAME: the error says so.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tests").mkdir()
    with pytest.raises(StorageError, match=r"'tests' is a path: write --asyncsafe-compare=NAME, or put"):
        load(tmp_path, "tests")
    with pytest.raises(StorageError) as raised:
        load(tmp_path, "../x")
    assert str(raised.value) == (
        "--asyncsafe-compare: a name is letters, digits, '.', '_' and '-' (starting with a letter or digit), got '../x'"
    )
    (folder / "broken.json").write_text("{")
    with pytest.raises(StorageError, match=r"^--asyncsafe-compare: cannot read the saved run .*broken.json: "):
        load(tmp_path, "broken")


# --- comparing -------------------------------------------------------------------------------------
def test_compare_matches_runs_and_reports_each_change(tmp_path: Path) -> None:
    before = runs((TEST, "GET /items", 12.1), (TEST, "GET /items", 10.0), ("t::gone", "GET /", 1.0), elapsed=1.0)
    baseline = read(save(tmp_path, "main", before))
    after = runs((TEST, "GET /items", 14.0), (TEST, "GET /items", 10.5), ("t::new", "GET /", 1.0), elapsed=1.25)
    comparisons = compare(baseline, after)
    first, second, new = comparisons
    assert new.saved is None and new.cell("p95") == "new" and new.change("p95") is None
    assert first.cell("p95") == "12.1 ms -> 14.0 ms (+15.7%)"
    assert first.cell("rps") == "100.0 rps -> 80.0 rps (-20.0%)"
    assert first.cell("error_rate") == "0.00% -> 0.00% (+0.0%)"
    assert second.change("p50") == pytest.approx(0.05)

    found = regressions(comparisons, [Limit("p95", 10.0), Limit("rps", 25.0), Limit("p50", 4.0)])
    assert [regression.line() for regression in found] == [
        "tests/test_api.py::test_items GET /items p95 12.1 ms -> 14.0 ms (+15.7%, limit +10%)",
        "tests/test_api.py::test_items GET /items p50 12.1 ms -> 14.0 ms (+15.7%, limit +4%)",
        "tests/test_api.py::test_items GET /items #2 p50 10.0 ms -> 10.5 ms (+5.0%, limit +4%)",
    ]
    found = regressions(comparisons, [Limit("rps", 15.0)])
    assert [regression.line() for regression in found] == [
        "tests/test_api.py::test_items GET /items rps 100.0 rps -> 80.0 rps (-20.0%, limit -15%)",
        "tests/test_api.py::test_items GET /items #2 rps 100.0 rps -> 80.0 rps (-20.0%, limit -15%)",
    ]


def test_errors_from_none_and_invalid_runs_compare_as_they_should(tmp_path: Path) -> None:
    baseline = read(save(tmp_path, "main", runs((TEST, "GET /items", 10.0), ("t::x", "GET /", 1.0))))
    after = runs((TEST, "GET /items", 10.0, {200: 99, 500: 1}), ("t::x", "GET /", 100.0))
    after[1].result.invalid = "the generator lagged"
    comparisons = compare(baseline, after)
    assert comparisons[0].cell("error_rate") == "0.00% -> 1.00% (from zero)"
    assert [r.line() for r in regressions(comparisons, [Limit("error_rate", 50.0), Limit("p99", 0.0)])] == [
        "tests/test_api.py::test_items GET /items error_rate 0.00% -> 1.00% (from zero, limit +50%)"
    ]
    assert not comparisons[1].comparable and comparisons[1].cell("p95") == "invalid"


# --- in a pytest run --------------------------------------------------------------------------------
TRIVIAL = """
def test_nothing():
    pass
"""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--asyncsafe-compare", "--asyncsafe-compare-fail=p95:ten"],
            "ERROR: asyncsafe: --asyncsafe-compare-fail: expected METRIC:PERCENT, e.g. p95:10%, got 'p95:ten'",
        ),
        (
            ["--asyncsafe-compare", "--asyncsafe-compare-fail=p95:10%", "--asyncsafe-compare-fail=latency:10%"],
            "ERROR: asyncsafe: --asyncsafe-compare-fail: unknown metric 'latency' in 'latency:10%' "
            "(use one of p50, p90, p95, p99, max, mean, rps, error_rate)",
        ),
        (
            ["--asyncsafe-compare-fail=p95:10%"],
            "ERROR: asyncsafe: --asyncsafe-compare-fail: needs --asyncsafe-compare (the saved run to compare to)",
        ),
        (
            ["--asyncsafe-compare=nightly"],
            "ERROR: asyncsafe: --asyncsafe-compare: no saved run 'nightly' in */.asyncsafe (saved: main)",
        ),
        (
            ["--asyncsafe-save=my/run"],
            "ERROR: asyncsafe: --asyncsafe-save: a name is letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit), got 'my/run'",
        ),
    ],
    ids=["percent-word", "unknown-metric", "fail-without-compare", "missing-save", "bad-save-name"],
)
def test_a_bad_baseline_option_is_a_usage_error_naming_it(
    pytester: pytest.Pytester, options: list[str], message: str
) -> None:
    write_ini(pytester)
    save(pytester.path, "main", [])
    pytester.makepyfile(test_trivial=TRIVIAL)
    result = run(pytester, *options)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message.replace("[", "[[]")])


def test_compare_to_nothing_saved_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write_ini(pytester)
    pytester.makepyfile(test_trivial=TRIVIAL)
    result = run(pytester, "--asyncsafe-compare")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: asyncsafe: --asyncsafe-compare: no saved runs in */.asyncsafe (save one with --asyncsafe-save NAME)"]
    )


def test_save_then_compare_and_fail_on_a_regression(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write_ini(pytester)
    pytester.makeconftest(RECORDING_CONFTEST)
    pytester.makepyfile(
        test_load="""
        def test_items(fake_load):
            fake_load("GET /items", 12.1)
            fake_load("GET /items", 5)

        def test_health(fake_load):
            fake_load("GET /health", 1)
        """
    )
    result = run(pytester, "--asyncsafe-save=main")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["asyncsafe: saved 3 load run(s) to .asyncsafe/main.json"])
    saved = json.loads((pytester.path / ".asyncsafe" / "main.json").read_text())
    assert [(r["test"], r["target"], r["index"]) for r in saved["runs"]] == [
        ("test_load.py::test_items", "GET /items", 0),
        ("test_load.py::test_items", "GET /items", 1),
        ("test_load.py::test_health", "GET /health", 0),
    ]

    # Every request 14.0/12.1 times slower: +15.7%, and rps down by as much.
    monkeypatch.setenv("SLOWER", str(14.0 / 12.1))
    result = run(
        pytester, "--asyncsafe-compare", "--asyncsafe-compare-fail=p95:10%", "--asyncsafe-compare-fail=rps:20%"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*= asyncsafe: load runs compared to 'main' (saved * UTC) =*",
            "test * target * p50 * p95 * p99 * rps * error_rate",
            "test_load.py::test_items   GET /items     12.1 ms -> 14.0 ms (+15.7%)  12.1 ms -> 14.0 ms (+15.7%)  "
            "12.1 ms -> 14.0 ms (+15.7%)  1000.0 rps -> 864.3 rps (-13.6%)  0.00% -> 0.00% (+0.0%)",
            "test_load.py::test_items   GET /items #2    5.0 ms -> 5.8 ms (+15.7%) *",
            "*= asyncsafe: performance regressed (--asyncsafe-compare-fail p95:10%, rps:20%) =*",
            "test_load.py::test_items GET /items p95 12.1 ms -> 14.0 ms (+15.7%, limit +10%)",
            "test_load.py::test_items GET /items #2 p95 5.0 ms -> 5.8 ms (+15.7%, limit +10%)",
            "test_load.py::test_health GET /health p95 1.0 ms -> 1.2 ms (+15.7%, limit +10%)",
            "*= 2 passed in *",
        ]
    )

    # Within the limits: the comparison is shown, the session passes.
    result = run(pytester, "--asyncsafe-compare=main", "--asyncsafe-compare-fail=p95:20%")
    assert result.ret == pytest.ExitCode.OK
    assert "performance regressed" not in result.stdout.str()
