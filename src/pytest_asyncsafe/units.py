"""How values read in every report: milliseconds, rates, requests a second, sizes, a
budget metric's value, the unfinished requests of a run, and aligned tables of them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def format_ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms >= 1 or ms == 0 else f"{ms:.2f} ms"


def format_rate(fraction: float) -> str:
    percent = fraction * 100
    return f"{percent:.2f}%" if percent == 0 or percent >= 0.01 else f"{percent:.2g}%"


def format_rps(rps: float) -> str:
    return f"{rps:.1f}"


def format_bytes(size: float) -> str:
    """`1.3 GiB`, `512.0 MiB`: binary units, as container limits are written."""
    if math.isnan(size):
        return "-"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:.0f} B"


def describe_unfinished(waits: Sequence[float]) -> str:
    """`3 unfinished (waited 1.02-1.18 s)`: the requests a run ended without an answer to."""
    shortest, longest = f"{min(waits):.2f}", f"{max(waits):.2f}"
    waited = longest if shortest == longest else f"{shortest}-{longest}"
    return f"{len(waits)} unfinished (waited {waited} s)"


def format_metric(metric: str, value: float) -> str:
    """A value of a `LoadResult.metric` (or a budget keyword's bound), as the tables show it."""
    if metric == "error_rate":
        return format_rate(value)
    if metric in ("rps", "min_rps"):
        return f"{format_rps(value)} rps"
    return format_ms(value)


def table(
    header: Sequence[str], rows: Iterable[Sequence[str]], *, right: Sequence[int] = (), pipes: bool = True
) -> list[str]:
    """Aligned columns: a header, a rule, the rows; `right` are the right-aligned columns.
    With `pipes`, `a | b` and a `--+--` rule; without, columns two spaces apart."""
    body = [list(row) for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *body, strict=True)]
    sep = " | " if pipes else "  "

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return sep.join(padded).rstrip()

    rule = (
        "-+-".join("-" * width for width in widths) if pipes else "-" * sum(widths) + "-" * len(sep) * (len(widths) - 1)
    )
    return [line(header), rule, *(line(row) for row in body)]


def json_number(value: float) -> float | None:
    """`value` for a JSON document: NaN and infinities (no value) as null."""
    return value if math.isfinite(value) else None
