"""The run as one self-contained HTML page (`--asyncsafe-html`, `asyncsafe-tune --html`):
the model `rundata` builds (what `--asyncsafe-json` writes), drawn with plotly.js, which
the `report` extra's plotly package ships and this page inlines: no network is needed to
open it.  The one module that imports plotly.

It shows, it never runs: every string from the app, the tests or the requests is
escaped (`html.escape` in the page; in a chart, where plotly.js reads a few tags, as
entities it shows as text), and the charts travel as JSON in a
`<script type="application/json">` whose `<`, `>` and `&` are escaped, so no value can
close it."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from pytest_asyncsafe.budget import PERCENTILE_KEYS
from pytest_asyncsafe.tune.recommend import MEMORY_MARGIN
from pytest_asyncsafe.units import format_metric

INSTALL = "pip install 'pytest-asyncsafe[report]'"
_MS = 1000.0
_BAND_COLOURS = {"stall": "#d62728", "thread pool dry": "#ff7f0e", "saturated": "#9467bd"}


class MissingExtra(Exception):
    """The `report` extra (plotly) is not installed."""


def require() -> None:
    """Fail at once, with how to install it, when the extra is missing."""
    _plotly_js()


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError:
        raise MissingExtra(f"the HTML report draws its charts with plotly, which is not installed: {INSTALL}") from None
    return str(get_plotlyjs())


def write(path: Path, data: dict[str, Any], title: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(data, title), encoding="utf-8")


def page(data: dict[str, Any], title: str) -> str:
    charts = _Charts()
    body = [f"<h1>{_e(title)}</h1>"]
    if data.get("overview") is not None:
        body.append(_overview(data))
    for number, run in enumerate(data.get("load_runs", []), 1):
        body.append(_load_run(number, run, charts))
    stalls = [*data.get("stalls", []), *data.get("startup_stalls", [])]
    if stalls:
        body.append("<h2>Event loop stalls</h2>")
        body += [_stall_card(stall) for stall in stalls]
    for drain in data.get("drains", []):
        body.append(_drain(drain, charts))
    for sweep in data.get("sweeps", []):
        body.append(_sweep(sweep, charts))
    figures = _script_json(charts.figures)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{_STYLE}</style>
<script>{_plotly_js()}</script>
</head><body>
{"".join(body)}
<script type="application/json" id="asyncsafe-figures">{figures}</script>
<script>{_DRAW}</script>
</body></html>
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _script_json(value: object) -> str:
    """JSON that cannot end the script element it is in, whatever its strings hold."""
    text = json.dumps(_finite(value), allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities as null: JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


class _Charts:
    """The page's figures, each drawn into the div of its id by `_DRAW`."""

    def __init__(self) -> None:
        self.figures: list[dict[str, Any]] = []

    def add(self, kind: str, traces: list[dict[str, Any]], layout: dict[str, Any]) -> str:
        chart = f"chart-{len(self.figures) + 1}"
        base = {"margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "height": 340, "hovermode": "closest"}
        self.figures.append({"id": chart, "data": traces, "layout": base | layout})
        return f'<div class="chart" id="{chart}" data-kind="{kind}"></div>'


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * _MS:.1f} ms"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A table of cells already escaped."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _verdict(verdict: str) -> str:
    kind = {"pass": "pass", "FAIL": "fail", "INVALID": "warn"}.get(verdict, "none")
    return f'<span class="verdict {kind}">{_e(verdict)}</span>'


# --- the overview --------------------------------------------------------------------------
def _overview(data: dict[str, Any]) -> str:
    overview = data["overview"]
    checks = [
        [_e(name.replace("_", " ")), str(tally["passed"]), _failed(tally["failed"])]
        for name, tally in overview["checks"].items()
    ]
    parts = ['<section id="overview"><h2>Overview</h2>', _table(["check", "passed", "failed"], checks)]
    worst = overview["worst_stall"]
    if worst is not None:
        parts.append(
            f'<p class="worst">Worst stall: <b>{_ms(worst["duration"])}</b>{" (allowed)" if worst["allowed"] else ""} '
            f"in worker pid {_e(worst['pid'])} at <code>{_e(worst['where'])}</code> during <code>{_e(worst['test'])}</code></p>"
        )
    runs = [
        [f'<a href="#run-{n}">{_e(run["test"])}</a>', _e(run["target"]), _e(run["shape"]["description"]),
         str(run["count"]), _ms(run["p99"]), _verdict(run["verdict"])]
        for n, run in enumerate(data["load_runs"], 1)
    ]  # fmt: skip
    if runs:
        parts += ["<h3>Load runs</h3>", _table(["test", "target", "shape", "requests", "p99", "verdict"], runs)]
    if overview["servers"]:
        parts.append("<h3>Server command line mirrored</h3>")
        parts += [f"<pre class='command'>{_e(command)}</pre>" for command in overview["servers"]]
    parts.append("</section>")
    return "".join(parts)


