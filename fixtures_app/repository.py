"""The domain's view of the data: revenue rows and price books, built on `db.py`.

Synchronous, like the layer below it: meant for `def` routes and worker threads.
"""

from __future__ import annotations

from pathlib import Path

from fixtures_app import db
from fixtures_app.models import RevenueRow
from fixtures_app.resources import REVENUE_REPORT


def top_revenue(database: Path, limit: int) -> list[RevenueRow]:
    rows = db.query(database, REVENUE_REPORT, (limit,))
    return [RevenueRow(customer=customer, sku=sku, revenue=revenue) for customer, sku, revenue in rows]


class PriceBook:
    """Prices in every currency the pricing upstream quotes; the rates are fetched once,
    when the book is made."""

    def __init__(self, upstream_url: str) -> None:
        self.rates: dict[str, float] = self._load_rates(upstream_url)

    def _load_rates(self, upstream_url: str) -> dict[str, float]:
        return db.fetch_json(f"{upstream_url}rates")["rates"]

    def convert(self, amount: float, currency: str) -> float:
        return round(amount * self.rates.get(currency, 1.0), 2)
