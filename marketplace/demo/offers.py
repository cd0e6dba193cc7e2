"""Demo offers: the demo borrower has two open offers from two institutions to compare, one
signed (accepted, waiting for the money), one declined and one expired; all through the
applications and offers verbs, so timelines, notices and audit rows are real."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketplace.accounts.codes import issue_code
from marketplace.accounts.services import mobile_login_key
from marketplace.actors import Actor
from marketplace.applications.services import (
    move_lead,
)
from marketplace.demo.decisions import _actor, _borrower_mobile, apply_and_deliver
from marketplace.offers.queries import contract_for, offer_form_defaults, product_terms
from marketplace.offers.services import (
    SIGN_CODE_PURPOSE,
    decline_offer,
    expire_offers,
    make_offer,
    sign_offer,
)
from marketplace.offers.tables import Offer
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product
from marketplace.signing import SigningRequest

HUAXIN = "admin@huaxin-bank.example"
YUNFAN = "admin@yunfan-bank.example"
HANHAI = "admin@hanhai-bank.example"
# (institution admin, which of its listed products, rate as a share of the product's, fate)
PLAN = (
    (HUAXIN, 1, Decimal("1"), "open"),
    (YUNFAN, 1, Decimal("0.9"), "open"),
    (HANHAI, 1, Decimal("1"), "signed"),
    (HUAXIN, 2, Decimal("1"), "declined"),
    (YUNFAN, 2, Decimal("1"), "expired"),
)


async def _apply(borrower: Actor, staff: Actor, nth: int) -> int | None:
    """A delivered application of the borrower to the institution's nth listed product."""
    product = (
        await Product.select(
            *Product.all_columns(),
            Product.institution.short_name.as_alias("institution_name"),
            Product.institution.service_phone.as_alias("service_phone"),
            Product.institution.city.as_alias("institution_city"),
        )
        .where(
            (Product.institution == staff.institution_id) & (Product.status == ProductStatus.LISTED)
        )
        .order_by(Product.id)
        .offset(nth)
        .output(load_json=True)
        .first()
    )
    if product is None:
        return None
    amount = min(
        Decimal(product["amount_max"]), max(Decimal(product["amount_min"]), Decimal(30000))
    )
    return await apply_and_deliver(
        borrower,
        product,
        amount=amount,
        term_months=product["term_options"][len(product["term_options"]) // 2],
        city=(product["cities"] or [product["institution_city"]])[0],
    )


async def sign_demo_offer(borrower: Actor, offer_id: int) -> None:
    """Sign an open offer as the borrower would, with a code issued for it (no SMS)."""
    code = await issue_code(SIGN_CODE_PURPOSE, str(offer_id))
    contract = await contract_for(offer_id)
    await sign_offer(
        borrower,
        offer_id,
        SigningRequest(code, contract.sha256, "127.0.0.1", "LoanMart demo"),
    )


async def seed_offers() -> int:
    """Once (nothing when the demo accounts are missing or offers exist); returns how many
    offers were made."""
    borrower = await _actor(mobile_login_key(_borrower_mobile()))
    if borrower is None or await Offer.exists().where(
        (Offer.borrower == borrower.user_id) & (Offer.status != "signed")
    ):
        return 0
    made = 0
    for login, nth, rate_share, fate in PLAN:
        staff = await _actor(login)
        if staff is None:
            continue
        application_id = await _apply(borrower, staff, nth)
        if application_id is None:
            continue
        await move_lead(staff, application_id, "review")
        values = offer_form_defaults(await product_terms(staff, application_id))
        values["rate"] = f"{(Decimal(values['rate']) * rate_share).quantize(Decimal('0.01'))}"
        offer_id = await make_offer(staff, application_id, values)
        made += 1
        if fate == "signed":
            await sign_demo_offer(borrower, offer_id)
        elif fate == "declined":
            await decline_offer(borrower, offer_id)
        elif fate == "expired":
            await Offer.update({Offer.expires_at: datetime.now(UTC) - timedelta(hours=1)}).where(
                Offer.id == offer_id
            )
            await expire_offers()
    return made
