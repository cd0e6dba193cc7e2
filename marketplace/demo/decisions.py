"""Demo decisions: the demo borrower applies (through the applications verbs) to one product
of 瀚海 and one of 云帆; 瀚海 rejects with a reason code, 云帆 asks for documents, so both
the lead pages and the borrower's 请补充资料 task have something to show."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from marketplace.accounts.roles import permissions_of
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.applications.decisions import Rejection, reject_lead, rejection_reasons
from marketplace.applications.services import (
    ApplicationInput,
    deliver,
    move_lead,
    submit_application,
)
from marketplace.applications.tables import Application
from marketplace.consents.notices import build_notice
from marketplace.demo.catalogue import DEMO_ACCOUNTS
from marketplace.demo.profiles import DEMO_CONTACT, DEMO_PURPOSE
from marketplace.documents.services import DocumentsAsked, request_documents
from marketplace.i18n import _
from marketplace.institutions.tables import Institution
from marketplace.products.statuses import ProductStatus
from marketplace.products.tables import Product
from marketplace.security import id_check_char

REJECTING = "admin@hanhai-bank.example"
ASKING = "admin@yunfan-bank.example"


def _borrower_mobile() -> str:
    return next(a["mobile"] for a in DEMO_ACCOUNTS if a["kind"] == "borrower")


async def _actor(login_key: str) -> Actor | None:
    user = await User.select().where(User.login_key == login_key).first()
    if user is None:
        return None
    permissions = permissions_of(user["kind"], user["role"])
    return Actor(
        user_id=user["id"],
        kind=user["kind"],
        label=user["display_name"],
        role=user["role"],
        institution_id=user["institution"],
        permissions=permissions,
    )


async def _apply(borrower: Actor, institution_id: int | None) -> int | None:
    """The borrower's delivered application to the institution's first listed product,
    its form filled to fit the product; None when there is no such product."""
    product = (
        await Product.select(
            *Product.all_columns(),
            Product.institution.short_name.as_alias("institution_name"),
            Product.institution.service_phone.as_alias("service_phone"),
        )
        .where((Product.institution == institution_id) & (Product.status == ProductStatus.LISTED))
        .order_by(Product.id)
        .output(load_json=True)
        .first()
    )
    institution = await Institution.select().where(Institution.id == institution_id).first()
    if product is None or institution is None:
        return None
    return await apply_and_deliver(
        borrower,
        product,
        amount=Decimal(product["amount_min"]),
        term_months=product["term_options"][0],
        city=(product["cities"] or [institution["city"]])[0],
    )


async def _history_time(borrower: Actor) -> datetime:
    """The demo borrower's history is made in one go, yet stands for months of use: each
    earlier application is observed by anti-fraud a velocity window (A8, at most 720
    hours) apart from the others and from today, or the demo's own history would hold its
    next application for review."""
    earlier = await Application.count().where(Application.borrower == borrower.user_id)
    return datetime.now(UTC) - timedelta(days=31 * (earlier + 1))


async def apply_and_deliver(
    borrower: Actor, product: dict, *, amount: Decimal, term_months: int, city: str
) -> int:
    """The demo borrower applies to `product` (a row with institution_name and
    service_phone) through the applications verbs, and the application is delivered."""
    notice = build_notice(product["institution_name"], product["service_phone"], product["name"])
    first = "110105" + "19900307" + "123"
    reference = await submit_application(
        borrower,
        ApplicationInput(
            product_id=product["id"],
            amount=amount,
            term_months=term_months,
            repayment_method=product["repayment_methods"][0],
            real_name=borrower.label,
            id_number=first + id_check_char(first),
            city=city,
            monthly_income=max(Decimal(product["min_monthly_income"]), Decimal(15000)),
            employment_type=(product["employment_types"] or ["employee"])[0],
            purpose=DEMO_PURPOSE,
            # The demo borrower's saved profile carries contact details (P5).
            address=DEMO_CONTACT["address"],
            contact_name=DEMO_CONTACT["contact_name"],
            contact_relation=DEMO_CONTACT["contact_relation"],
            contact_mobile=DEMO_CONTACT["contact_mobile"],
            consent_given=True,
            notice_digest=notice.digest,
            submission_key=secrets.token_urlsafe(24),
            # The demo borrower's history is built in one go: the repayment-burden warning
            # (§6.6) is taken as read.
            debt_warning_read=True,
        ),
        recorded_at=await _history_time(borrower),
    )
    row = await Application.select(Application.id).where(Application.reference == reference).first()
    assert row is not None
    await deliver(row["id"])
    return int(row["id"])


async def seed_decisions() -> int:
    """Once (nothing when the demo accounts are missing or it has run); returns how many
    leads were decided."""
    borrower = await _actor(mobile_login_key(_borrower_mobile()))
    rejecting, asking = await _actor(REJECTING), await _actor(ASKING)
    if borrower is None or rejecting is None or asking is None:
        return 0
    if await Application.exists().where(
        (Application.borrower == borrower.user_id)
        & Application.institution.is_in([rejecting.institution_id, asking.institution_id])
    ):
        return 0
    decided = 0
    rejected = await _apply(borrower, rejecting.institution_id)
    if rejected is not None:
        await move_lead(rejecting, rejected, "review")
        label = (await rejection_reasons())["debt"]
        note = _("征信报告显示近半年新增多笔消费贷，月还款额已超过月收入一半。")
        await reject_lead(rejecting, rejected, Rejection("debt", label, note))
        decided += 1
    waiting = await _apply(borrower, asking.institution_id)
    if waiting is not None:
        await move_lead(asking, waiting, "review")
        reason = _("请补充近六个月的银行流水和单位开具的收入证明，用于核实月收入。")
        await request_documents(
            asking, waiting, DocumentsAsked(["income_proof", "bank_statement"], reason)
        )
        decided += 1
    return decided
