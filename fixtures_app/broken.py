"""An app module that cannot be imported: it asks `fixtures_app.config` for a setting
that module does not define (a rename half done).  Serving `fixtures_app.broken:app`
fails in every worker, with this ImportError."""

from __future__ import annotations

from fastapi import FastAPI

from fixtures_app.config import DATABASE_URL  # type: ignore[attr-defined]

app = FastAPI(title="broken")


@app.get("/database")
async def database() -> dict[str, str]:
    return {"url": DATABASE_URL}
