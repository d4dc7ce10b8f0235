"""Making sure no server process outlives the pytest process that started it, even
when pytest is killed with SIGKILL and can clean nothing up."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def watch_lifeline(fd: int, grace: float) -> None:
    """Stop the server once the pytest process is gone.

    The pytest process holds the write end of a pipe whose read end is `fd`; the read
    returns (end of file) only when every writer has exited, however it died.  Then
    the server gets the SIGTERM a deploy would send, and `grace` seconds later its whole
    process group is killed.
    """

    def wait() -> None:
        while os.read(fd, 1):
            pass
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=wait, name="asyncsafe-lifeline", daemon=True).start()
