"""Verbs on promotions: an institution requests or withdraws, an operator approves or
rejects, and the clock starts and ends them.

A placement has a fixed number of slots a day (system parameters). Approvals of one
placement are serialised by a transaction-scoped advisory lock, so two operators approving
at the same moment can never overbook a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.inbox.services import notify_institution
from marketplace.loancalc import today_shanghai
from marketplace.parameters.services import get_parameters
from marketplace.products.services import sync_promoted
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product
from marketplace.promotions.placements import PLACEMENT_LABELS, Placement, slot_count
from marketplace.promotions.statuses import (
    HOLDING_SLOT,
    PROMOTION_MACHINE,
    SCHEDULER,
    PromotionStatus,
)
from marketplace.promotions.tables import Promotion

CONSOLE_LINK = "/console/promotions"
# Requests that still compete for a placement on their days.
OPEN_STATUSES = (PromotionStatus.REQUESTED, *HOLDING_SLOT)


@dataclass(frozen=True)
class PromotionRequest:
    product_id: int
    placement: Placement
    starts_on: date
    ends_on: date
    title: str = ""


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied()


async def _check_dates(cmd: PromotionRequest, today: date) -> None:
    p = await get_parameters("promotion_max_days", "promotion_max_lead_days")
    if cmd.starts_on < today:
        raise DomainError(_("开始日期不能早于今天（北京时间）"), field="starts_on")
    if cmd.starts_on > today + timedelta(days=int(p["promotion_max_lead_days"])):
        raise DomainError(
            _("开始日期最多可提前 {days} 天申请", days=p["promotion_max_lead_days"]),
            field="starts_on",
        )
    if cmd.ends_on < cmd.starts_on:
        raise DomainError(_("结束日期不能早于开始日期"), field="ends_on")
    if (cmd.ends_on - cmd.starts_on).days + 1 > int(p["promotion_max_days"]):
        raise DomainError(
            _("一次推广最长 {days} 天", days=p["promotion_max_days"]), field="ends_on"
        )


async def request_promotion(actor: Actor, cmd: PromotionRequest) -> int:
    _require(actor, "promotion.request")
    if cmd.placement is Placement.CAMPAIGN and not cmd.title:
        raise DomainError(_("推广活动请填写活动标题"), field="title")
    await _check_dates(cmd, today_shanghai())
    async with transaction():
        product = (
            await Product.select(Product.id, Product.status)
            .where((Product.id == cmd.product_id) & (Product.institution == actor.institution_id))
            .first()
        )
        if product is None:
            raise NotFound(_("找不到该产品"))
        if product["status"] != ProductStatus.LISTED:
            raise DomainError(_("只有已上架的产品可以申请推广"), field="product")
        overlapping = await Promotion.exists().where(
            (Promotion.product == cmd.product_id)
            & (Promotion.placement == cmd.placement)
            & Promotion.status.is_in(list(OPEN_STATUSES))
            & (Promotion.starts_on <= cmd.ends_on)
            & (Promotion.ends_on >= cmd.starts_on)
        )
        if overlapping:
            raise DomainError(_("该产品在这些日期已有同一推广位的申请或推广"), field="starts_on")
        rows = await Promotion.insert(
            Promotion(
                institution=actor.institution_id,
                product=cmd.product_id,
                placement=cmd.placement,
                title=cmd.title if cmd.placement is Placement.CAMPAIGN else "",
                starts_on=cmd.starts_on,
                ends_on=cmd.ends_on,
                status=PromotionStatus.REQUESTED,
                requested_by=actor.user_id,
            )
        ).returning(Promotion.id)
        promotion_id = rows[0]["id"]
        await audit(
            actor,
            "promotion.request",
            "promotion",
            promotion_id,
            product_id=cmd.product_id,
            placement=str(cmd.placement),
            starts_on=cmd.starts_on.isoformat(),
            ends_on=cmd.ends_on.isoformat(),
        )
    return promotion_id


async def _locked(promotion_id: int, institution_id: int | None = None) -> dict:
    query = Promotion.select().where(Promotion.id == promotion_id)
    if institution_id is not None:
        query = query.where(Promotion.institution == institution_id)
    row = await query.lock_rows().first()
    if row is None:
        raise NotFound(_("找不到该推广申请"))
    return row


async def withdraw_promotion(actor: Actor, promotion_id: int) -> None:
    _require(actor, "promotion.request")
    async with transaction():
        row = await _locked(promotion_id, actor.institution_id)
        target = PROMOTION_MACHINE.target(row["status"], "withdraw", actor)
        if row["starts_on"] <= today_shanghai():
            raise InvalidTransition(_("推广已到开始日期，不能再撤回"))
        await Promotion.update(
            {Promotion.status: target, Promotion.updated_at: datetime.now(UTC)}
        ).where(Promotion.id == promotion_id)
        await audit(actor, "promotion.withdraw", "promotion", promotion_id)


async def _check_slots(row: dict) -> None:
    """Refuse an approval that would put more promotions on one day than there are slots.
    Call inside the transaction: the advisory lock holds until it ends."""
    placement = Placement(row["placement"])
    await Promotion.raw(
        "SELECT pg_advisory_xact_lock(hashtext({}))", f"promotion.slots.{placement}"
    )
    slots = await slot_count(placement)
    others = await Promotion.select(Promotion.starts_on, Promotion.ends_on).where(
        (Promotion.placement == placement)
        & Promotion.status.is_in(list(HOLDING_SLOT))
        & (Promotion.starts_on <= row["ends_on"])
        & (Promotion.ends_on >= row["starts_on"])
        & (Promotion.id != row["id"])
    )
    # The busiest day of the run is its first day or a day another promotion starts.
    days = {row["starts_on"]} | {
        o["starts_on"] for o in others if o["starts_on"] > row["starts_on"]
    }
    busiest = max(sum(o["starts_on"] <= day <= o["ends_on"] for o in others) for day in days)
    if busiest >= slots:
        raise InvalidTransition(
            _(
                "{placement}在所选日期已排满（每天最多 {slots} 个），不能再通过",
                placement=_(PLACEMENT_LABELS[placement]),
                slots=slots,
            )
        )


async def review_promotion(actor: Actor, promotion_id: int, *, approve: bool, note: str) -> None:
    _require(actor, "promotion.review")
    note = note.strip()
    if not approve and not note:
        raise DomainError(_("驳回时请填写原因，机构将看到该说明"), field="note")
    async with transaction():
        row = await _locked(promotion_id)
        target = PROMOTION_MACHINE.target(row["status"], "approve" if approve else "reject", actor)
        if approve:
            if row["ends_on"] < today_shanghai():
                raise InvalidTransition(_("推广日期已过，请驳回"))
            await _check_slots(row)
        await Promotion.update(
            {
                Promotion.status: target,
                Promotion.review_note: note,
                Promotion.reviewed_by: actor.user_id,
                Promotion.updated_at: datetime.now(UTC),
            }
        ).where(Promotion.id == promotion_id)
        await audit(
            actor,
            "promotion.approve" if approve else "promotion.reject",
            "promotion",
            promotion_id,
            note=note,
        )
        label = _(PLACEMENT_LABELS[Placement(row["placement"])])
        await notify_institution(
            row["institution"],
            "promotion",
            _("推广申请已通过：{placement}", placement=label)
            if approve
            else _("推广申请未通过：{placement}", placement=label),
            CONSOLE_LINK,
            permission="promotion.request",
        )
        if approve:
            # A promotion approved on or after its first day goes live at once.
            await advance_promotions()


async def advance_promotions(today: date | None = None) -> int:
    """Start approved promotions whose first day has come and end those past their last
    day (Asia/Shanghai), then make every product's 推广 flag match its live promotions.
    Idempotent: a second run the same day changes nothing."""
    today = today or today_shanghai()
    changed = 0
    async with transaction():
        rows = (
            await Promotion.select()
            .where(Promotion.status.is_in(list(HOLDING_SLOT)))
            .order_by(Promotion.id)
            .lock_rows()
        )
        for row in rows:
            if row["ends_on"] < today:
                action = "end"
            elif row["status"] == PromotionStatus.APPROVED and row["starts_on"] <= today:
                action = "start"
            else:
                continue
            target = PROMOTION_MACHINE.target(row["status"], action, SCHEDULER)
            await Promotion.update(
                {Promotion.status: target, Promotion.updated_at: datetime.now(UTC)}
            ).where(Promotion.id == row["id"])
            await audit(SCHEDULER, f"promotion.{action}", "promotion", row["id"], day=str(today))
            changed += 1
        live = await Promotion.select(Promotion.product).where(
            Promotion.status == PromotionStatus.LIVE
        )
        await sync_promoted({r["product"] for r in live})
    return changed
