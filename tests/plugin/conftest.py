from __future__ import annotations

import pytest

from .support import APP_DIR, write_ini


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory laid out like a user's project: `fixtures_app/` at its root
    (a symlink to the repo's), so the server imports it from the rootdir and reports
    paths relative to it, and a pytest.ini naming `fixtures_app.main:app`."""
    (pytester.path / "fixtures_app").symlink_to(APP_DIR, target_is_directory=True)
    write_ini(pytester)
    return pytester
