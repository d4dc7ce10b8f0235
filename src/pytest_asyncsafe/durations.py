"""Durations as users write them in options, ini files and markers: `250ms`, `2s`, `1.5`."""

from __future__ import annotations

import math
import re

_DURATION = re.compile(r"^\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|m)?\s*$")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def parse_duration(value: str | float, what: str) -> float:
    """Seconds; `what` names the option or marker in the error a bad value gets."""
    invalid = ValueError(f"{what}: invalid duration {value!r} (use e.g. 250ms, 2s or 1.5)")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if not math.isfinite(seconds):  # an endless wait is never what a bound means
            raise invalid
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise invalid
        seconds = float(match.group("number")) * _SCALE[match.group("unit")]
    if seconds < 0:
        raise ValueError(f"{what}: a duration cannot be negative ({value!r})")
    return seconds


def format_duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"
