"""What the plugin tests share: the pytester project around fixtures_app, running it,
and reading the run's outcome."""

from __future__ import annotations

import os
import re
import textwrap
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = REPO_ROOT / "fixtures_app"
#: Every pytester run is bounded: a hung server must fail the suite, not stall it.
RUN_TIMEOUT = 120.0


def write_ini(
    pytester: pytest.Pytester,
    *,
    app: str = "fixtures_app.main:app",
    lint: bool = False,
    shutdown: bool = False,
    extra: str = "",
) -> None:
    # The lint and shutdown items are off unless a test is about them: they would add
    # an item to every run's outcome.
    lines = [
        "[pytest]",
        f"asyncsafe_app = {app}",
        f"asyncsafe_lint = {str(lint).lower()}",
        f"asyncsafe_shutdown = {str(shutdown).lower()}",
        textwrap.dedent(extra).strip(),
    ]
    pytester.makeini("\n".join(lines) + "\n")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Hypothesis's plugin costs every pytest process a third of a second to import, and
    # no inner session uses it: over the suite's ~60 sessions, some 20 s.
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args, timeout=RUN_TIMEOUT
    )


def app_line(relative: str, fragment: str) -> tuple[int, int, str]:
    """(line, column, stripped source) of the one line of `fixtures_app/<relative>` that
    holds `fragment`: line numbers are looked up, never written into a test."""
    lines = (APP_DIR / relative).read_text(encoding="utf-8").splitlines()
    found = [(number, line) for number, line in enumerate(lines, start=1) if fragment in line]
    assert len(found) == 1, f"{fragment!r} is on {len(found)} lines of fixtures_app/{relative}"
    number, line = found[0]
    return number, line.index(fragment) + 1, line.strip()


def function_lines(relative: str, name: str) -> range:
    """The lines of the body of `def name` / `async def name` in `fixtures_app/<relative>`."""
    lines = (APP_DIR / relative).read_text(encoding="utf-8").splitlines()
    start = next(n for n, line in enumerate(lines, start=1) if re.match(rf"\s*(async )?def {name}\(", line))
    indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
    end = start
    for number in range(start + 1, len(lines) + 1):
        text = lines[number - 1]
        if text.strip() and len(text) - len(text.lstrip()) <= indent and not text.lstrip().startswith(")"):
            break
        end = number
    return range(start, end + 1)


def literal(text: str) -> str:
    """`text` as an fnmatch pattern that matches only itself."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def stall_report(
    *,
    request: str,
    where: str,
    function: str,
    code: str | None = None,
    threshold: str = "100 ms",
    after_response: bool | None = False,
    waited: int = 0,
) -> list[str]:
    """The lines `fnmatch_lines` expects for one stall (the duration and pid vary);
    `where` is a pattern (`path:*` when the line varies); `after_response=None` when
    either is right; `waited`: how many other requests the report says waited."""
    after = {True: " (after its response: a background task)", False: "", None: "*"}[after_response]
    lines = [
        f"asyncsafe: event loop blocked for * ms in worker pid * (threshold {threshold})",
        f"  while serving: {literal(request)}{after}",
        *([f"  and {waited} other request{'s' if waited != 1 else ''} waited"] if waited else []),
        f"  {where} in {function}",
    ]
    if code is not None:
        lines.append(f"      {literal(code)}")
    return lines


def outcomes(result: pytest.RunResult, word: str) -> set[str]:
    """The node ids the short summary lists as FAILED or ERROR (`word`)."""
    found = set()
    for line in result.outlines:
        if line.startswith(f"{word} "):
            found.add(line[len(word) + 1 :].split(" - ", 1)[0].strip())
    return found


#: What the inner tests print (with `-s`) so the outer test knows the server's processes.
PRINT_PIDS = 'print("ASYNCSAFE-PIDS", asyncsafe_server.pid, *asyncsafe_server.worker_pids, flush=True)'


def printed_pids(lines: Iterable[str]) -> list[int]:
    """The pids a `PRINT_PIDS` line printed: the server's, then its workers'."""
    for line in lines:
        match = re.search(r"ASYNCSAFE-PIDS((?: \d+)+)", line)
        if match:
            return [int(word) for word in match.group(1).split()]
    raise AssertionError("no ASYNCSAFE-PIDS line in the output")


def process_gone(pid: int) -> bool:
    """Exited: no such process, or a zombie waiting for a parent that will never need it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True
    return stat.rpartition(b")")[2].split()[0] in (b"Z", b"X")


def survivors(pids: Iterable[int], timeout: float) -> list[int]:
    """The pids still running after waiting up to `timeout` seconds for all to exit."""
    deadline = time.monotonic() + timeout
    left = [pid for pid in pids if not process_gone(pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [pid for pid in left if not process_gone(pid)]
    return left
