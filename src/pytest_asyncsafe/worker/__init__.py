"""Code that runs inside the Uvicorn server: the launcher, the ASGI wrapper around the
user's app, and the loop monitor."""
