"""The verdicts the plugin gives a load run and each budget row, as one type: what the
tables print, the JSON keeps and the hooks compare."""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "FAIL"
    #: The generator could not apply the load asked for: neither a pass nor a failure.
    INVALID = "INVALID"
    #: No budget held against the run (none given, or not under --asyncsafe).
    NOT_HELD = "-"


def of_rows(passed: list[bool]) -> Verdict:
    """A run's verdict from its budget rows' (all pass, or it fails)."""
    return Verdict.PASS if all(passed) else Verdict.FAIL
