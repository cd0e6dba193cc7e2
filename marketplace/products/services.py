"""Verbs on products: save, price, submit for review, review, pause/resume/delist.

Version numbers count listed revisions, without gaps. A new product is version 1;
submitting, rejection and resubmission keep the number, so the version a reviewer lists
is the one the institution drafted. Listing a version freezes its terms in a
ProductRevision (what applications pin); editing a product whose version has been listed
starts the next version. A paused product resumed unchanged is still the same version.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from marketplace import outbox
from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.loancalc import CostLines, CostVerdict, apr_range, classify_cost
from marketplace.parameters.services import cost_lines
from marketplace.products.statuses import LISTING_ACTIONS, PRODUCT_MACHINE, ProductStatus
from marketplace.products.tables import Product, ProductRevision
from marketplace.products.validation import PriceTerms, ProductInput


@dataclass(frozen=True)
class PricePreview:
    apr_min: Decimal
    apr_max: Decimal
    verdict: CostVerdict
    lines: CostLines


async def price(terms: PriceTerms) -> PricePreview:
    low, high = apr_range(
        terms.amount_min,
        terms.amount_max,
        terms.term_options,
        terms.repayment_method,
        terms.rate,
        terms.rate_period,
        terms.fees,
    )
    lines = await cost_lines()
    return PricePreview(low, high, classify_cost(high, lines), lines)


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
        Product.rate: terms.rate,
        Product.rate_period: terms.rate_period,
        Product.repayment_method: terms.repayment_method,
        Product.fees: [fee.to_dict() for fee in terms.fees],
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


async def save_product(actor: Actor, product_id: int | None, data: ProductInput) -> int:
    _require(actor, "product.edit")
    preview = await price(data.price_terms)
    async with transaction():
        if product_id is None:
            values = {column._meta.name: value for column, value in _columns(data, preview).items()}
            rows = await Product.insert(
                Product(institution=actor.institution_id, status=ProductStatus.DRAFT, **values)
            ).returning(Product.id)
            product_id = rows[0]["id"]
            await audit(actor, "product.create", "product", product_id, name=data.name)
        else:
            current = await _own_product(actor, product_id, lock=True)
            target = PRODUCT_MACHINE.target(current["status"], "edit", actor)
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