def _failed(count: int) -> str:
    return f'<span class="verdict fail">{count}</span>' if count else "0"


# --- load runs -------------------------------------------------------------------------------
def _load_run(number: int, run: dict[str, Any], charts: _Charts) -> str:
    title = f"{run['test']} {run['target']}"
    rows = [
        [_e(row["metric"]), _e(format_metric(row["metric"], row["budget"])),
         _e("-" if row["measured"] is None else format_metric(row["metric"], row["measured"])),
         _verdict("pass" if row["passed"] else "FAIL")]
        for row in run["budget_rows"]
    ]  # fmt: skip
    figures = [_spectrum(run, charts), _over_time(run, charts), _workers(run, charts)]
    return (
        f'<section class="run" id="run-{number}"><h2>Load run: {_e(title)} {_verdict(run["verdict"])}</h2>'
        f"<p>{_e(run['shape']['description'])}: {run['count']} requests, {run['rps']:.0f} req/s, "
        f"p50 {_ms(run['p50'])}, p99 {_ms(run['p99'])}, max {_ms(run['max'])}, "
        f"errors {run['error_rate']:.2%}{'; invalid: ' + _e(run['invalid']) if run['invalid'] else ''}</p>"
        + (_table(["metric", "budget", "measured", "verdict"], rows) if rows else "")
        + "".join(figures)
        + "</section>"
    )


def _nines(percentile: float, count: int) -> float:
    """Where a percentile sits on the "nines" axis: 1 / (1 - q); the max at the count."""
    return float(max(count, 2)) if percentile >= 100 else 1 / (1 - percentile / 100)


def _spectrum(run: dict[str, Any], charts: _Charts) -> str:
    count = run["count"]
    points = run["spectrum"]
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter", "mode": "lines", "name": "latency",
            "x": [_nines(q, count) for q, _ in points], "y": [latency * _MS for _, latency in points],
            "customdata": [q for q, _ in points],
            "hovertemplate": "p%{customdata:.4f}: %{y:.2f} ms<extra></extra>",
        }
    ]  # fmt: skip
    budget = run["budget"] or {}
    bounds = [(key, bound) for key, bound in budget.items() if key in PERCENTILE_KEYS]
    if bounds:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for key, bound in bounds:
            xs += [1.0, _nines(PERCENTILE_KEYS[key], count), None]
            ys += [bound * _MS, bound * _MS, None]
        traces.append(
            {"type": "scatter", "mode": "lines+markers", "name": "budget", "x": xs, "y": ys,
             "line": {"dash": "dash", "color": "#d62728"}, "hovertemplate": "budget %{y:.1f} ms<extra></extra>"}
        )  # fmt: skip
    top = max(_nines(100, count), 10.0)
    ticks = [1.0, 2.0] + [10.0**power for power in range(1, 8) if 10.0**power <= top]
    return charts.add(
        "spectrum",
        traces,
        {
            "title": {"text": "Percentile spectrum"},
            "xaxis": {"type": "log", "title": {"text": "percentile"}, "tickvals": ticks,
                      "ticktext": [_percent_label(tick) for tick in ticks]},
            "yaxis": {"title": {"text": "latency (ms)"}, "rangemode": "tozero"},
        },
    )  # fmt: skip


def _percent_label(nines: float) -> str:
    return f"{100 * (1 - 1 / nines):.{max(0, len(str(int(nines))) - 3)}f}%"


