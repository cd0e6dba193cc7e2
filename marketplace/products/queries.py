"""Read models for product pages: portal cards and detail, console lists, review queue.

Typed and frozen; labels are translated here, where they are read for a page. A detail
carries the actions its reader may take now (from the product transition table and the
reader's permissions), so templates never compare status strings.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from piccolo.query import OrderByRaw

from marketplace.actors import Actor
from marketplace.cache import catalogue_cached, catalogue_entries
from marketplace.categories.queries import category_labels
from marketplace.errors import NotFound
from marketplace.i18n import LANGUAGE, _
from marketplace.loancalc import Fee, RatePeriod, RepaymentMethod
from marketplace.products.catalog import CATEGORIES, EMPLOYMENT_TYPES
from marketplace.products.disclosures import ContingentFee
from marketplace.products.disclosures import load as load_contingent
from marketplace.products.search_port import SearchQuery, SearchResult, backend
from marketplace.products.statuses import (
    PRODUCT_MACHINE,
    STATUS_HINTS,
    ProductStatus,
)
from marketplace.products.tables import Product
from marketplace.products.visibility import on_portal
from marketplace.statemachine import Actions

CARD_COLUMNS = (
    Product.id,
    Product.name,
    Product.category,
    Product.summary,
    Product.amount_min,
    Product.amount_max,
    Product.term_options,
    Product.repayment_methods,
    Product.rate_type,
    Product.rate_spread_bps,
    Product.contingent_fees,
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


@dataclass(frozen=True, kw_only=True)
class ProductCard:
    """A product in a list: the portal's cards and comparison, the console's tables."""

    id: int
    name: str
    category: str
    category_label: str
    summary: str
    amount_min: Decimal
    amount_max: Decimal
    term_options: list[int]
    term_min: int
    term_max: int
    repayment_methods: list[str]
    method_labels: list[str]
    # Floating: the rate is the one-year LPR plus `rate_spread_bps` (re-priced with it).
    rate_type: str
    rate_spread_bps: int | None
    # Late / penalty / early-repayment charges: shown beside the price, outside the APR.
    contingent_fees: tuple[ContingentFee, ...]
    apr_min: Decimal | None
    apr_max: Decimal | None
    cost_verdict: str
    high_cost: bool
    approval_speed_hours: int
    tags: list[str]
    promoted: bool
    status: ProductStatus
    status_label: str
    institution_id: int
    institution_name: str
    # Only where the page shows them: search snippets; the comparison's price terms.
    highlights: Mapping[str, str] = field(default_factory=dict)
    rate: Decimal | None = None
    rate_period: str = ""
    rate_period_label: str = ""
    fee_list: tuple[Fee, ...] = ()
    # Differs whenever anything the card shows differs (its row, its category's name):
    # the key of its rendered fragment (server/templating.py `cached_fragment`).
    revision: int = field(default=0, compare=False)

    @property
    def method_label(self) -> str:
        # Translators: separator between the items of a list.
        return _("、").join(self.method_labels)

    @property
    def floating(self) -> bool:
        return self.rate_type == "floating"


@dataclass(frozen=True, kw_only=True)
class ProductSummary(ProductCard):
    """A row of the console's product list or the review queue."""

    updated_at: datetime
    review_note: str
    review_rejected: bool  # the review note is why the platform turned it down
    high_cost_acknowledged: bool


@dataclass(frozen=True, kw_only=True)
class ProductDetail(ProductSummary):
    """Every term of one product, and what the reader may do with it now."""

    rate: Decimal
    rate_period: str
    description: str
    age_min: int
    age_max: int
    cities: list[str]
    min_monthly_income: Decimal
    employment_types: list[str]
    employment_labels: list[str]
    required_documents: list[str]
    keywords: list[str]
    version: int
    created_at: datetime
    listed_at: datetime | None
    public: bool  # borrowers can see and apply for it now
    status_hint: str
    actions: Actions = Actions()
    # Institution facts, where the page shows them.
    institution_legal_name: str = ""
    licence_no: str = ""
    service_phone: str = ""


