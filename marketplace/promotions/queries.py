"""Read models for promotion pages and for the placements on the portal."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from marketplace.actors import Actor
from marketplace.cache import catalogue_cached
from marketplace.i18n import _
from marketplace.loancalc import today_shanghai
from marketplace.products.queries import ProductCard, products_by_ids
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product
from marketplace.promotions.placements import PLACEMENT_LABELS, Placement, slot_count
from marketplace.promotions.statuses import PROMOTION_MACHINE, PromotionStatus
from marketplace.promotions.tables import Promotion
from marketplace.statemachine import Actions

ROW_COLUMNS = (
    Promotion.id,
    Promotion.placement,
    Promotion.title,
    Promotion.starts_on,
    Promotion.ends_on,
    Promotion.status,
    Promotion.review_note,
    Promotion.created_at,
    Promotion.product.id.as_alias("product_id"),
    Promotion.product.name.as_alias("product_name"),
    Promotion.institution.short_name.as_alias("institution_name"),
)
QUEUE_LIMIT = 200


@dataclass(frozen=True)
class PromotionRow:
    id: int
    product_id: int
    product_name: str
    institution_name: str
    placement: Placement
    placement_label: str
    title: str
    starts_on: date
    ends_on: date
    days: int
    status: PromotionStatus
    status_label: str
    review_note: str
    created_at: datetime
    actions: Actions


@dataclass(frozen=True)
class PlacementItem:
    """A live promotion as the portal shows it: always labelled 推广."""

    promotion_id: int
    title: str
    card: ProductCard


def _row(row: dict, actor: Actor, today: date) -> PromotionRow:
    actions = PROMOTION_MACHINE.actions(row["status"], actor)
    if row["starts_on"] <= today:
        # Once its first day has come a promotion runs its course (the verb refuses too).
        actions = replace(actions, items=tuple(a for a in actions if a.name != "withdraw"))
    placement = Placement(row["placement"])
    return PromotionRow(
        **{k: row[k] for k in ("id", "product_id", "product_name", "institution_name", "title")},
        placement=placement,
        placement_label=_(PLACEMENT_LABELS[placement]),
        starts_on=row["starts_on"],
        ends_on=row["ends_on"],
        days=(row["ends_on"] - row["starts_on"]).days + 1,
        status=PROMOTION_MACHINE.state(row["status"]),
        status_label=PROMOTION_MACHINE.label(row["status"]),
        review_note=row["review_note"],
        created_at=row["created_at"],
        actions=actions,
    )


async def institution_promotions(actor: Actor) -> list[PromotionRow]:
    rows = (
        await Promotion.select(*ROW_COLUMNS)
        .where(Promotion.institution == actor.institution_id)
        .order_by(Promotion.id, ascending=False)
    )
    today = today_shanghai()
    return [_row(row, actor, today) for row in rows]


async def promotion_queue(actor: Actor, status: PromotionStatus | None) -> list[PromotionRow]:
    """Requests oldest first (the review order); any other status newest first."""
    query = Promotion.select(*ROW_COLUMNS)
    if status is not None:
        query = query.where(Promotion.status == status)
    query = query.order_by(Promotion.id, ascending=status is PromotionStatus.REQUESTED)
    today = today_shanghai()
    return [_row(row, actor, today) for row in await query.limit(QUEUE_LIMIT)]


async def promotable_products(actor: Actor) -> dict[str, str]:
    """The institution's listed products: product id (as a form value) -> name."""
    rows = (
        await Product.select(Product.id, Product.name)
        .where(
            (Product.institution == actor.institution_id) & (Product.status == ProductStatus.LISTED)
        )
        .order_by(Product.name)
    )
    return {str(row["id"]): row["name"] for row in rows}


@catalogue_cached
async def live_placements(placement: Placement) -> list[PlacementItem]:
    """What fills `placement` now: live promotions of listed products, at most one per
    slot, the earliest started first."""
    slots = await slot_count(placement)
    rows = (
        await Promotion.select(Promotion.id, Promotion.title, Promotion.product)
        .where(
            (Promotion.placement == placement)
            & (Promotion.status == PromotionStatus.LIVE)
            & (Promotion.product.status == ProductStatus.LISTED)
        )
        .order_by(Promotion.starts_on)
        .order_by(Promotion.id)
        .limit(slots)
    )
    cards = {card.id: card for card in await products_by_ids([r["product"] for r in rows])}
    return [
        PlacementItem(row["id"], row["title"], cards[row["product"]])
        for row in rows
        if row["product"] in cards
    ]
