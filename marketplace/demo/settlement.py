"""Demo settlement: two ended months of billing events for four institutions, with
automatic credits, built into statements and walked through the verbs so every state shows
somewhere (last month / the month before):

    瀚海 (CPS, admin@hanhai-bank.example)   issued (to confirm or dispute) / settled
    沧澜 (CPL)                               disputed (open, in the queue) / confirmed
    清河 (CPL)                               adjusted (a dispute half accepted) / issued
    东岳 (CPL)                               draft (to issue in the admin) / settled

The leads are a demo borrower's applications written as rows (like the other institutions'
agreements), each already past the step it is billed for; events reference the agreement in
force. Institutions without demo accounts confirm and dispute through a named stand-in."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from marketplace.accounts.roles import permissions_of
from marketplace.accounts.services import mobile_login_key
from marketplace.accounts.tables import User
from marketplace.actors import Actor
from marketplace.agreements.tables import Agreement
from marketplace.applications.services import SHARED_DATA_CONTEXT
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.consents.tables import Consent
from marketplace.demo.decisions import _actor
from marketplace.institutions.tables import Institution
from marketplace.loancalc import SHANGHAI, today_shanghai
from marketplace.money import to_fen
from marketplace.products.tables import Product
from marketplace.security import blind_index, encrypt_field, hash_password, mask_mobile
from marketplace.settlement import billing, building, queries, services
from marketplace.settlement.periods import current_month, previous_month
from marketplace.settlement.queries import LineFilters
from marketplace.settlement.statuses import CreditReason
from marketplace.settlement.tables import BillingEvent, Statement

OPERATOR = "super@loanmart.example"
BORROWER_MOBILE = "13700000009"
# institution code → (admin login or "", leads a month)
# The lead desks of 华信 and 云帆 are left alone: the browser tests look for new leads on
# their first page, where months-old demo leads would come first (oldest first).
INSTITUTIONS = (
    ("hanhai-bank", "admin@hanhai-bank.example", 6),
    ("canglan-bank", "", 6),
    ("qinghe-rcb", "", 5),
    ("dongyue-bank", "", 4),
)
_STATUS_BILLED = {"cpl": "delivered", "cpa": "approved", "cps": "accepted"}


def _moment(month: date, lead: int) -> datetime:
    day = 2 + (lead * 3) % 26
    local = datetime.combine(month.replace(day=day), time(9 + lead % 9, 15), tzinfo=SHANGHAI)
    return local.astimezone(UTC)


async def _borrower() -> int:
    rows = await User.insert(
        User(
            kind="borrower",
            login_key=mobile_login_key(BORROWER_MOBILE),
            display_name="刘洋",
            mobile_encrypted=encrypt_field(BORROWER_MOBILE, context="user.mobile"),
            mobile_masked=mask_mobile(BORROWER_MOBILE),
            password_hash=hash_password(secrets.token_urlsafe(16)),
            role="borrower",
        )
    ).returning(User.id)
    return rows[0]["id"]


def _shared_data() -> str:
    shared = {
        "real_name": "刘洋",
        "id_number": "11010519880512003X",
        "mobile": BORROWER_MOBILE,
        "city": "北京",
        "employment_type": "employee",
        "monthly_income": "15000",
    }
    return encrypt_field(json.dumps(shared, ensure_ascii=False), context=SHARED_DATA_CONTEXT)


async def _lead(borrower_id: int, institution_id: int, product_id: int, status: str) -> int:
    consent = await Consent.insert(
        Consent(
            borrower=borrower_id,
            institution=institution_id,
            notice_version="1",
            notice_hash="0" * 64,
            purpose="loan",
            data_items=["name", "id_number", "mobile", "city", "income"],
            retention="1y",
        )
    ).returning(Consent.id)
    rows = await Application.insert(
        Application(
            reference=f"LMT{secrets.token_hex(6).upper()}",
            borrower=borrower_id,
            product=product_id,
            product_version=1,
            institution=institution_id,
            consent=consent[0]["id"],
            amount=Decimal("30000"),
            term_months=12,
            repayment_method="equal_installment",
            status=status,
            shared_data_encrypted=_shared_data(),
            submission_key=secrets.token_hex(16),
            city="北京",
        )
    ).returning(Application.id)
    return rows[0]["id"]


async def _month_of_events(
    borrower_id: int, institution_id: int, agreement: dict, month: date, leads: int
) -> list[int]:
    product = (
        await Product.select(Product.id)
        .where(Product.institution == institution_id)
        .order_by(Product.id)
        .first()
    )
    if product is None:
        return []
    model = agreement["pricing_model"]
    events = []
    for lead in range(leads):
        at = _moment(month, lead)
        application_id = await _lead(
            borrower_id, institution_id, product["id"], _STATUS_BILLED[model]
        )
        await Application.update(
            {Application.delivered_at: at, Application.submitted_at: at - timedelta(hours=1)}
        ).where(Application.id == application_id)
        await ApplicationEvent.insert(
            ApplicationEvent(
                application=application_id,
                status=_STATUS_BILLED[model],
                actor_kind="system",
                at=at,
            )
        )
        principal = Decimal(20000 + 5000 * lead)
        amount = (
            to_fen(principal * agreement["rate"]) if model == "cps" else to_fen(agreement["rate"])
        )
        # Leads 0 and 1 share a borrower key: the second is a duplicate, credited.
        key = blind_index(f"demo-settlement-{institution_id}-{max(lead, 1)}", purpose="id_number")
        rows = await BillingEvent.insert(
            BillingEvent(
                institution=institution_id,
                application=application_id,
                kind=model,
                agreement=agreement["id"],
                agreement_version=agreement["version"],
                amount=amount,
                base_amount=principal if model == "cps" else None,
                occurred_at=at,
                period=month,
                borrower_key=key if model == "cpl" else "",
            )
        ).returning(BillingEvent.id)
        events.append(rows[0]["id"])
    return events


async def _credits(events: list[int], month: date, model: str) -> None:
    if model == "cpl" and len(events) > 2:
        await billing.credit_event(events[1], CreditReason.DUPLICATE, at=_moment(month, 1))
    if len(events) > 4:
        # Withdrawn by the borrower two hours after delivery.
        withdrawn_at = _moment(month, 4) + timedelta(hours=2)
        row = (
            await BillingEvent.select(BillingEvent.application)
            .where(BillingEvent.id == events[4])
            .first()
        )
        assert row is not None
        await Application.update({Application.status: "withdrawn"}).where(
            Application.id == row["application"]
        )
        await ApplicationEvent.insert(
            ApplicationEvent(
                application=row["application"],
                status="withdrawn",
                actor_kind="borrower",
                at=withdrawn_at,
            )
        )
        await billing.credit_event(events[4], CreditReason.WITHDRAWN, at=withdrawn_at)


async def _walk(operator: Actor, admin: Actor, statement_id: int, target: str) -> None:
    """Take a draft statement to `target` through the verbs."""
    if target == "draft":
        return
    await services.issue_statement(operator, statement_id)
    if target == "issued":
        return
    if target in ("disputed", "adjusted"):
        charges = await queries.lines_for_export(admin, statement_id, LineFilters(kind="charge"))
        disputed = next(line for line in reversed(charges) if line.disputable)
        dispute_id = await services.dispute_line(
            admin,
            statement_id,
            disputed.line_ref,
            "该借款人当天已在我行其他渠道申请，属重复线索，请核减",
        )
        if target == "adjusted":
            await services.adjudicate_dispute(
                operator,
                dispute_id,
                True,
                "核实为同日重复申请，按半额核减",
                to_fen(disputed.amount / 2),
            )
        return
    await services.confirm_statement(admin, statement_id)
    if target == "settled":
        row = (
            await Statement.select(Statement.total_due).where(Statement.id == statement_id).first()
        )
        assert row is not None
        await services.record_payment(
            operator,
            statement_id,
            max(row["total_due"], Decimal("0.00")),
            today_shanghai(),
            f"DEMO-{statement_id:06d}",
        )


# (code) → (state of the month before last, state of last month)
STATES = {
    "hanhai-bank": ("settled", "issued"),
    "canglan-bank": ("confirmed", "disputed"),
    "qinghe-rcb": ("issued", "adjusted"),
    "dongyue-bank": ("settled", "draft"),
}


def _stand_in(institution_id: int, code: str) -> Actor:
    """The institution's side for one without demo accounts (like their agreements, written
    for them): its finance desk confirming or disputing, audited as a named demo actor."""
    return Actor(
        user_id=None,
        kind="staff",
        label=f"{code} 财务（演示）",
        role="finance",
        institution_id=institution_id,
        permissions=permissions_of("staff", "finance"),
    )


async def seed_settlement() -> int:
    """Once (nothing when the demo accounts are missing or billing events exist); returns
    how many statements were built."""
    operator = await _actor(OPERATOR)
    if operator is None or await BillingEvent.exists():
        return 0
    borrower_id = await _borrower()
    last = previous_month(current_month())
    months = (previous_month(last), last)
    by_code: dict[str, tuple[int, Actor]] = {}
    for code, admin_login, leads in INSTITUTIONS:
        institution = (
            await Institution.select(Institution.id).where(Institution.code == code).first()
        )
        if institution is None:
            continue
        agreement = (
            await Agreement.select(
                Agreement.id, Agreement.version, Agreement.pricing_model, Agreement.rate
            )
            .where((Agreement.institution == institution["id"]) & (Agreement.status == "signed"))
            .first()
        )
        if agreement is None:
            continue
        for offset, month in enumerate(months):
            events = await _month_of_events(
                borrower_id, institution["id"], agreement, month, leads - offset
            )
            await _credits(events, month, agreement["pricing_model"])
        admin = await _actor(admin_login) if admin_login else None
        by_code[code] = (institution["id"], admin or _stand_in(institution["id"], code))
    built = 0
    for month in months:
        built += await building.build(month)
    for code, (institution_id, admin) in by_code.items():
        for month, target in zip(months, STATES[code], strict=True):
            statement = (
                await Statement.select(Statement.id)
                .where((Statement.institution == institution_id) & (Statement.period == month))
                .first()
            )
            if statement is not None:
                await _walk(operator, admin, statement["id"], target)
    return built
