"""What `make demo` means to show, said at the end of its run: which tests fail on purpose
and why, and whether every test ended the way the demo intends.

A test marked `@pytest.mark.intended_failure("why")` is meant to fail under `--asyncsafe`;
every other test (the plugin's own `asyncsafe::shutdown` item included) is meant to pass.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

#: nodeid -> why it is meant to fail, for the tests collected.
INTENDED = pytest.StashKey[dict[str, str]]()
#: The nodeids selected to run, in order.
COLLECTED = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "intended_failure(reason): the demo shows this test failing, for this reason")


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[COLLECTED] = [item.nodeid for item in session.items]
    session.config.stash[INTENDED] = {
        item.nodeid: str(marker.args[0])
        for item in session.items
        if (marker := item.get_closest_marker("intended_failure")) is not None
    }


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    intended = config.stash.get(INTENDED, {})
    collected = config.stash.get(COLLECTED, [])
    if not collected:
        return
    # What each test ended as: the categories its reports were counted in ("passed",
    # "failed", "error", "skipped", the plugin's "invalid"...), setup and teardown included.
    ended: dict[str, set[str]] = defaultdict(set)
    for kind, reports in terminalreporter.stats.items():
        for report in reports:
            if kind and isinstance(report, pytest.TestReport):
                ended[report.nodeid].add(kind)
    failed = {nodeid for nodeid, kinds in ended.items() if kinds & {"failed", "error"}}
    width = max(len(_name(nodeid)) for nodeid in collected)
    terminalreporter.section("demo: what was meant to happen")
    as_intended = [nodeid for nodeid in intended if nodeid in failed]
    if as_intended:
        terminalreporter.write_line(f"{len(as_intended)} failed on purpose, each for its hazard:")
        for nodeid in as_intended:
            terminalreporter.write_line(f"  {_name(nodeid):<{width}}  {intended[nodeid]}")
    passed = [nodeid for nodeid in collected if ended.get(nodeid) == {"passed"} and nodeid not in intended]
    terminalreporter.write_line(f"{len(passed)} passed, as they should: the safe routes, clean loads and clean drains.")
    surprises = [
        f"  UNEXPECTED: {_name(nodeid)} {_outcome(ended[nodeid])}; it is meant to pass"
        for nodeid in collected
        if nodeid in ended and nodeid not in intended and ended[nodeid] != {"passed"}
    ] + [
        f"  UNEXPECTED: {_name(nodeid)} {_outcome(ended[nodeid])}; it is meant to fail ({intended[nodeid]})"
        for nodeid in intended
        if nodeid in ended and nodeid not in failed
    ]
    for line in surprises:
        terminalreporter.write_line(line, red=True)
    if not surprises:
        terminalreporter.write_line("Every test ended as the demo intends.", green=True)


def _outcome(kinds: set[str]) -> str:
    if kinds & {"failed", "error"}:
        return "failed"
    other = sorted(kinds - {"passed"})
    return f"ended {', '.join(other)}" if other else "passed"


def _name(nodeid: str) -> str:
    return nodeid.rpartition("::")[2] or nodeid
