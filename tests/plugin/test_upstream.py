"""`asyncsafe_upstream` against fixtures_app's `/checkout`, under real Uvicorn: the app is
pointed at the upstream through `asyncsafe_env`, and the route with a 1 s deadline on the
payments call answers 504 within 2 s whatever the upstream does (silent, slow, reset,
absent), while the route without one hangs until the client gives up."""

from __future__ import annotations

import re

import httpx
import pytest

from pytest_asyncsafe.upstream import Upstreams

from .support import run, write_ini

CHECKOUT = """
import time

import httpx
import pytest


@pytest.mark.parametrize("trouble", ["blackhole", "delay", "reset", "refuse"])
def test_checkout_gives_up_within_its_deadline(asyncsafe_client, asyncsafe_upstream, trouble):
    if trouble == "delay":
        asyncsafe_upstream.delay("5s")
    else:
        getattr(asyncsafe_upstream, trouble)()
    started = time.monotonic()
    response = asyncsafe_client.get("/checkout", timeout=10)
    took = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert response.json()["detail"].startswith("payments gave no answer within 1 s (")
    assert took < 2.0
    print("ASYNCSAFE-CHECKOUT", trouble, round(took, 2), response.json()["detail"])
    # Refused: nothing listened, so nothing was received.
    assert [r.path for r in asyncsafe_upstream.requests] == ([] if trouble == "refuse" else ["/charge"])


def test_a_healthy_upstream_answers_200_and_what_it_received_is_kept(asyncsafe_client, asyncsafe_upstream):
    assert asyncsafe_client.get("/checkout").json() == {"paid": True, "payments": {}}
    [request] = asyncsafe_upstream.requests
    assert (request.method, request.path, request.body) == ("GET", "/charge", b"")


def test_a_status_and_a_body_the_test_chooses(asyncsafe_client, asyncsafe_upstream):
    asyncsafe_upstream.status(503)
    assert asyncsafe_client.get("/checkout").json() == {"detail": "payments answered 503"}
    asyncsafe_upstream.respond(body={"id": 7}, status=201)
    assert asyncsafe_client.get("/checkout").json() == {"paid": True, "payments": {"id": 7}}


def test_each_test_starts_from_200(asyncsafe_client, asyncsafe_upstream):
    assert asyncsafe_upstream.requests == []
    assert asyncsafe_client.get("/checkout").status_code == 200


def test_without_a_deadline_the_route_hangs_until_the_client_gives_up(asyncsafe_client, asyncsafe_upstream):
    asyncsafe_upstream.blackhole()
    with pytest.raises(httpx.ReadTimeout):
        asyncsafe_client.get("/checkout/unbounded", timeout=1.5)
    asyncsafe_upstream.restore()  # lets the held request go: the test ends with none in flight


def test_named_upstreams_are_each_their_own(asyncsafe_upstream):
    ledger = asyncsafe_upstream("ledger")
    assert ledger is asyncsafe_upstream("ledger")
    assert ledger.url != asyncsafe_upstream.url
    assert ledger.url.startswith("http://127.0.0.1:") and asyncsafe_upstream.url.startswith("http://127.0.0.1:")
"""


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_an_upstream_the_test_controls_shows_which_route_keeps_its_deadline(
    project: pytest.Pytester, server: str
) -> None:
    write_ini(
        project, extra=f"asyncsafe_env = FIXTURES_PAYMENTS_URL={{asyncsafe_upstream}}\nasyncsafe_server = {server}"
    )
    project.makepyfile(test_checkout=CHECKOUT)
    result = run(project, "--asyncsafe", "-s")

    result.assert_outcomes(passed=9)
    causes = dict(
        re.findall(r"ASYNCSAFE-CHECKOUT (\w+) [\d.]+ payments gave no answer within 1 s \((\w+)\)", result.stdout.str())
    )
    assert causes == {
        "blackhole": "ReadTimeout",
        "delay": "ReadTimeout",
        "reset": "RemoteProtocolError",
        "refuse": "ConnectError",
    }


def test_each_placeholder_reads_its_upstreams_base_url_and_starts_it() -> None:
    upstreams = Upstreams()
    try:
        env = upstreams.fill(
            [("PAYMENTS_URL", "{asyncsafe_upstream:payments}"), ("API", "{asyncsafe_upstream}/v1"), ("PLAIN", "x")]
        )
        payments, default = upstreams.get("payments"), upstreams.get()
        assert env == (("PAYMENTS_URL", payments.url), ("API", f"{default.url}/v1"), ("PLAIN", "x"))
        assert payments.url != default.url
        with httpx.Client() as client:
            assert client.get(f"{payments.url}/anything").json() == {}
        assert [(r.method, r.path) for r in payments.requests] == [("GET", "/anything")]
    finally:
        upstreams.close()
