"""Demo promotions, through the promotions verbs: one live home recommendation (Yunfan),
one request waiting for review (Hanhai) and one rejected (Huaxin)."""

from __future__ import annotations

from datetime import timedelta

from marketplace.demo.decisions import _actor
from marketplace.i18n import _
from marketplace.loancalc import today_shanghai
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product
from marketplace.promotions.placements import Placement
from marketplace.promotions.services import PromotionRequest, request_promotion, review_promotion


async def _first_listed(institution_id: int | None) -> int | None:
    row = (
        await Product.select(Product.id)
        .where((Product.institution == institution_id) & (Product.status == ProductStatus.LISTED))
        .order_by(Product.id)
        .first()
    )
    return row["id"] if row else None


async def seed_promotions() -> None:
    reviewer = await _actor("reviewer@loanmart.example")
    today = today_shanghai()
    plan = (
        ("admin@yunfan-bank.example", Placement.HOME, 0, 13, "approve", ""),
        ("admin@hanhai-bank.example", Placement.LIST_TOP, 1, 7, None, ""),
        (
            "admin@huaxin-bank.example",
            Placement.CAMPAIGN,
            2,
            5,
            "reject",
            _("活动标题未写明优惠条件和适用人群，请补充后重新申请"),
        ),
    )
    for login, placement, start, end, decision, note in plan:
        staff = await _actor(login)
        product_id = await _first_listed(staff.institution_id) if staff else None
        if staff is None or reviewer is None or product_id is None:
            continue
        title = _("新客首月息费五折") if placement is Placement.CAMPAIGN else ""
        promotion_id = await request_promotion(
            staff,
            PromotionRequest(
                product_id, placement, today + timedelta(start), today + timedelta(end), title
            ),
        )
        if decision:
            await review_promotion(reviewer, promotion_id, approve=decision == "approve", note=note)
