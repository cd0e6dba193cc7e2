"""Verbs on products: save, price, submit for review, review, pause/resume/delist, and the
re-pricing of every product when a cost parameter (the LPR, the APR lines) changes.

Version numbers count listed revisions, without gaps. A new product is version 1;
submitting, rejection and resubmission keep the number, so the version a reviewer lists
is the one the institution drafted. Listing a version freezes its terms in a
ProductRevision (what applications pin); editing a product whose version has been listed
starts the next version. A paused product resumed unchanged is still the same version.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from piccolo.columns import Column, Numeric

from marketplace import outbox
from marketplace.actors import SYSTEM, Actor
from marketplace.audit.services import record as audit
from marketplace.categories.queries import product_category_choices
from marketplace.db import transaction
from marketplace.errors import (
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from marketplace.i18n import _
from marketplace.inbox.services import notify_institution
from marketplace.loancalc import (
    CostLines,
    CostVerdict,
    Fee,
    LoanInputError,
    classify_cost,
)
from marketplace.parameters.services import cost_lines
from marketplace.products.statuses import (
    LISTING_ACTIONS,
    PLATFORM_ACTIONS,
    PRODUCT_MACHINE,
    ProductStatus,
)
from marketplace.products.tables import Product, ProductRevision
from marketplace.products.validation import (
    PriceTerms,
    ProductInput,
    engine_field,
    methods_apr_range,
)


@dataclass(frozen=True)
class PricePreview:
    apr_min: Decimal
    apr_max: Decimal
    verdict: CostVerdict
    lines: CostLines
    rate: Decimal  # the nominal rate priced: for a floating rate, today's LPR + spread
    rate_period: str


async def price(terms: PriceTerms, lines: CostLines | None = None) -> PricePreview:
    """The APR range and cost verdict of these terms at today's LPR and cost lines.

    The engine has the last word on terms that are each fine on their own (a rate over
    100% a year once annualised, an upfront fee as large as the loan): ValidationFailed."""
    lines = lines or await cost_lines()
    priced = terms.with_lpr(lines.lpr_1y)
    try:
        low, high = methods_apr_range(priced)
    except LoanInputError as exc:
        raise ValidationFailed({engine_field(exc, terms): exc.message}) from None
    return PricePreview(
        low, high, classify_cost(high, lines), lines, priced.rate, priced.rate_period
    )


def _columns(data: ProductInput, preview: PricePreview) -> dict:
    terms = data.price_terms
    return {
        Product.name: data.name,
        Product.category: data.category,
        Product.summary: data.summary,
        Product.description: data.description,
        Product.amount_min: terms.amount_min,
        Product.amount_max: terms.amount_max,
        Product.term_options: terms.term_options,
        Product.rate_type: terms.rate_type,
        Product.rate_spread_bps: terms.spread_bps,
        Product.rate: preview.rate,
        Product.rate_period: preview.rate_period,
        Product.repayment_methods: terms.repayment_methods,
        Product.fees: [fee.to_dict() for fee in terms.fees],
        Product.contingent_fees: [fee.to_dict() for fee in data.contingent_fees],
        Product.age_min: data.age_min,
        Product.age_max: data.age_max,
        Product.cities: data.cities,
        Product.min_monthly_income: data.min_monthly_income,
        Product.employment_types: data.employment_types,
        Product.required_documents: data.required_documents,
        Product.tags: data.tags,
        Product.keywords: data.keywords,
        Product.approval_speed_hours: data.approval_speed_hours,
        Product.apr_min: preview.apr_min,
        Product.apr_max: preview.apr_max,
        Product.cost_verdict: str(preview.verdict),
        Product.updated_at: datetime.now(UTC),
    }


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied()


async def _own_product(actor: Actor, product_id: int, *, lock: bool = False) -> dict:
    """The product if it belongs to the actor's institution; otherwise NotFound."""
    query = Product.select().where(
        (Product.id == product_id) & (Product.institution == actor.institution_id)
    )
    if lock:
        query = query.lock_rows()
    row = await query.first()
    if row is None:
        raise NotFound(_("找不到该产品"))
    return row


async def _require_category(category: str, current: str | None) -> None:
    """A hidden category is not given to a product, except the one it has already."""
    if category not in await product_category_choices(current):
        raise DomainError(_("请选择产品类别"), field="category")


