"""What the run says about stalls: the terminal summary and the JSON file."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from pytest_asyncsafe.durations import format_duration
from pytest_asyncsafe.server import Server
from pytest_asyncsafe.session import AsyncsafeSession, Charged
from pytest_asyncsafe.stalls import Stall


def _where(charged: Charged) -> str:
    frame = charged.stall.blocking_frame
    return frame.location(charged.server.settings.rootdir) if frame else "(no stack: GIL held)"


def _startup_stalls(session: AsyncsafeSession) -> list[tuple[Server, Stall]]:
    """Stalls before the app was ready (imports, lifespan startup): not any test's doing."""
    return [
        (server, stall)
        for server in session.servers
        for stall in server.stalls
        if stall.phase == "startup" and stall.duration() >= server.settings.block_threshold
    ]


def terminal_summary(session: AsyncsafeSession, terminal: pytest.TerminalReporter) -> None:
    startup = _startup_stalls(session)
    if not session.charged and not startup:
        return
    terminal.section("asyncsafe: event loop stalls")
    # Allowed stalls apart from failing ones at the same place: each line says which it is.
    by_place: dict[tuple[str, bool], list[Charged]] = defaultdict(list)
    for charged in session.charged:
        by_place[_where(charged), charged.allowed].append(charged)
    for (place, allowed_here), group in sorted(by_place.items(), key=lambda item: -max(c.duration for c in item[1])):
        worst = max(c.duration for c in group)
        tests = sorted({c.test for c in group})
        allowed = " (allowed)" if allowed_here else ""
        terminal.write_line(
            f"{len(group)} stall(s), worst {format_duration(worst)}{allowed}: {place}  [{', '.join(tests)}]"
        )
    for server, stall in startup:
        frame = stall.blocking_frame
        where = frame.location(server.settings.rootdir) if frame else "(no stack: GIL held)"
        terminal.write_line(
            f"1 stall during startup (not charged to a test), {format_duration(stall.duration())} "
            f"in worker pid {stall.pid}: {where}"
        )


def write_json(session: AsyncsafeSession, path: Path) -> None:
    charged = [
        {**c.stall.to_json(c.server.settings.rootdir, c.test), "duration": c.duration, "threshold": c.threshold,
         "allowed": c.allowed}  # fmt: skip
        for c in session.charged
    ]
    startup = [stall.to_json(server.settings.rootdir, None) for server, stall in _startup_stalls(session)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"stalls": charged, "startup_stalls": startup}, indent=2) + "\n")
