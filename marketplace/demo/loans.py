"""Demo loans: the demo borrower's signed applications at 华信银行, disbursed and repaid
through the loans verbs, so every loan page has something to show — a fresh loan, loans
repaying on time, overdue in each DPD bucket, settled and settled early — and the daily run
has closed the last months (roll rates, alerts)."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from marketplace.accounts.roles import permissions_of
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.applications.reporting import Channel, income_band
from marketplace.applications.services import SHARED_DATA_CONTEXT
from marketplace.applications.statuses import ApplicationStatus
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.consents.notices import NOTICE_VERSION, SHARED_ITEMS, build_notice
from marketplace.consents.tables import Consent
from marketplace.db import transaction
from marketplace.demo.catalogue import DEMO_ACCOUNTS
from marketplace.i18n import _
from marketplace.institutions.tables import Institution
from marketplace.loancalc import SHANGHAI, Fee, add_months, quote, today_shanghai
from marketplace.loans.jobs import run_daily_overdue
from marketplace.loans.queries import institution_loan
from marketplace.loans.services import report_disbursement, report_repayment
from marketplace.loans.tables import Instalment, Loan
from marketplace.offers.statuses import OfferStatus
from marketplace.offers.tables import Offer, OfferSignature
from marketplace.products.tables import Product
from marketplace.security import encrypt_field, id_check_char

INSTITUTION = "huaxin-bank"
STAFF_LOGIN = "admin@huaxin-bank.example"
DEMO_ACCOUNT = "6222 0210 0112 3456 789"
# Past month ends the daily run closes, so roll rates have history.
CLOSED_MONTHS = 4


@dataclass(frozen=True)
class DemoLoan:
    principal: str
    term_months: int
    disbursed_days_ago: int
    paid_instalments: int  # paid on their due dates
    settle_early: bool = False


# Monthly dues fall about 30, 60, 90… days after disbursement; the comments say where each
# loan stands today.
LOANS = (
    DemoLoan("20000", 12, 6, 0),  # disbursed, nothing due yet
    DemoLoan("30000", 12, 100, 3),  # repaying on time
    DemoLoan("50000", 24, 200, 6),  # repaying on time
    DemoLoan("15000", 6, 75, 1),  # second instalment ~15 days overdue (1–30)
    DemoLoan("10000", 6, 105, 1),  # ~45 days overdue (31–60)
    DemoLoan("8000", 12, 105, 0),  # ~75 days overdue (61–90)
    DemoLoan("5000", 6, 160, 0),  # ~130 days overdue (90+)
    DemoLoan("6000", 3, 130, 3),  # settled
    DemoLoan("12000", 12, 70, 2, settle_early=True),  # settled early
)


def _id_number() -> str:
    first = "110105" + "19900307" + "123"
    return first + id_check_char(first)


async def _actors() -> tuple[Actor, Actor] | None:
    borrower_mobile = next(a["mobile"] for a in DEMO_ACCOUNTS if a["kind"] == "borrower")
    staff = await User.select().where(User.login_key == STAFF_LOGIN).first()
    borrower = (
        await User.select().where(User.login_key == mobile_login_key(borrower_mobile)).first()
    )
    if staff is None or borrower is None:
        return None
    institution = await Institution.select().where(Institution.id == staff["institution"]).first()
    assert institution is not None
    return (
        Actor(
            user_id=staff["id"],
            kind="staff",
            label=staff["display_name"],
            role=staff["role"],
            institution_id=staff["institution"],
            institution_name=institution["short_name"],
            permissions=permissions_of("staff", staff["role"]),
        ),
        Actor(
            user_id=borrower["id"],
            kind="borrower",
            label=borrower["display_name"],
            role="borrower",
            permissions=permissions_of("borrower", "borrower"),
        ),
    )


async def _signed_application(
    staff: Actor, borrower: Actor, product: dict, loan: DemoLoan, disbursed_on: date
) -> int:
    """An application accepted on a signed offer of the product's own terms, with its
    timeline, as if the borrower had applied a few days before the disbursement."""
    institution = await Institution.select().where(Institution.id == staff.institution_id).first()
    assert institution is not None
    notice = build_notice(institution["short_name"], institution["service_phone"], product["name"])
    consent = await Consent.insert(
        Consent(
            borrower=borrower.user_id,
            institution=staff.institution_id,
            notice_version=NOTICE_VERSION,
            notice_hash=notice.digest,
            purpose=notice.purpose,
            data_items=list(SHARED_ITEMS),
            retention=notice.retention,
        )
    ).returning(Consent.id)
    shared = {
        "real_name": borrower.label,
        "id_number": _id_number(),
        "mobile": next(a["mobile"] for a in DEMO_ACCOUNTS if a["kind"] == "borrower"),
        "city": institution["city"],
        "employment_type": "employee",
        "monthly_income": "15000",
    }
    submitted = datetime.combine(disbursed_on - timedelta(days=4), time(10), SHANGHAI)
    rows = await Application.insert(
        Application(
            reference=f"LMT{secrets.token_hex(6).upper()}",
            borrower=borrower.user_id,
            product=product["id"],
            product_version=product["version"],
            institution=staff.institution_id,
            consent=consent[0]["id"],
            amount=Decimal(loan.principal),
            term_months=loan.term_months,
            repayment_method=product["repayment_methods"][0],
            status=ApplicationStatus.ACCEPTED,
            shared_data_encrypted=encrypt_field(
                json.dumps(shared, ensure_ascii=False), context=SHARED_DATA_CONTEXT
            ),
            submission_key=secrets.token_hex(16),
            submitted_at=submitted,
            delivered_at=submitted + timedelta(minutes=1),
            city=institution["city"],
            # The demo borrower applies from the phone on most days, from a computer on some.
            channel=Channel.WEB if disbursed_on.toordinal() % 3 == 0 else Channel.H5,
            income_band=income_band(Decimal(shared["monthly_income"])),
        )
    ).returning(Application.id)
    application_id: int = rows[0]["id"]
    steps = (
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.DELIVERED,
        ApplicationStatus.REVIEWING,
        ApplicationStatus.APPROVED,
        ApplicationStatus.ACCEPTED,
    )
    await ApplicationEvent.insert(
        *(
            ApplicationEvent(
                application=application_id,
                status=status,
                actor_kind="system",
                at=submitted + timedelta(hours=12 * i),
            )
            for i, status in enumerate(steps)
        )
    )
    fees = [Fee.from_dict(fee) for fee in product["fees"]]
    plan = quote(
        Decimal(loan.principal),
        loan.term_months,
        product["repayment_methods"][0],
        product["rate"],
        product["rate_period"],
        fees,
        disbursed_on,
    )
    offer = await Offer.insert(
        Offer(
            application=application_id,
            institution=staff.institution_id,
            borrower=borrower.user_id,
            amount=plan.principal,
            term_months=loan.term_months,
            repayment_method=product["repayment_methods"][0],
            rate=product["rate"],
            rate_period=product["rate_period"],
            fees=[fee.to_dict() for fee in fees],
            apr=plan.apr,
            first_payment=plan.first_payment,
            largest_payment=plan.max_payment,
            total_cost=plan.total_interest + plan.total_fees,
            expires_at=submitted + timedelta(days=7),
            status=OfferStatus.SIGNED,
            made_by=staff.user_id,
        )
    ).returning(Offer.id)
    contract = _("借款合同（演示）第{n}号", n=offer[0]["id"])
    await OfferSignature.insert(
        OfferSignature(
            offer=offer[0]["id"],
            contract_encrypted=encrypt_field(contract, context="offer.contract"),
            contract_sha256=hashlib.sha256(contract.encode()).hexdigest(),
            client_address="127.0.0.1",
            user_agent="demo",
        )
    )
    return application_id


async def _repay(staff: Actor, loan_id: int, loan: DemoLoan, today: date) -> None:
    plan = await Instalment.select().where(Instalment.loan == loan_id).order_by(Instalment.number)
    for row in plan[: loan.paid_instalments]:
        if row["due_on"] > today:
            break
        due = row["principal_due"] + row["interest_due"] + row["fee_due"]
        await report_repayment(
            staff,
            loan_id,
            due,
            row["due_on"],
            "instalment",
            f"DEMO{loan_id:05d}P{row['number']:02d}",
        )
    if loan.settle_early:
        detail = await institution_loan(staff, loan_id)
        current = next(line for line in detail.plan if line.due_on > today)
        later = [line for line in detail.plan if line.number > current.number]
        owed = current.amount_left + sum((line.principal_due for line in later), Decimal(0))
        await report_repayment(
            staff, loan_id, owed, today, "early_settlement", f"DEMO{loan_id:05d}SETTLE"
        )


async def seed_loans() -> int:
    """Seed the demo loans once (none when the demo accounts are missing); returns how many
    were created."""
    actors = await _actors()
    if actors is None:
        return 0
    staff, borrower = actors
    if await Loan.exists().where(Loan.institution == staff.institution_id):
        return 0
    products = (
        await Product.select()
        .where(Product.institution == staff.institution_id)
        .order_by(Product.id)
        .output(load_json=True)
    )
    if not products:
        return 0
    today = today_shanghai()
    created = 0
    for i, loan in enumerate(LOANS):
        product = products[i % len(products)]
        disbursed_on = today - timedelta(days=loan.disbursed_days_ago)
        async with transaction():
            application_id = await _signed_application(staff, borrower, product, loan, disbursed_on)
        loan_id = await report_disbursement(
            staff, application_id, disbursed_on, Decimal(loan.principal), DEMO_ACCOUNT
        )
        await _repay(staff, loan_id, loan, today)
        created += 1
    # Month ends first (each first-of-month run closes the month before), then today.
    for k in range(CLOSED_MONTHS, 0, -1):
        month_start = add_months(today.replace(day=1), -k + 1)
        await run_daily_overdue(month_start - timedelta(days=1))
        await run_daily_overdue(month_start)
    await run_daily_overdue(today)
    return created
