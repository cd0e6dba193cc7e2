"""Read models for product pages: portal cards and detail, console lists, review queue."""

from __future__ import annotations

import json

from marketplace.actors import Actor
from marketplace.errors import NotFound
from marketplace.i18n import _
from marketplace.loancalc import Fee, RatePeriod, RepaymentMethod
from marketplace.products.catalog import CATEGORIES, EMPLOYMENT_TYPES, PRODUCT_STATUSES
from marketplace.products.tables import Product
from search.backend import SearchQuery, SearchResult
from search.runtime import backend

CARD_COLUMNS = (
    Product.id,
    Product.name,
    Product.category,
    Product.summary,
    Product.amount_min,
    Product.amount_max,
    Product.term_options,
    Product.repayment_method,
    Product.apr_min,
    Product.apr_max,
    Product.cost_verdict,
    Product.approval_speed_hours,
    Product.tags,
    Product.promoted,
    Product.status,
    Product.institution.id.as_alias("institution_id"),
    Product.institution.short_name.as_alias("institution_name"),
)


def _decorate(row: dict) -> dict:
    fees_json = row.get("fees") or "[]"
    # Piccolo returns JSONB columns as text unless asked otherwise.
    fees = [
        Fee.from_dict(fee)
        for fee in (json.loads(fees_json) if isinstance(fees_json, str) else fees_json)
    ]
    return {
        **row,
        "category_label": _(CATEGORIES.get(row["category"], row["category"])),
        "method_label": RepaymentMethod(row["repayment_method"]).label,
        "status_label": _(PRODUCT_STATUSES.get(row["status"], row["status"])),
        "term_min": min(row["term_options"]) if row["term_options"] else 0,
        "term_max": max(row["term_options"]) if row["term_options"] else 0,
        "high_cost": row["cost_verdict"] == "warn",
        "fee_list": fees,
        "rate_period_label": RatePeriod(row["rate_period"]).label if "rate_period" in row else "",
        "employment_labels": [
            _(EMPLOYMENT_TYPES.get(e, e)) for e in row.get("employment_types", [])
        ],
    }


async def search_products(query: SearchQuery) -> tuple[list[dict], SearchResult]:
    """Cards in the search engine's order, with its highlights; rows come from the DB so
    a product paused since it was indexed never shows."""
    result = await backend().search(query)
    ids = [hit.id for hit in result.hits]
    if not ids:
        return [], result
    rows = await Product.select(*CARD_COLUMNS).where(
        Product.id.is_in(ids) & (Product.status == "listed")
    )
    by_id = {row["id"]: row for row in rows}
    cards = [
        {**_decorate(by_id[hit.id]), "highlights": hit.highlights}
        for hit in result.hits
        if hit.id in by_id
    ]
    return cards, result


async def featured_products(limit: int = 6) -> list[dict]:
    rows = (
        await Product.select(*CARD_COLUMNS)
        .where(Product.status == "listed")
        .order_by(Product.popularity, ascending=False)
        .limit(limit)
    )
    return [_decorate(row) for row in rows]


async def listed_product(product_id: int) -> dict:
    row = (
        await Product.select(
            *Product.all_columns(),
            Product.institution.short_name.as_alias("institution_name"),
            Product.institution.name.as_alias("institution_legal_name"),
            Product.institution.licence_no.as_alias("licence_no"),
            Product.institution.service_phone.as_alias("service_phone"),
        )
        .where((Product.id == product_id) & (Product.status == "listed"))
        .first()
    )
    if row is None:
        raise NotFound(_("该产品不存在或已下架"))
    return _decorate({**row, "institution_id": row["institution"]})


async def products_by_ids(ids: list[int]) -> list[dict]:
    rows = await Product.select(
        *CARD_COLUMNS, Product.rate, Product.rate_period, Product.fees
    ).where(Product.id.is_in(ids or [0]) & (Product.status == "listed"))
    by_id = {row["id"]: _decorate(row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def institution_products(actor: Actor) -> list[dict]:
    rows = (
        await Product.select(*CARD_COLUMNS, Product.updated_at, Product.review_note)
        .where(Product.institution == actor.institution_id)
        .order_by(Product.updated_at, ascending=False)
    )
    return [_decorate(row) for row in rows]


async def institution_product(actor: Actor, product_id: int) -> dict:
    row = (
        await Product.select(
            *Product.all_columns(), Product.institution.short_name.as_alias("institution_name")
        )
        .where((Product.id == product_id) & (Product.institution == actor.institution_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该产品"))
    return _decorate({**row, "institution_id": row["institution"]})


async def review_queue() -> list[dict]:
    rows = (
        await Product.select(*CARD_COLUMNS, Product.updated_at, Product.high_cost_acknowledged)
        .where(Product.status == "pending_review")
        .order_by(Product.updated_at)
    )
    return [_decorate(row) for row in rows]


async def product_for_review(product_id: int) -> dict:
    row = (
        await Product.select(
            *Product.all_columns(),
            Product.institution.short_name.as_alias("institution_name"),
            Product.institution.licence_no.as_alias("licence_no"),
        )
        .where(Product.id == product_id)
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该产品"))
    return _decorate({**row, "institution_id": row["institution"]})