def _over_time(run: dict[str, Any], charts: _Charts) -> str:
    drawn = run["over_time"]
    name = "request" if drawn["every"] else "slowest request of each slice"
    start = "scheduled start" if run["open_loop"] else "sent"
    target = _e(run["target"])
    traces: list[dict[str, Any]] = [
        {"type": "scattergl", "mode": "markers", "name": name, "x": drawn["start"],
         "y": [latency * _MS for latency in drawn["latency"]], "marker": {"size": 4},
         "hovertemplate": f"{target}<br>{start} %{{x:.3f}} s: %{{y:.2f}} ms<extra></extra>"}
    ]  # fmt: skip
    if drawn["median"]:
        traces.append(
            {"type": "scattergl", "mode": "lines", "name": "median of each slice", "x": drawn["median_start"],
             "y": [latency * _MS for latency in drawn["median"]]}
        )  # fmt: skip
    shapes = []
    for band in run["bands"]:
        colour = _BAND_COLOURS[band["kind"]]
        shapes.append(
            {"type": "rect", "xref": "x", "yref": "paper", "x0": band["start"], "x1": band["end"], "y0": 0, "y1": 1,
             "fillcolor": colour, "opacity": 0.2, "line": {"width": 0}, "layer": "below"}
        )  # fmt: skip
        traces.append(
            {"type": "scatter", "mode": "markers", "name": band["kind"], "x": [(band["start"] + band["end"]) / 2],
             "y": [0], "marker": {"color": colour, "symbol": "triangle-up", "size": 10},
             "hovertext": [_e(band["label"])], "hoverinfo": "text"}
        )  # fmt: skip
    budget = run["budget"] or {}
    for key in ("p99", "p95", "p90", "p50", "max"):
        if key in budget:
            shapes.append(
                {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": budget[key] * _MS, "y1": budget[key] * _MS,
                 "line": {"dash": "dash", "color": "#d62728"}}
            )  # fmt: skip
            break
    return charts.add(
        "over-time",
        traces,
        {
            "title": {"text": f"Latency over time (each request at its {start})"},
            "xaxis": {"title": {"text": "seconds into the run"}},
            "yaxis": {"title": {"text": "latency (ms)"}, "rangemode": "tozero"},
            "shapes": shapes,
        },
    )


def _workers(run: dict[str, Any], charts: _Charts) -> str:
    busy = {worker["pid"]: worker["busy"] for worker in run["saturation"]}
    pools = {pool["pid"]: pool for pool in run["threadpool"]}
    pids = sorted({*map(int, run["per_worker"]), *busy, *pools})
    names = [f"pid {pid}" for pid in pids]
    traces: list[dict[str, Any]] = [
        {"type": "bar", "name": "requests", "x": names, "y": [run["per_worker"].get(str(pid), 0) for pid in pids]},
        {"type": "bar", "name": "loop busy %", "x": names, "xaxis": "x2", "yaxis": "y2",
         "y": [None if busy.get(pid) is None else busy[pid] * 100 for pid in pids]},
        {"type": "bar", "name": "threads in use at most", "x": names, "xaxis": "x3", "yaxis": "y3",
         "y": [pools[pid]["peak_in_use"] if pid in pools else None for pid in pids]},
        {"type": "scatter", "mode": "markers", "name": "thread pool size", "x": names, "xaxis": "x3", "yaxis": "y3",
         "y": [pools[pid]["total"] if pid in pools else None for pid in pids], "marker": {"symbol": "line-ew-open",
                                                                                          "size": 30}},
    ]  # fmt: skip
    return charts.add(
        "workers",
        traces,
        {
            "title": {"text": "Per worker: requests, loop busy share, thread pool"},
            "showlegend": False,
            "xaxis": {"domain": [0, 0.28], "title": {"text": "requests"}},
            "xaxis2": {"domain": [0.36, 0.64], "anchor": "y2", "title": {"text": "loop busy %"}},
            "xaxis3": {"domain": [0.72, 1], "anchor": "y3", "title": {"text": "threads (in use / pool)"}},
            "yaxis": {"rangemode": "tozero"},
            "yaxis2": {"anchor": "x2", "range": [0, 100]},
            "yaxis3": {"anchor": "x3", "rangemode": "tozero"},
        },
    )


# --- stalls ----------------------------------------------------------------------------------
def _stall_card(stall: dict[str, Any]) -> str:
    test = stall["test"] if stall["test"] is not None else "startup (no test)"
    frames = "".join(
        f'<li class="{"own" if frame["user"] else "lib"}"><code>{_e(frame["file"])}:{frame["line"]} in '
        f"{_e(frame['function'])}</code><br><code class='src'>{_e(frame['code'])}</code></li>"
        for frame in stall["stack"]
    )
    context = stall["context"]
    source = ""
    if context is not None:
        source = "<pre class='source'>" + "".join(
            f'<span class="{"blocking" if number == context["line"] else "line"}">{number:>5}  {_e(text)}</span>\n'
            for number, text in context["lines"]
        ) + "</pre>"  # fmt: skip
    allowed = " (allowed)" if stall.get("allowed") else ""
    culprit = _e(stall["culprit"]) if stall["culprit"] else "no request (code outside any request)"
    return (
        f'<div class="stall card"><h3>{_ms(stall["duration"])} stall{allowed} in worker pid {stall["pid"]}</h3>'
        f"<p>test <code>{_e(test)}</code>; blocking request: <code>{culprit}</code>; at "
        f"<code>{_e(stall['where'])}</code></p>{source}"
        f"<details open><summary>stack (the app's own frames marked)</summary><ol class='stack'>{frames}</ol>"
        "</details></div>"
    )


