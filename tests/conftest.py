# `pytester` (tests/plugin runs pytest in a subprocess against fixtures_app).  Declared
# here: pytest only accepts `pytest_plugins` in a top-level conftest.
pytest_plugins = ["pytester"]
