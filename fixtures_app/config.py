"""Settings read once from the environment (see the package docstring)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, field_validator


class AppConfig(BaseModel):
    """Everything the app reads from its environment, validated once at startup."""

    #: Base URL of the upstream; None means "start the loopback stub".
    upstream: str | None = None
    upstream_delay: float = Field(default=0.2, ge=0.0, le=10.0)
    workdir: Path | None = None
    #: Base URL of the payments service `/checkout` calls; None: not configured.
    payments: str | None = None
    #: The size of each worker's thread pool (AnyIO's default limiter); None keeps its 40.
    thread_tokens: int | None = Field(default=None, ge=1)

    @field_validator("upstream", "payments")
    @classmethod
    def _trailing_slash(cls, value: str | None) -> str | None:
        if value is None or value.endswith("/"):
            return value
        return value + "/"

    @classmethod
    def from_env(cls) -> AppConfig:
        return cls(
            upstream=os.environ.get("FIXTURES_UPSTREAM") or None,
            upstream_delay=os.environ.get("FIXTURES_UPSTREAM_DELAY", "0.2"),
            workdir=os.environ.get("FIXTURES_WORKDIR") or None,
            thread_tokens=os.environ.get("FIXTURES_THREAD_TOKENS") or None,
            payments=os.environ.get("FIXTURES_PAYMENTS_URL") or None,
        )
