"""Response and request bodies."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = "ok"
    upstream: str


class Item(BaseModel):
    id: int
    name: str
    price: float = Field(ge=0)
    tags: list[str] = Field(default_factory=list)


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: float = Field(ge=0)
    tags: list[str] = Field(default_factory=list)


class HazardReport(BaseModel):
    """What a hazard route did, and for how long it held whatever thread it ran on."""

    hazard: str
    elapsed_ms: float
    detail: str | None = None


class RevenueRow(BaseModel):
    customer: int
    sku: str
    revenue: float


class UpstreamReply(BaseModel):
    status: int
    body: dict[str, object] | None = None
    elapsed_ms: float


class Family(str, Enum):
    """The blocking families: one per ASF101-ASF107 rule."""

    sleep = "sleep"
    http = "http"
    subprocess = "subprocess"
    file = "file"
    socket = "socket"
    db = "db"
    lock = "lock"
