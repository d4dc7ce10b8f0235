"""A small suite for fixtures_app, run by `make demo` under `pytest --asyncsafe`.

Every test here passes on its own terms (status codes); under `--asyncsafe` the ones
that hit a hazard fail because the event loop stalled while they ran.
"""


def test_health(asyncsafe_client):
    assert asyncsafe_client.get("/health").status_code == 200


def test_items(asyncsafe_client):
    assert asyncsafe_client.get("/items").status_code == 200


def test_safe_sleep(asyncsafe_client):
    assert asyncsafe_client.get("/safe/sleep").status_code == 200


def test_blocking_sleep(asyncsafe_client):
    assert asyncsafe_client.get("/hazards/sleep").status_code == 200


def test_blocking_middleware(asyncsafe_client):
    assert asyncsafe_client.get("/hazards/middleware/sleep").status_code == 200


def test_cpu_loop(asyncsafe_client):
    assert asyncsafe_client.get("/hazards/cpu", params={"milliseconds": 300}).status_code == 200
