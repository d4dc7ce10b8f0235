"""pytest-asyncsafe: runs an ASGI app under real Uvicorn during a pytest session and fails
the tests during which an event loop stalled.  The hooks are in `plugin.py`."""
