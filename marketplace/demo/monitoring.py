"""Demo monitoring (A7): 华信 offers the demo borrower a rate above its product's listed
range and the borrower signs it; the hourly evaluation flags the product, the super admin takes the case and notes
it, and 华信 responds in its console — all through the real verbs, so the case, its
events, notices and audit rows are what a live run would leave."""

from __future__ import annotations

from decimal import Decimal

from marketplace.accounts.services import mobile_login_key
from marketplace.actors import Actor
from marketplace.applications.services import move_lead
from marketplace.demo.decisions import _actor, _borrower_mobile
from marketplace.demo.offers import _apply, sign_demo_offer
from marketplace.errors import DomainError
from marketplace.monitoring import flags
from marketplace.monitoring.services import add_note, assign, respond
from marketplace.monitoring.statuses import Rule
from marketplace.monitoring.tables import MonitoringCase
from marketplace.offers.queries import offer_form_defaults, product_terms
from marketplace.offers.services import make_offer

HUAXIN = "admin@huaxin-bank.example"
SUPER = "super@loanmart.example"
# The offer's nominal rate against the product's: enough to leave the listed APR range.
RATE_SHARE = Decimal("1.6")
# 华信's products by listing order, leaving out those the browser tests apply to (e贷,
# 公积金贷, 购车贷: a second application to them would be a duplicate).
PRODUCTS_TRIED = (3, 4, 6, 7, 1)


async def _fresh_application(borrower: Actor, staff: Actor) -> int | None:
    """An application to one of the institution's listed products the borrower has not
    applied to yet (the other demos used some)."""
    for nth in PRODUCTS_TRIED:
        try:
            return await _apply(borrower, staff, nth)
        except DomainError:
            continue
    return None


async def seed_monitoring() -> int:
    """Once (nothing when the demo accounts are missing or a case exists); returns the
    cases the evaluation opened."""
    borrower = await _actor(mobile_login_key(_borrower_mobile()))
    staff = await _actor(HUAXIN)
    operator = await _actor(SUPER)
    if borrower is None or staff is None or operator is None or await MonitoringCase.exists():
        return 0
    application_id = await _fresh_application(borrower, staff)
    if application_id is None:
        return 0
    await move_lead(staff, application_id, "review")
    values = offer_form_defaults(await product_terms(staff, application_id))
    values["rate"] = f"{(Decimal(values['rate']) * RATE_SHARE).quantize(Decimal('0.01'))}"
    try:
        offer_id = await make_offer(staff, application_id, values)
    except DomainError:
        return 0  # above the block line with these demo terms: no flag to show
    await sign_demo_offer(borrower, offer_id)
    opened = await flags.evaluate()
    case = (
        await MonitoringCase.select(MonitoringCase.id)
        .where(
            (MonitoringCase.institution == staff.institution_id)
            & (MonitoringCase.rule == Rule.APR_ABOVE_LISTING)
        )
        .first()
    )
    if case is not None:
        await assign(operator, case["id"], operator.user_id)
        await add_note(
            operator, case["id"], "已调取该笔批复合同，待机构说明定价依据后决定是否暂停。"
        )
        await respond(
            staff,
            case["id"],
            "该笔为借款人申请的加急放款，信贷员误用了加急利率。已撤回该定价，"
            "后续批复按标示利率执行，并已对信贷员做培训。",
        )
    return opened
