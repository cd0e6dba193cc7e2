"""Demo analytics (A12, I8): about 90 days of pseudonymous behaviour events (views,
searches with their filters and result counts, calculator use, apply steps) with a weekly
rhythm and a gentle upward trend, then the rollups built from them and from the demo's
applications, loans and billing events — so every chart of the dashboard has a shape.
Deterministic (a fixed random seed); bulk inserted, a second or two."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from marketplace.analytics.jobs import refresh_rollups
from marketplace.analytics.recorder import EventKind
from marketplace.db import engine
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product

DAYS = 90
SEED = 20261201
# (text, found anything?)
QUERIES = (
    ("消费贷", True),
    ("公积金", True),
    ("经营贷", True),
    ("车贷", True),
    ("低息", True),
    ("装修贷", True),
    ("额度高", True),
    ("学生贷", False),
    ("无视征信", False),
    ("秒批", False),
    ("医美分期", False),
)
FILTERS = (
    {"city": "杭州市"},
    {"amount": "50000"},
    {"term": "12"},
    {"category": "consumer"},
    {"employment": "employee"},
    {"apr_max": "18"},
    {"sort": "apr_asc"},
)


def _events(products: list[int], now: datetime) -> list[tuple]:
    rng = random.Random(SEED)  # noqa: S311 - demo data, not security
    rows: list[tuple] = []
    for back in range(DAYS, -1, -1):
        day = now - timedelta(days=back)
        weekend = day.weekday() >= 5
        visitors = int((40 + (DAYS - back) * 0.4) * (0.7 if weekend else 1.0))
        for _visitor in range(visitors):
            visitor = f"{rng.getrandbits(128):032x}"
            at = day.replace(hour=8, minute=0) + timedelta(minutes=rng.randint(0, 14 * 60))

            def add(
                kind: EventKind,
                product: int | None = None,
                query: str = "",
                filters: dict | None = None,
                result: int | None = None,
                visitor: str = visitor,
                at: datetime = at,
            ) -> None:
                rows.append(
                    (
                        kind.value,
                        visitor,
                        at + timedelta(seconds=len(rows) % 600),
                        product,
                        query,
                        json.dumps(filters or {}, ensure_ascii=False),
                        result,
                    )
                )

            if rng.random() < 0.55:
                text, found = rng.choice(QUERIES)
                filters = rng.choice(FILTERS) if rng.random() < 0.4 else {}
                add(
                    EventKind.SEARCH,
                    query=text,
                    filters=filters,
                    result=rng.randint(1, 12) if found else 0,
                )
                if filters and "sort" not in filters:
                    add(EventKind.FILTER_USE, filters=filters)
            if not products:
                continue
            product = rng.choice(products)
            for _view in range(rng.randint(1, 3)):
                add(EventKind.PRODUCT_VIEW, product=product)
            if rng.random() < 0.35:
                add(EventKind.CALCULATOR_USE, product=product)
                if rng.random() < 0.4:
                    add(EventKind.APPLY_FORM_OPENED, product=product)
                    if rng.random() < 0.5:
                        add(EventKind.APPLY_SUBMITTED, product=product)
                        add(EventKind.CONSENT_GIVEN, product=product)
            elif rng.random() < 0.08:
                add(EventKind.APPLY_FORM_OPENED, product=product)
    return rows


async def seed_analytics() -> int:
    products = [
        row["id"]
        for row in await Product.select(Product.id).where(Product.status == ProductStatus.LISTED)
    ]
    rows = _events(products, datetime.now(UTC))
    async with engine().transaction() as tx:
        await tx.connection.executemany(
            "INSERT INTO analytics_event (kind, visitor, at, product, query, filters,"
            " result_count) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
            rows,
        )
    return await refresh_rollups()