# --- drains ------------------------------------------------------------------------------------
def _drain(drain: dict[str, Any], charts: _Charts) -> str:
    traces: list[dict[str, Any]] = []
    spans = drain["in_flight"]
    if spans:
        traces.append(
            {"type": "bar", "orientation": "h", "name": "in-flight request",
             "y": [f"request {n}" for n in range(1, len(spans) + 1)],
             "base": [span["sent"] for span in spans], "x": [span["ended"] - span["sent"] for span in spans],
             "marker": {"color": ["#d62728" if span["failed"] else "#2ca02c" for span in spans]},
             "hovertext": [_e(span["failed"] or "answered in full") for span in spans], "hoverinfo": "text+x"}
        )  # fmt: skip
    for outcome, symbol in (("completed", "circle"), ("refused", "x"), ("reset", "x-open"), ("failed", "diamond")):
        sent = [request["sent"] for request in drain["traffic"] if request["outcome"] == outcome]
        if sent:
            traces.append(
                {"type": "scatter", "mode": "markers", "name": f"traffic {outcome}", "x": sent,
                 "y": [f"traffic {outcome}"] * len(sent), "marker": {"symbol": symbol, "size": 8}}
            )  # fmt: skip
    for worker in drain["lifespan"]:
        if worker["began"] is not None:
            end = worker["ended"] if worker["ended"] is not None else drain["exited"]
            traces.append(
                {"type": "bar", "orientation": "h", "name": f"lifespan shutdown ({worker['outcome']})",
                 "y": [f"lifespan pid {worker['pid']}"], "base": [worker["began"]], "x": [end - worker["began"]],
                 "marker": {"color": "#1f77b4" if worker["outcome"] == "completed" else "#d62728"},
                 "hovertext": [_e(f"{worker['outcome']} {worker['raised']}".strip())], "hoverinfo": "text+x"}
            )  # fmt: skip
    if drain["leaked_tasks"]:
        traces.append(
            {"type": "scatter", "mode": "markers", "name": "leaked tasks", "x": [drain["exited"]] * len(
                drain["leaked_tasks"]), "y": ["leaked tasks"] * len(drain["leaked_tasks"]),
             "marker": {"symbol": "star", "size": 12, "color": "#d62728"},
             "hovertext": [_e(task) for task in drain["leaked_tasks"]], "hoverinfo": "text"}
        )  # fmt: skip
    lines = [(0.0, "SIGTERM"), (drain["exited"], "exit")]
    if drain["prestop"] or drain["traffic"]:
        lines.append((drain["terminating"], "termination begins (preStop)"))
    shapes = [
        {"type": "line", "xref": "x", "yref": "paper", "x0": at, "x1": at, "y0": 0, "y1": 1,
         "line": {"dash": "dot", "color": "#444"}}
        for at, _ in lines
    ]  # fmt: skip
    annotations = [
        {"x": at, "y": 1, "xref": "x", "yref": "paper", "text": label, "showarrow": False, "yanchor": "bottom"}
        for at, label in lines
    ]
    chart = charts.add(
        "drain",
        traces,
        {
            "title": {"text": "Drain: from SIGTERM to exit", "y": 0.98},
            "barmode": "overlay",
            "xaxis": {"title": {"text": "seconds from SIGTERM"}},
            "yaxis": {"type": "category", "automargin": True},
            "shapes": shapes,
            "annotations": annotations,
        },
    )
    problems = "".join(f"<li>{_e(problem)}</li>" for problem in drain["problems"])
    verdict = _verdict("pass" if drain["clean"] else "FAIL")
    return (
        f'<section class="drain"><h2>Drain: {_e(drain["test"])} {verdict}</h2>'
        f"<p>{_e(drain['server'])}, {drain['workers']} worker(s), {_e(drain['request'])} in flight; "
        f"exit {_e(drain['exit_code'])} after {drain['exited']:.2f} s</p>"
        + (f"<ul class='problems'>{problems}</ul>" if problems else "")
        + chart
        + "</section>"
    )


