"""Demo analytics (A12, I8): about 90 days of pseudonymous behaviour events, then the
rollups built from them and from the demo's applications, loans and billing events — so
every chart of the dashboard has a shape, and the funnel tells one story:

* each of the demo's real applications gets its own visitor's steps, minutes before it
  was submitted: product views, maybe the calculator, the apply form opened, submitted,
  consent given — so "submitted" events are exactly the applications;
* generated browsing (a weekly rhythm, a gentle upward trend) only views, searches,
  filters, calculates and opens apply forms, never submits: a visitor who submitted would
  need an application that does not exist.

Every visitor views before opening a form, so per day views ≥ forms opened ≥ submitted
(= applications) ≥ delivered ≥ approved ≥ signed ≥ disbursed. Deterministic (a fixed
random seed); bulk inserted, a second or two."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from marketplace.analytics.jobs import refresh_rollups
from marketplace.analytics.recorder import EventKind
from marketplace.applications.tables import Application
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


class _Events:
    """Rows for analytics_event, each visitor's steps a few seconds apart."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: list[tuple] = []

    def visitor(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def add(
        self,
        kind: EventKind,
        visitor: str,
        at: datetime,
        product: int | None = None,
        query: str = "",
        filters: dict | None = None,
        result: int | None = None,
    ) -> None:
        self.rows.append(
            (
                kind.value,
                visitor,
                at,
                product,
                query,
                json.dumps(filters or {}, ensure_ascii=False),
                result,
            )
        )


def _application_steps(events: _Events, applications: list[dict]) -> None:
    """The borrower's own path to each real application, ending when it was submitted."""
    for application in applications:
        visitor, product, submitted = events.visitor(), application["product"], application["at"]
        steps = [EventKind.PRODUCT_VIEW] * events.rng.randint(1, 3)
        if events.rng.random() < 0.5:
            steps.append(EventKind.CALCULATOR_USE)
        steps.append(EventKind.APPLY_FORM_OPENED)
        for back, kind in enumerate(reversed(steps), start=1):
            events.add(kind, visitor, submitted - timedelta(minutes=3 * back), product)
        events.add(EventKind.APPLY_SUBMITTED, visitor, submitted, product)
        events.add(EventKind.CONSENT_GIVEN, visitor, submitted, product)


def _browsing(events: _Events, products: list[int], now: datetime) -> None:
    rng = events.rng
    for back in range(DAYS, -1, -1):
        day = now - timedelta(days=back)
        weekend = day.weekday() >= 5
        visitors = int((40 + (DAYS - back) * 0.4) * (0.7 if weekend else 1.0))
        for _visitor in range(visitors):
            visitor = events.visitor()
            at = day.replace(hour=8, minute=0) + timedelta(minutes=rng.randint(0, 14 * 60))
            if at > now:
                continue
            if rng.random() < 0.55:
                text, found = rng.choice(QUERIES)
                filters = rng.choice(FILTERS) if rng.random() < 0.4 else {}
                events.add(
                    EventKind.SEARCH,
                    visitor,
                    at,
                    query=text,
                    filters=filters,
                    result=rng.randint(1, 12) if found else 0,
                )
                if filters and "sort" not in filters:
                    events.add(EventKind.FILTER_USE, visitor, at, filters=filters)
            if not products:
                continue
            product = rng.choice(products)
            for view in range(rng.randint(1, 3)):
                events.add(
                    EventKind.PRODUCT_VIEW, visitor, at + timedelta(seconds=20 * view), product
                )
            later = at + timedelta(minutes=2)
            if rng.random() < 0.3:
                events.add(EventKind.CALCULATOR_USE, visitor, later, product)
                if rng.random() < 0.15:
                    events.add(EventKind.APPLY_FORM_OPENED, visitor, later, product)
            elif rng.random() < 0.02:
                events.add(EventKind.APPLY_FORM_OPENED, visitor, later, product)


async def seed_analytics() -> int:
    now = datetime.now(UTC)
    products = [
        row["id"]
        for row in await Product.select(Product.id).where(Product.status == ProductStatus.LISTED)
    ]
    # Every application, however old: a period before the browsing history still has the
    # steps of the applications it counts.
    applications = await Application.select(
        Application.product, Application.submitted_at.as_alias("at")
    ).order_by(Application.id)
    events = _Events(random.Random(SEED))  # noqa: S311 - demo data, not security
    _application_steps(events, applications)
    _browsing(events, products, now)
    async with engine().transaction() as tx:
        await tx.connection.executemany(
            "INSERT INTO analytics_event (kind, visitor, at, product, query, filters,"
            " result_count) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
            events.rows,
        )
    return await refresh_rollups()
