"""A small FastAPI service that is wrong on purpose - and right right next to it.

`fixtures_app` is the shared subject of asyncsafe's tests and demos:

* `asyncsafe-lint check fixtures_app` lints it.  Every line the linter must flag ends
  with an "expect" comment naming the rule codes (comma-separated when there are
  several), and `tests/lint/test_fixtures_app.py` asserts that the findings are
  exactly those.
* The pytest plugin boots `fixtures_app.main:app` under real Uvicorn and calls its
  routes.  Every hazard is real: `GET /hazards/sleep` really stops the event loop for
  300 ms, `GET /hazards/http` really waits on a (loopback) upstream, and so on.

Nothing here talks to the network beyond 127.0.0.1.  Environment variables:

``FIXTURES_UPSTREAM``
    Base URL of the "upstream" service the HTTP and socket hazards call.  Unset (the
    default), the app starts its own stub upstream on 127.0.0.1 with an ephemeral port
    that answers every request after ``FIXTURES_UPSTREAM_DELAY`` seconds, so those
    hazards block for a measurable time.  Set it to e.g. ``http://127.0.0.1:9/`` (nothing
    listens there) to exercise the "upstream unreachable -> 502" paths instead.
``FIXTURES_UPSTREAM_DELAY``
    How long the stub upstream takes to answer, in seconds (default ``0.2``).
``FIXTURES_WORKDIR``
    Directory for the scratch files (catalog dump, SQLite database).  Default: a fresh
    temporary directory, removed at shutdown.
``FIXTURES_PAYMENTS_URL``
    Base URL of the payments service ``/checkout`` calls (in the tests, an
    ``asyncsafe_upstream``).  Unset, ``/checkout`` answers 503.
``FIXTURES_THREAD_TOKENS``
    The size of each worker's thread pool, set in the lifespan as services raise it
    (``anyio.to_thread.current_default_thread_limiter().total_tokens``).  Default: AnyIO's 40.

Layout: `main` (the app, lifespan, middleware), `routes/` (`hazards`, `safe`,
`outbound`, `items`, `lifecycle`, `reports`, `checkout`), `dependencies`, `services`, `jobs` (sync code with missing
timeouts), `legacy` and `hybrid` (deprecated lifecycle hooks: two more apps),
`upstream` (the stub), `resources` (what the lifespan opens and closes), and for the
plugin's tests `variants` (small apps whose startup fails, hangs or blocks) and
`broken` (an app module that fails to import).
"""
