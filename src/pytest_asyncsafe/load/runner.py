"""The runner the `asyncsafe_load` fixture returns (`LoadRunner`): it loads servers on
this machine only (`LOOPBACK`), builds the request to replay or the scenario to run,
runs it on an event loop of its own in a thread of its own (so that sync and async
tests call it alike, and no test's loop carries the load), hands each result to its
recorder, and raises `InvalidLoadRun` for a run the generator held back."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol, TypeVar

import httpx

from pytest_asyncsafe.load.engine import Readings, run_load
from pytest_asyncsafe.load.result import InvalidLoadRun, LoadResult
from pytest_asyncsafe.load.shape import LoadUsageError, parse_shape
from pytest_asyncsafe.load.transport import LeanTransport
from pytest_asyncsafe.load.workload import Replay, Scenario
from pytest_asyncsafe.readings import WorkerReading

#: Where the generator sends load: this machine only, whatever base URL it is given.
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class LoadTarget(Protocol):
    """A server to load: where it listens, and how to read its loops."""

    @property
    def base_url(self) -> str: ...

    def worker_readings(self) -> Mapping[int, WorkerReading]: ...


class LoadRunner:
    """Sends load to the server at `base_url` and returns what each run measured.

    `get`, `post` and `request` replay one request; `scenario` runs a coroutine function
    of an `httpx.AsyncClient`.  Every completed run goes to `on_result` first (valid or
    not); then an invalid one raises `InvalidLoadRun`.  With `readings`, each run
    measures how saturated the server's workers were (`LoadResult.saturation`).
    """

    def __init__(
        self,
        base_url: str,
        on_result: Callable[[LoadResult], None] | None = None,
        readings: Readings | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme != "http" or url.host not in LOOPBACK or url.port is None:
            raise LoadUsageError(f"asyncsafe_load: loads http://127.0.0.1:PORT servers only, got {base_url!r}")
        self.base_url = base_url
        self._url = url
        self._on_result = on_result
        #: Without a way to read the server's loops, each reading is empty: no saturation.
        self._readings: Readings = readings if readings is not None else dict

    def on(self, server: LoadTarget) -> LoadRunner:
        """The same runner, loading `server` instead."""
        return LoadRunner(server.base_url, self._on_result, server.worker_readings)

    def get(self, path: str, **keywords: Any) -> LoadResult:
        __tracebackhide__ = True  # a usage error or a missed budget points at the test
        return self.request("GET", path, **keywords)

    def post(self, path: str, **keywords: Any) -> LoadResult:
        __tracebackhide__ = True
        return self.request("POST", path, **keywords)

    def request(self, method: str, path: str, **keywords: Any) -> LoadResult:
        """Send `method path` under the load `keywords` describe (see `parse_shape`), with
        the request keywords of `httpx.AsyncClient.request`: headers, params, json..."""
        __tracebackhide__ = True
        shape, options = parse_shape(**keywords)
        # Built once, by a client, as any httpx user would see it built: base URL, default
        # headers, params, cookies, encoded json.  (It never sends: its transport is only
        # there so that it opens no other.)
        builder = httpx.AsyncClient(base_url=self.base_url, timeout=shape.timeout, transport=LeanTransport(self._url))
        request = builder.build_request(method, path, **options)
        url = request.url
        if (url.scheme, url.host, url.port) != (self._url.scheme, self._url.host, self._url.port):
            raise LoadUsageError(f"asyncsafe_load: {path!r} is not on the server under load ({self.base_url})")
        target = f"{request.method} {request.url.raw_path.decode('ascii')}"
        replay = Replay(request, self._url, shape.concurrency)
        return self._deliver(_run_on_own_loop(lambda: run_load(replay, shape, target, self._readings)))

    def scenario(self, scenario: Callable[[httpx.AsyncClient], Awaitable[object]], **keywords: Any) -> LoadResult:
        """Run `await scenario(client)` under the load `keywords` describe: each call is
        one iteration (`requests`, `rate` and a whole-number `warmup` count iterations),
        each request it sends one latency.  `client` is bound to the server and is one
        connection: it sends one request at a time; its cookies last one iteration.

        A request that fails (no response) is counted in `errors`, and may end its
        iteration; any other exception ends the run and is raised."""
        __tracebackhide__ = True
        shape, options = parse_shape(**keywords)
        if options:
            raise LoadUsageError(
                f"asyncsafe_load: scenario() takes shape keywords only; pass {next(iter(options))}= "
                "to the requests in the scenario"
            )
        target = f"scenario {getattr(scenario, '__qualname__', repr(scenario))}"
        flow = Scenario(scenario, self._url, shape)
        return self._deliver(_run_on_own_loop(lambda: run_load(flow, shape, target, self._readings)))

    def _deliver(self, result: LoadResult) -> LoadResult:
        __tracebackhide__ = True
        if self._on_result is not None:
            self._on_result(result)
        if result.invalid is not None:
            raise InvalidLoadRun(f"{result.target}: {result.invalid}")
        return result


# --- its own loop, in its own thread --------------------------------------------------------

T = TypeVar("T")


def _run_on_own_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`main()`'s result, run on a new event loop in a thread of its own: the caller may
    be a sync test, or an async one whose loop must not carry the load.  The loop, its
    connections and the thread are gone when it returns."""
    outcome: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        try:
            with asyncio.Runner(loop_factory=_new_loop) as runner:
                result = runner.run(main())
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread, raised there
            outcome.set_exception(error)
        else:
            outcome.set_result(result)

    thread = threading.Thread(target=run, name="asyncsafe-load", daemon=True)
    thread.start()
    thread.join()
    return outcome.result()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