# --- capacity sweeps ---------------------------------------------------------------------------
def _sweep(sweep: dict[str, Any], charts: _Charts) -> str:
    points = sweep["points"]
    workers = [point["workers"] for point in points]
    chosen = sweep["recommendation"]["workers"]
    capacity = charts.add(
        "sweep",
        [
            {"type": "scatter", "mode": "lines+markers", "name": "capacity (req/s)", "x": workers,
             "y": [point["capacity_rps"] for point in points]},
            {"type": "scatter", "mode": "lines+markers", "name": "p99 (ms)", "x": workers, "yaxis": "y2",
             "y": [None if point["p99"] is None else point["p99"] * _MS for point in points]},
        ],
        {
            "title": {"text": "Capacity and p99 against workers"},
            "xaxis": {"title": {"text": "workers"}, "tickvals": workers},
            "yaxis": {"title": {"text": "capacity (req/s)"}, "rangemode": "tozero"},
            "yaxis2": {"title": {"text": "p99 (ms)"}, "overlaying": "y", "side": "right", "rangemode": "tozero"},
            "shapes": [_vertical(chosen)],
        },
    )  # fmt: skip
    limit = sweep["limits"]["memory_bytes"] / 2**20
    memory = charts.add(
        "memory",
        [
            {"type": "bar", "name": "memory needed (MiB): workers x PSS x margin", "x": workers,
             "y": [point["workers"] * point["pss_bytes_per_worker"] * MEMORY_MARGIN / 2**20 for point in points]},
            {"type": "scatter", "mode": "lines+markers", "name": "PSS per worker (MiB)", "x": workers,
             "y": [point["pss_bytes_per_worker"] / 2**20 for point in points]},
            {"type": "scatter", "mode": "lines", "name": "memory limit (MiB)", "x": workers, "y": [limit] * len(points),
             "line": {"dash": "dash", "color": "#d62728"}},
        ],
        {
            "title": {"text": "Memory per worker against the limit"},
            "xaxis": {"title": {"text": "workers"}, "tickvals": workers},
            "yaxis": {"title": {"text": "MiB"}, "rangemode": "tozero"},
        },
    )  # fmt: skip
    recommendation = sweep["recommendation"]
    test = f": {_e(sweep['test'])}" if sweep.get("test") else ""
    return (
        f'<section class="sweep"><h2>Capacity sweep{test}</h2>'
        f"<p class='recommendation'>Recommendation: <b>{recommendation['workers']} worker(s)</b>: "
        f"{_e(recommendation['reason'])} (bound: {_e(recommendation['bound'])})</p>"
        f"<p>limits: {sweep['limits']['cpus']:g} CPUs ({_e(sweep['limits']['cpus_source'])}), {limit:.0f} MiB "
        f"({_e(sweep['limits']['memory_source'])})</p>{capacity}{memory}</section>"
    )


def _vertical(x: float) -> dict[str, Any]:
    return {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
            "line": {"dash": "dot", "color": "#2ca02c"}}  # fmt: skip


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f4f4f4}.verdict{font-weight:bold;padding:0 .3em;border-radius:3px}
.verdict.pass{color:#1a7f37}.verdict.fail{color:#fff;background:#cf222e}.verdict.warn{background:#ffd33d}
.chart{min-height:340px;margin:.8em 0}pre{background:#f6f8fa;padding:.6em;overflow-x:auto}
.card{border:1px solid #ddd;border-left:4px solid #cf222e;padding:.4em 1em;margin:1em 0;border-radius:4px}
.source .blocking{background:#ffebe9;font-weight:bold;display:inline-block;width:100%}
.stack li.own{font-weight:bold}.stack li.own::marker{content:"\\25B6  ";color:#cf222e}
.stack li.lib{color:#666}.src{white-space:pre}
"""

#: Draws each figure into its div; the figures are data, never markup.
_DRAW = """
(function () {
  var figures = JSON.parse(document.getElementById("asyncsafe-figures").textContent);
  figures.forEach(function (figure) {
    Plotly.newPlot(figure.id, figure.data, figure.layout, {responsive: true, displaylogo: false});
  });
  document.body.setAttribute("data-charts-drawn", String(figures.length));
})();
"""