async def save_product(actor: Actor, product_id: int | None, data: ProductInput) -> int:
    _require(actor, "product.edit")
    preview = await price(data.price_terms)
    async with transaction():
        if product_id is None:
            await _require_category(data.category, None)
            values = {column._meta.name: value for column, value in _columns(data, preview).items()}
            rows = await Product.insert(
                Product(institution=actor.institution_id, status=ProductStatus.DRAFT, **values)
            ).returning(Product.id)
            product_id = rows[0]["id"]
            await audit(actor, "product.create", "product", product_id, name=data.name)
        else:
            current = await _own_product(actor, product_id, lock=True)
            target = PRODUCT_MACHINE.target(current["status"], "edit", actor)
            await _require_category(data.category, current["category"])
            listed = await ProductRevision.exists().where(
                (ProductRevision.product == product_id)
                & (ProductRevision.version == current["version"])
            )
            version = current["version"] + (1 if listed else 0)
            await Product.update(
                {**_columns(data, preview), Product.status: target, Product.version: version}
            ).where(Product.id == product_id)
            await audit(actor, "product.update", "product", product_id, name=data.name)
            if current["status"] == ProductStatus.PAUSED:
                await outbox.record("products.index", product_id=product_id)
    return product_id


async def submit_for_review(actor: Actor, product_id: int, *, acknowledge_high_cost: bool) -> None:
    """Send the product's current version to review (the number does not change)."""
    _require(actor, "product.edit")
    async with transaction():
        product = await _own_product(actor, product_id, lock=True)
        target = PRODUCT_MACHINE.target(product["status"], "submit", actor)
        verdict = CostVerdict(product["cost_verdict"])
        if verdict is CostVerdict.BLOCK:
            raise DomainError(
                _("综合年化利率超过平台上限，不能提交审核；请调整利率或费用"), field="rate"
            )
        if verdict is CostVerdict.WARN and not acknowledge_high_cost:
            raise DomainError(
                _("综合年化利率较高，须勾选确认后方可提交，并将向借款人显著提示"),
                field="acknowledge_high_cost",
            )
        await Product.update(
            {
                Product.status: target,
                Product.high_cost_acknowledged: verdict is CostVerdict.WARN,
            }
        ).where(Product.id == product_id)
        await audit(actor, "product.submit", "product", product_id, version=product["version"])


async def _freeze_listed_version(product: dict) -> None:
    """Keep the terms of the version being listed; listing it again after a pause with
    no edit keeps the first snapshot (the terms are the same)."""
    snapshot = {
        key: (str(value) if isinstance(value, Decimal | datetime) else value)
        for key, value in product.items()
    }
    await ProductRevision.insert(
        ProductRevision(product=product["id"], version=product["version"], snapshot=snapshot)
    ).on_conflict(target=(ProductRevision.product, ProductRevision.version), action="DO NOTHING")


async def review_product(actor: Actor, product_id: int, *, approve: bool, note: str) -> None:
    _require(actor, "product.review")
    note = note.strip()
    if not approve and not note:
        raise DomainError(_("驳回时请填写原因，机构将看到该说明"), field="note")
    async with transaction():
        product = await Product.select().where(Product.id == product_id).lock_rows().first()
        if product is None:
            raise NotFound(_("找不到该产品"))
        target = PRODUCT_MACHINE.target(
            product["status"], "approve" if approve else "reject", actor
        )
        now = datetime.now(UTC)
        if approve:
            await _freeze_listed_version(product)
            await Product.update(
                {
                    Product.status: target,
                    Product.listed_at: product["listed_at"] or now,
                    Product.review_note: note,
                }
            ).where(Product.id == product_id)
            await outbox.record("products.index", product_id=product_id)
        else:
            await Product.update({Product.status: target, Product.review_note: note}).where(
                Product.id == product_id
            )
        await audit(
            actor,
            "product.approve" if approve else "product.reject",
            "product",
            product_id,
            note=note,
            version=product["version"],
        )


async def change_listing(actor: Actor, product_id: int, action: str) -> str:
    """Pause, resume (goes back through review) or delist one of the institution's products."""
    _require(actor, "product.edit")
    if action not in LISTING_ACTIONS:
        raise InvalidTransition(_("不支持的操作"))
    async with transaction():
        product = await _own_product(actor, product_id, lock=True)
        target = PRODUCT_MACHINE.target(product["status"], action, actor)
        await Product.update({Product.status: target}).where(Product.id == product_id)
        await outbox.record("products.index", product_id=product_id)
        await audit(actor, f"product.{action}", "product", product_id)
    return target


async def change_platform_listing(actor: Actor, product_id: int, action: str, reason: str) -> int:
    """The platform suspends a listed or paused product, or reinstates a suspended one (a
    monitoring case's decision, with its reason). It leaves or rejoins the listing and the
    search index at once. Joins the caller's transaction; returns the product's institution."""
    if action not in PLATFORM_ACTIONS:
        raise InvalidTransition(_("不支持的操作"))
    async with transaction():
        product = await Product.select().where(Product.id == product_id).lock_rows().first()
        if product is None:
            raise NotFound(_("找不到该产品"))
        target = PRODUCT_MACHINE.target(product["status"], action, actor)
        await Product.update({Product.status: target}).where(Product.id == product_id)
        await outbox.record("products.index", product_id=product_id)
        await audit(actor, f"product.{action}", "product", product_id, reason=reason)
    return int(product["institution"])