T = TypeVar("T", bound=ProductCard)


def _build(cls: type[T], row: Mapping[str, Any], labels: Mapping[str, str], **extra: Any) -> T:
    """The read model `cls` from a selected row, with its labels translated now;
    `labels`: category names as operators set them (categories context)."""
    status = PRODUCT_MACHINE.state(row["status"])
    fees_json = row.get("fees") or "[]"
    # Piccolo returns JSONB columns as text unless asked otherwise.
    fees = tuple(
        Fee.from_dict(fee)
        for fee in (json.loads(fees_json) if isinstance(fees_json, str) else fees_json)
    )
    terms = row["term_options"] or [0]
    values: dict[str, Any] = {
        **row,
        "status": status,
        "status_label": PRODUCT_MACHINE.label(status),
        "status_hint": _(STATUS_HINTS[status]),
        "review_rejected": status is ProductStatus.REJECTED,
        "public": status is ProductStatus.LISTED,
        "category_label": labels.get(row["category"])
        or _(CATEGORIES.get(row["category"], row["category"])),
        "method_labels": [RepaymentMethod(m).label for m in row["repayment_methods"]],
        "contingent_fees": load_contingent(row.get("contingent_fees")),
        "term_min": min(terms),
        "term_max": max(terms),
        "high_cost": row["cost_verdict"] == "warn",
        "fee_list": fees,
        "rate_period_label": RatePeriod(row["rate_period"]).label if "rate_period" in row else "",
        "employment_labels": [
            _(EMPLOYMENT_TYPES.get(e, e)) for e in row.get("employment_types") or []
        ],
        **extra,
    }
    values["revision"] = hash((repr(tuple(row.items())), values["category_label"]))
    return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


# What a portal card shows, for the lists, slots and comparison alike (one cached shape).
PORTAL_CARD_COLUMNS = (*CARD_COLUMNS, Product.rate, Product.rate_period, Product.fees)
# 热门产品: the most applied-for products under the cost warning line first, then the
# high-cost ones (popularity alone would lead with them); ties by id for a stable page.
FEATURED_ORDER = OrderByRaw("cost_verdict = 'warn', popularity DESC, id")


async def portal_cards(ids: list[int]) -> list[ProductCard]:
    """The cards of `ids` that borrowers may see now, in the order of `ids`.

    From this process's cache while the catalogue has not changed (marketplace.cache);
    the products it has not read yet (or not seen on the portal) in one query."""
    entries = await catalogue_entries()
    cached: dict[Hashable, Any] = entries if entries is not None else {}
    missing = [i for i in ids if ("card", LANGUAGE, i) not in cached]
    if missing:
        labels = await category_labels(active_only=False)
        rows = await Product.select(*PORTAL_CARD_COLUMNS).where(
            Product.id.is_in(missing) & on_portal()
        )
        found = {row["id"]: _build(ProductCard, row, labels) for row in rows}
        # A product not on the portal is remembered as None: it stays away until a change.
        cached.update({("card", LANGUAGE, i): found.get(i) for i in missing})
    cards = (cached[("card", LANGUAGE, i)] for i in ids)
    return [card for card in cards if card is not None]


async def search_products(query: SearchQuery) -> tuple[list[ProductCard], SearchResult]:
    """Cards in the search engine's order, with its highlights; the cards are read as the
    catalogue is now, so a product paused since it was indexed never shows."""
    result = await backend().search(query)
    cards = {card.id: card for card in await portal_cards([hit.id for hit in result.hits])}
    return [
        replace(cards[hit.id], highlights=hit.highlights) if hit.highlights else cards[hit.id]
        for hit in result.hits
        if hit.id in cards
    ], result


