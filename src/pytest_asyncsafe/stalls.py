"""Loop stalls: what a worker reported, which test they belong to, and how they read."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_asyncsafe.durations import format_duration


@dataclass(frozen=True, slots=True)
class Frame:
    file: str
    line: int
    function: str
    code: str
    user: bool

    def location(self, root: Path) -> str:
        try:
            shown = os.path.relpath(self.file, root) if os.path.isabs(self.file) else self.file
        except ValueError:
            shown = self.file
        return f"{self.file if shown.startswith('..') else shown}:{self.line} in {self.function}"


@dataclass(frozen=True, slots=True)
class Stall:
    pid: int
    start: float
    #: None while the stall is still going on.
    end: float | None
    phase: str
    requests: tuple[dict[str, Any], ...]
    stack: tuple[Frame, ...]
    samples: int

    @classmethod
    def from_event(cls, event: dict[str, Any], *, ongoing: bool = False) -> Stall:
        return cls(
            pid=event["pid"],
            start=event["start"],
            end=None if ongoing else event["end"],
            phase=event["phase"],
            requests=tuple(event["requests"]),
            stack=tuple(Frame(**frame) for frame in event["stack"]),
            samples=event.get("samples", 1),
        )

    @property
    def ongoing(self) -> bool:
        return self.end is None

    def duration(self, now: float | None = None) -> float:
        end = self.end if self.end is not None else (now if now is not None else time.monotonic())
        return end - self.start

    @property
    def blocking_frame(self) -> Frame | None:
        """The innermost frame of the user's own code (not the stdlib, not a library)."""
        user = [frame for frame in self.stack if frame.user]
        return user[-1] if user else (self.stack[-1] if self.stack else None)

    def to_json(self, root: Path, test: str | None) -> dict[str, Any]:
        frame = self.blocking_frame
        return {
            "test": test,
            "pid": self.pid,
            "duration": self.duration(),
            "ongoing": self.ongoing,
            "phase": self.phase,
            "requests": [{"method": r["method"], "path": r["path"], "responded": r["responded"]} for r in self.requests],
            "where": frame.location(root) if frame else None,
            "stack": [{"file": f.file, "line": f.line, "function": f.function, "code": f.code} for f in self.stack],
        }


def during(stalls: Iterable[Stall], start: float, end: float) -> list[Stall]:
    """The stalls that began in [start, end): a stall belongs to the test it began in."""
    return [stall for stall in stalls if start <= stall.start < end]


def describe(stall: Stall, length: float, threshold: float, root: Path) -> str:
    """The report of one stall, `length` long when it was charged."""
    shown = format_duration(length)
    if stall.ongoing:
        shown = f"at least {shown} (still blocked when the test ended)"
    lines = [f"asyncsafe: event loop blocked for {shown} in worker pid {stall.pid} (threshold {format_duration(threshold)})"]
    for request in stall.requests:
        after = " (after its response: a background task)" if request["responded"] else ""
        lines.append(f"  while serving: {request['method']} {request['path']}{after}")
    if not stall.requests:
        lines.append("  while serving: no request (startup, or a task of the app's own)")
    frame = stall.blocking_frame
    if frame is None:
        lines.append("  no stack: the loop's thread held the GIL for the whole stall (C code that does not release it)")
    else:
        lines.append(f"  {frame.location(root)}")
        if frame.code:
            lines.append(f"      {frame.code}")
    return "\n".join(lines)
