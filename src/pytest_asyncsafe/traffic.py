"""Traffic through a shutdown: requests at a fixed rate, each on a connection of its own,
as a load balancer that has not yet taken the pod out of rotation keeps sending them
(`asyncsafe_drain(rate=...)`).  Every request is kept with when it was sent and how it
ended, so that the drain can count what arrived after termination began.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

#: How a request ended.
COMPLETED, REFUSED, RESET, FAILED = "completed", "refused", "reset", "failed"
#: Bounds on any traffic, whatever it asks for.
MAX_SECONDS = 120.0
MAX_SENDERS = 64


@dataclass(frozen=True)
class Sent:
    """One request of the traffic: when it left (`time.monotonic()`), how it ended."""

    at: float
    outcome: str
    #: For one that did not complete: what happened, in words.
    detail: str = ""


class Traffic:
    """`method path` to `base_url` at `rate` a second, from `start()` until `stop_at`."""

    def __init__(self, base_url: str, method: str, path: str, rate: float, request_kw: dict[str, Any]) -> None:
        self.rate = rate
        self._request = (method, path, request_kw)
        # One connection per request, never reused: a load balancer's new connection.
        self._client = httpx.Client(
            base_url=base_url, timeout=10.0, limits=httpx.Limits(max_connections=None, max_keepalive_connections=0)
        )
        self._senders = ThreadPoolExecutor(MAX_SENDERS, thread_name_prefix="asyncsafe-traffic")
        self._sent: list[Future[Sent]] = []
        self._end = time.monotonic() + MAX_SECONDS
        self._scheduler = threading.Thread(target=self._schedule, name="asyncsafe-traffic-schedule", daemon=True)

    def start(self) -> Traffic:
        self._scheduler.start()
        return self

    def stop_at(self, when: float) -> None:
        """No request leaves after `when` (`time.monotonic()`)."""
        self._end = min(when, self._end)

    def finish(self) -> list[Sent]:
        """Every request sent, once each has ended."""
        self._scheduler.join()
        self._senders.shutdown(wait=True)
        self._client.close()
        return [future.result() for future in self._sent]

    def _schedule(self) -> None:
        interval = 1 / self.rate
        due = time.monotonic()
        while due < self._end:
            self._sent.append(self._senders.submit(self._send, due))
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))

    def _send(self, due: float) -> Sent:
        method, path, request_kw = self._request
        try:
            response = self._client.request(method, path, **request_kw)
        except httpx.ConnectError as error:
            refused = "refused" in str(error).lower()
            return Sent(due, REFUSED if refused else FAILED, "" if refused else f"ConnectError: {error}")
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
            return Sent(due, RESET, f"{type(error).__name__}: {error}")
        except httpx.TimeoutException:
            return Sent(due, FAILED, "no response before the client's timeout")
        if response.status_code >= 500:
            return Sent(due, FAILED, f"answered {response.status_code} {response.reason_phrase}")
        return Sent(due, COMPLETED)
