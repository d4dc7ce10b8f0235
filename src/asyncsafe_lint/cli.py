"""`asyncsafe-lint`: the command line.  A command whose output cannot have changed
since it last ran here is replayed (see `replay`), importing nothing of the linter's
analysis; any other is run (see `commands`)."""

from __future__ import annotations

import os
import signal
import sys

from asyncsafe_lint.replay import replay

TYPE_CHECKING = False  # `typing` itself would add a third to a replay's time
if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    try:
        status = _run(arguments)
        sys.stdout.flush()  # here, so that a reader gone away is noticed here
    except BrokenPipeError:
        # The reader stopped early (`asyncsafe-lint ... | head`): stop quietly, with the
        # status of a Unix tool that SIGPIPE ended, and nothing left for Python to flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    return status


def _run(arguments: list[str]) -> int:
    status, note = replay(arguments)
    if status is not None:
        return status
    # Imported only now: importing the commands and their analysis is most of a replay's cost.
    from asyncsafe_lint.commands import run

    return run(arguments, [] if note is None else [note])