def institution_counts(result: SearchResult) -> dict[str, int]:
    """Products per institution under every filter but the institution itself, so a
    borrower who picked one bank still sees how many the others offer and can switch
    (the engine counts the institution facet that way, in the same search)."""
    return result.facets.get("institution_id", {})


@catalogue_cached
async def featured_products(limit: int = 6) -> list[ProductCard]:
    rows = await Product.select(Product.id).where(on_portal()).order_by(FEATURED_ORDER).limit(limit)
    return await portal_cards([row["id"] for row in rows])


@catalogue_cached
async def listed_product(product_id: int) -> ProductDetail:
    labels = await category_labels(active_only=False)
    row = (
        await Product.select(
            *Product.all_columns(),
            Product.institution.short_name.as_alias("institution_name"),
            Product.institution.name.as_alias("institution_legal_name"),
            Product.institution.licence_no.as_alias("licence_no"),
            Product.institution.service_phone.as_alias("service_phone"),
        )
        .where((Product.id == product_id) & on_portal())
        .first()
    )
    if row is None:
        raise NotFound(_("该产品不存在或已下架"))
    return _build(ProductDetail, row, labels, institution_id=row["institution"])


async def products_by_ids(ids: list[int]) -> list[ProductCard]:
    return await portal_cards(ids)


async def institution_products(actor: Actor) -> list[ProductSummary]:
    labels = await category_labels(active_only=False)
    rows = (
        await Product.select(
            *CARD_COLUMNS,
            Product.updated_at,
            Product.review_note,
            Product.high_cost_acknowledged,
        )
        .where(Product.institution == actor.institution_id)
        .order_by(Product.updated_at, ascending=False)
    )
    return [_build(ProductSummary, row, labels) for row in rows]


async def institution_product(actor: Actor, product_id: int) -> ProductDetail:
    """One of the actor's institution's products, with the actions the actor may take."""
    labels = await category_labels(active_only=False)
    row = (
        await Product.select(
            *Product.all_columns(), Product.institution.short_name.as_alias("institution_name")
        )
        .where((Product.id == product_id) & (Product.institution == actor.institution_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该产品"))
    return _build(
        ProductDetail,
        row,
        labels,
        institution_id=row["institution"],
        actions=PRODUCT_MACHINE.actions(row["status"], actor),
    )


async def review_queue() -> list[ProductSummary]:
    labels = await category_labels(active_only=False)
    rows = (
        await Product.select(
            *CARD_COLUMNS,
            Product.updated_at,
            Product.review_note,
            Product.high_cost_acknowledged,
        )
        .where(Product.status == ProductStatus.PENDING_REVIEW)
        .order_by(Product.updated_at)
    )
    return [_build(ProductSummary, row, labels) for row in rows]


async def product_for_review(actor: Actor, product_id: int) -> ProductDetail:
    """A product for the platform's review screen, with the decisions the actor may take.

    Reviewers see only what an institution has submitted: a draft (never submitted, or
    being edited after review) is its own work in progress, so it is a 404."""
    labels = await category_labels(active_only=False)
    row = (
        await Product.select(
            *Product.all_columns(),
            Product.institution.short_name.as_alias("institution_name"),
            Product.institution.licence_no.as_alias("licence_no"),
        )
        .where((Product.id == product_id) & (Product.status != ProductStatus.DRAFT))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该产品"))
    return _build(
        ProductDetail,
        row,
        labels,
        institution_id=row["institution"],
        actions=PRODUCT_MACHINE.actions(row["status"], actor),
    )


@catalogue_cached
async def portal_institutions() -> dict[int, str]:
    """id -> public short name of every institution with a product on the portal, by
    name: the institution picker of the product list."""
    rows = (
        await Product.select(
            Product.institution.id.as_alias("id"),
            Product.institution.short_name.as_alias("name"),
        )
        .where(on_portal())
        .distinct()
    )
    return {row["id"]: row["name"] for row in sorted(rows, key=lambda r: r["name"])}
