"""One real server (Uvicorn, or Gunicorn's arbiter with Uvicorn's worker): owns its
listening socket, spawns it, waits until every worker is ready, tells which workers died
and how, and stops it - leaving no process behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path

from asyncsafe_lint.untrusted import printable, printable_lines
from pytest_asyncsafe.channel import MAX_SAMPLES, SAMPLE_SIGNAL, ServerChannel, WorkerState, pid_alive, stalled_since
from pytest_asyncsafe.deaths import Death
from pytest_asyncsafe.durations import format_duration
from pytest_asyncsafe.events import (
    Event,
    PoolExhausted,
    Ready,
    SampleTaken,
    ShutdownStarted,
    StallOver,
    TimedOut,
    phase,
)
from pytest_asyncsafe.readings import WorkerReading
from pytest_asyncsafe.saturation import LoopReading, busy_seconds, run_queue_seconds
from pytest_asyncsafe.settings import ServerSettings
from pytest_asyncsafe.stalls import Sample, Stall

#: The worker's monitor records stalls from this length even when the threshold is
#: higher, so that a marker may lower the threshold for one test.
RECORDING_FLOOR = 0.02
LOG_TAIL_LINES = 40


class ServerError(Exception):
    """The server could not start, or died; the message carries its output."""


class Server:
    """A server on 127.0.0.1, serving `settings.app` in `settings.workers` processes."""

    def __init__(self, settings: ServerSettings) -> None:
        if settings.app is None:
            raise ServerError("asyncsafe: no app to serve: set `asyncsafe_app` in the ini file or pass --asyncsafe-app")
        self.settings = settings
        self._directory = tempfile.TemporaryDirectory(prefix="asyncsafe-")
        self.directory = Path(self._directory.name)
        self.channel = ServerChannel(self.directory)
        self.log_path = self.directory / "server.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.worker_pids: list[int] = []
        #: Every stall the workers recorded (from `RECORDING_FLOOR` up), over or going on.
        self.stalls: list[Stall] = []
        #: Each time a worker's thread pool ran dry (once a second at most per worker).
        self.dry_pools: list[PoolExhausted] = []
        #: Stack samples not yet matched with the stall they were taken in, by worker.
        self._samples: dict[int, deque[Sample]] = defaultdict(lambda: deque(maxlen=MAX_SAMPLES * 4))
        self._ready_at: dict[int, float] = {}
        #: Workers told to stop (their lifespan shutdown began): Gunicorn restarts one
        #: after `--max-requests`, and a drain stops them all.
        self._stopping: set[int] = set()
        #: Workers Gunicorn's arbiter killed for exceeding its `--timeout`.
        self._timed_out: dict[int, TimedOut] = {}
        self._lifeline = -1

    @property
    def app(self) -> str:
        """The app it serves, as reports print it: the ini file's text."""
        return printable(self.settings.app or "")

    @property
    def recording_threshold(self) -> float:
        return min(self.settings.block_threshold, RECORDING_FLOOR)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The server's last lines of output, as reports print them: escaped line by line,
        with the values of `asyncsafe_env` hidden."""
        return "\n".join(printable_lines(self.settings.hide_env(self.logs).rstrip("\n"))[-lines:])

    # --- starting ---------------------------------------------------------------------------
    def start(self) -> Server:
        listener = listening_socket()
        self.port = listener.getsockname()[1]
        lifeline_read, self._lifeline = os.pipe()
        try:
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "pytest_asyncsafe.worker.launch"],
                    cwd=self.settings.rootdir,
                    env=self._environment(listener.fileno(), lifeline_read),
                    pass_fds=(listener.fileno(), lifeline_read),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        finally:
            listener.close()
            os.close(lifeline_read)
        try:
            self._wait_until_ready()
        except BaseException:
            # Nothing to drain on a server that never got ready, and a worker stuck in
            # its lifespan startup would sit out the whole graceful timeout.
            self.stop(graceful=False)
            raise
        return self

    def _environment(self, fd: int, lifeline: int) -> dict[str, str]:
        settings = self.settings
        worker = {
            "app": settings.app,
            "factory": settings.factory,
            "fd": fd,
            "lifeline": lifeline,
            "workers": settings.workers,
            "loop": settings.loop,
            "http": settings.http,
            "server": settings.server,
            "server_args": settings.server_args,
            "graceful_timeout": settings.graceful_timeout,
            "threshold": self.recording_threshold,
            "task_origins": settings.task_origins,
            "cpus": list(settings.cpus),
            "channel": str(self.directory),
        }
        path = os.pathsep.join(filter(None, [str(settings.rootdir), os.environ.get("PYTHONPATH")]))
        return {**os.environ, **dict(settings.env), "PYTHONPATH": path, "ASYNCSAFE_WORKER": json.dumps(worker)}

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout
        ready: set[int] = set()
        while len(ready) < self.settings.workers:
            for event in self.poll():
                if isinstance(event, Ready):
                    ready.add(event.pid)
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(
                    f"asyncsafe: the server for {self.app} exited with status {self.process.returncode} "
                    f"before it was ready. Its output:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ServerError(
                    f"asyncsafe: the server for {self.app} was not ready within "
                    f"{format_duration(self.settings.startup_timeout)} ({len(ready)} of {self.settings.workers} "
                    f"workers ready). Its output:\n{self.log_tail()}"
                )
            time.sleep(0.02)
        self.worker_pids = sorted(ready)

    # --- while running ------------------------------------------------------------------
    def poll(self) -> list[Event]:
        """Read what the workers reported since the last poll, keeping stalls."""
        events = self.channel.read_events()
        for event in events:
            if isinstance(event, SampleTaken):
                self._samples[event.pid].append(Sample.from_event(event))
            elif isinstance(event, StallOver):
                self.stalls.append(Stall.from_event(event, self._samples[event.pid]))
            elif isinstance(event, Ready):
                self._ready_at[event.pid] = event.time
                if self.worker_pids and event.pid not in self.worker_pids:
                    self.worker_pids.append(event.pid)  # the server replaced a worker
            elif isinstance(event, ShutdownStarted):
                self._stopping.add(event.pid)
            elif isinstance(event, TimedOut):
                self._timed_out[event.pid] = event
            elif isinstance(event, PoolExhausted):
                self.dry_pools.append(event)
        return events

    def ongoing(self, now: float) -> list[Stall]:
        """The stalls going on at `now`, known from beats that are overdue."""
        stalled = []
        for state in self._live_states():
            since = stalled_since(state, self.recording_threshold, now)
            if since is not None:
                # Waiting for a CPU since the last beat is the busy machine's, not the app's.
                descheduled = run_queue_seconds(state.pid) - state.waited
                stalled.append(
                    Stall.going_on(
                        state.pid,
                        since,
                        phase(self._ready_at.get(state.pid), since),
                        self._samples[state.pid],
                        descheduled if descheduled > 0 else 0.0,
                    )
                )
        return stalled

    def live_workers(self) -> list[int]:
        return [pid for pid in self.worker_pids if pid_alive(pid)]

    def dead_workers(self) -> list[int]:
        """The workers that died without being told to stop."""
        return [pid for pid in self.worker_pids if pid not in self._stopping and not pid_alive(pid)]

    def death(self, pid: int) -> Death:
        """How worker `pid`, dead, died: the stall it was in (from its last beat and the
        monitor's samples), and whether Gunicorn's arbiter killed it for its timeout."""
        timed_out = self._timed_out.get(pid)
        timeout = timed_out.timeout if timed_out is not None else None
        state = self.channel.states().get(pid)
        now = time.monotonic()
        since = stalled_since(state, self.recording_threshold, now) if state is not None else None
        if since is None:
            return Death(pid, self.settings.server, timeout, None, 0.0)
        stall = Stall.going_on(pid, since, phase(self._ready_at.get(pid), since), self._samples[pid], 0.0)
        if timed_out is not None:
            return Death(pid, self.settings.server, timeout, stall, timed_out.time - since)
        # A dead worker's beats are overdue whatever killed it: its loop was stalled only
        # if the monitor sampled it stalled, until then.
        if not stall.samples:
            return Death(pid, self.settings.server, timeout, None, 0.0)
        return Death(pid, self.settings.server, timeout, stall, stall.samples[-1].time - since)

    def settle(self, timeout: float) -> float:
        """Wait until no request is in flight and every worker's loop has beaten since
        (or is stalled right now); returns the time up to which the reports are complete."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(state.in_flight == 0 for state in self._live_states()):
                break
            time.sleep(0.005)
        settled = time.monotonic()
        while time.monotonic() < deadline:
            now = time.monotonic()
            states = self._live_states()
            if all(
                state.last_beat >= settled or stalled_since(state, self.recording_threshold, now) for state in states
            ):
                break
            time.sleep(0.002)
        self.poll()
        return settled

    def worker_readings(self) -> dict[int, WorkerReading]:
        """Where each live worker's loop and thread pool stand now: what a load run's
        saturation and thread-pool use are measured between."""
        return {
            state.pid: WorkerReading(
                LoopReading(state.pid, time.monotonic(), busy_seconds(state.pid), self.channel.lags(state.pid)),
                self.channel.threadpool(state.pid),
                state.received,
            )
            for state in self._live_states()
        }

    def in_flight(self) -> int:
        """How many requests the workers have in flight now, as they count them in the app."""
        return sum(state.in_flight for state in self._live_states())

    def ask_sample(self, pid: int) -> None:
        """Ask worker `pid` for its stack and tasks (a `SampleTaken` event follows)."""
        signal_if_alive(pid, SAMPLE_SIGNAL)

    def _live_states(self) -> list[WorkerState]:
        states = self.channel.states()
        return [states[pid] for pid in self.worker_pids if pid in states and pid_alive(pid)]

    # --- stopping ---------------------------------------------------------------------------
    def terminate(self) -> None:
        """SIGTERM to the main process, as a deploy sends it; `exit_status` tells when it is over."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def exit_status(self) -> int | None:
        """The main process's exit status, once the whole process tree is gone."""
        process = self.process
        assert process is not None
        return process.returncode if process.poll() is not None and not _group_alive(process.pid) else None

    def stop(self, *, graceful: bool = True) -> int | None:
        """SIGTERM, then SIGKILL for the whole process group after the graceful timeout
        (at once when not `graceful`)."""
        process = self.process
        if process is not None and process.poll() is None:
            if graceful:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.settings.graceful_timeout + 5 if graceful else 0)
            except subprocess.TimeoutExpired:
                _kill_group(process.pid)
                process.wait()  # noqa: ASF206 - after SIGKILL it exits; nothing is left to wait for
        if process is not None:
            _kill_group(process.pid)  # workers that outlived their supervisor
        if self._lifeline >= 0:
            os.close(self._lifeline)
            self._lifeline = -1
        self.poll()
        return process.returncode if process is not None else None

    def close(self) -> None:
        self.stop()
        self.channel.close()
        self._directory.cleanup()


def listening_socket() -> socket.socket:
    """A listening TCP socket on 127.0.0.1, on a port the kernel chose, for Uvicorn's `--fd`.

    Bound here and handed over, so no other process can take the port between choosing
    it and Uvicorn binding it, under xdist or anything else."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Uvicorn wraps an `--fd` socket as AF_UNIX, so the loop never sets TCP_NODELAY on
    # the connections it accepts, and Nagle plus delayed ACKs hold most responses back
    # ~40ms.  Accepted connections inherit the option from the listening socket.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    return listener


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal is still a member
        pass
    return True


def signal_if_alive(pid: int, signum: int) -> None:
    """Send `signum` to a process that may be gone by now."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