def _stored_terms(row: dict) -> PriceTerms:
    fees = row["fees"]
    return PriceTerms(
        amount_min=row["amount_min"],
        amount_max=row["amount_max"],
        term_options=list(row["term_options"]),
        rate=row["rate"],
        rate_period=row["rate_period"],
        repayment_methods=list(row["repayment_methods"]),
        fees=[Fee.from_dict(fee) for fee in (json.loads(fees) if isinstance(fees, str) else fees)],
        rate_type=row["rate_type"],
        spread_bps=row["rate_spread_bps"],
    )


def _as_stored(value: Decimal, column: Numeric) -> Decimal:
    """The value as its Numeric column keeps it, so an unchanged price compares equal."""
    _precision, scale = column.digits or (0, 0)
    return value.quantize(Decimal(1).scaleb(-scale))


async def reprice_products() -> int:
    """Price every product that is not delisted again at the current LPR and cost lines:
    a floating rate follows the LPR, and every verdict follows the lines. Listed products
    whose price moved are re-indexed; one pushed over the block line is paused, as nothing
    over it may be listed, and its institution told. Idempotent; returns how many changed."""
    changed = 0
    async with transaction():
        lines = await cost_lines()
        rows = (
            await Product.select()
            .where(Product.status != ProductStatus.DELISTED)
            .order_by(Product.id)
            .lock_rows()
        )
        for row in rows:
            try:
                preview = await price(_stored_terms(row), lines)
            except ValidationFailed:
                continue  # an LPR that makes the rate impossible: keep the last price
            before = (row["rate"], row["apr_min"], row["apr_max"], row["cost_verdict"])
            after = (
                _as_stored(preview.rate, Product.rate),
                _as_stored(preview.apr_min, Product.apr_min),
                _as_stored(preview.apr_max, Product.apr_max),
                str(preview.verdict),
            )
            if before == after:
                continue
            changed += 1
            await _reprice(row, preview, lines)
    return changed


# The platform pauses a listed product that re-pricing pushes over the block line: the one
# move the system makes on the institution's behalf, so only this module holds the right.
_REPRICER = replace(SYSTEM, permissions=frozenset({"product.edit"}))


async def _reprice(row: dict, preview: PricePreview, lines: CostLines) -> None:
    values: dict[Column | str, Any] = {
        Product.rate: preview.rate,
        Product.apr_min: preview.apr_min,
        Product.apr_max: preview.apr_max,
        Product.cost_verdict: str(preview.verdict),
    }
    listed = row["status"] == ProductStatus.LISTED
    paused = listed and preview.verdict is CostVerdict.BLOCK
    if paused:
        values[Product.status] = PRODUCT_MACHINE.target(row["status"], "pause", _REPRICER)
    await Product.update(values).where(Product.id == row["id"])
    if listed:
        await outbox.record("products.index", product_id=row["id"])
    await audit(
        SYSTEM,
        "product.reprice",
        "product",
        row["id"],
        rate=str(preview.rate),
        apr_min=str(preview.apr_min),
        apr_max=str(preview.apr_max),
        lpr=str(lines.lpr_1y),
    )
    if paused:
        await audit(SYSTEM, "product.pause", "product", row["id"], reason="apr_over_block_line")
        await notify_institution(
            row["institution"],
            "product_paused",
            _(
                "LPR调整后“{name}”综合年化利率超过平台上限，已自动暂停申请，请调整价格后重新提交",
                name=row["name"],
            ),
            f"/console/products/{row['id']}",
            permission="product.edit",
        )


async def reprice_products_job(ctx: dict, **_: object) -> int:
    return await reprice_products()


async def sync_promoted(live_product_ids: Collection[int]) -> int:
    """Make `promoted` mean "has a live promotion": the promotions context, which decides
    that, calls this inside its transaction. Products whose flag changes are reindexed."""
    ids = list(live_product_ids) or [0]
    switched_on = (
        await Product.update({Product.promoted: True})
        .where(Product.id.is_in(ids) & Product.promoted.eq(False))
        .returning(Product.id)
    )
    switched_off = (
        await Product.update({Product.promoted: False})
        .where(Product.id.not_in(ids) & Product.promoted.eq(True))
        .returning(Product.id)
    )
    for row in (*switched_on, *switched_off):
        await outbox.record("products.index", product_id=row["id"])
    return len(switched_on) + len(switched_off)
