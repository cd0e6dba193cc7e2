"""The facts the score is computed from, read from the borrower's applications, profile
and the loans institutions report here."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from marketplace.accounts.tables import BorrowerProfile
from marketplace.applications.tables import Application
from marketplace.credit.score import VELOCITY_DAYS, CreditFacts
from marketplace.loancalc import SHANGHAI
from marketplace.loans.statuses import InstalmentStatus, LoanStatus
from marketplace.loans.tables import Instalment, Loan
from marketplace.security import decrypt_field

_UNPAID = (InstalmentStatus.PENDING.value, InstalmentStatus.PARTIAL.value)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


async def _stated_income(borrower_id: int) -> Decimal | None:
    row = (
        await BorrowerProfile.select(BorrowerProfile.monthly_income_encrypted)
        .where(BorrowerProfile.user == borrower_id)
        .first()
    )
    if not row or not row["monthly_income_encrypted"]:
        return None
    try:
        return Decimal(
            decrypt_field(
                row["monthly_income_encrypted"], context="borrower_profile.monthly_income"
            )
        )
    except InvalidOperation:
        return None


async def credit_facts(borrower_id: int, today: date) -> CreditFacts:
    since = today - timedelta(days=VELOCITY_DAYS)
    recent = await Application.count().where(
        (Application.borrower == borrower_id) & (Application.submitted_at >= _start_of(since))
    )
    loans = await Loan.select(Loan.id, Loan.status, Loan.dpd).where(Loan.borrower == borrower_id)
    open_ids = [r["id"] for r in loans if r["status"] != LoanStatus.SETTLED.value]
    due = (
        await Instalment.select(
            Instalment.loan, Instalment.due_on, Instalment.paid_on, Instalment.status
        ).where(Instalment.loan.is_in([r["id"] for r in loans]) & (Instalment.due_on <= today))
        if loans
        else []
    )
    charged = [r for r in due if r["status"] != InstalmentStatus.SETTLED_EARLY.value]
    on_time = sum(
        1
        for r in charged
        if r["status"] == InstalmentStatus.PAID.value
        and r["paid_on"]
        and r["paid_on"] <= r["due_on"]
    )
    late = sum(
        1
        for r in charged
        if (r["status"] in _UNPAID and r["due_on"] < today)
        or (r["paid_on"] is not None and r["paid_on"] > r["due_on"])
    )
    return CreditFacts(
        applications_recent=recent,
        instalments_due=len(charged),
        instalments_on_time=on_time,
        monthly_income=await _stated_income(borrower_id),
        monthly_payments=await _next_payments(open_ids),
        current_dpd=max((r["dpd"] for r in loans if r["id"] in open_ids), default=0),
        late_instalments=late,
    )


async def _next_payments(open_loan_ids: list[int]) -> Decimal:
    """The next unpaid instalment of each open loan: what the borrower pays in a month."""
    if not open_loan_ids:
        return Decimal("0.00")
    rows = (
        await Instalment.select(
            Instalment.loan,
            Instalment.number,
            Instalment.principal_due,
            Instalment.interest_due,
            Instalment.fee_due,
        )
        .where(Instalment.loan.is_in(open_loan_ids) & Instalment.status.is_in(list(_UNPAID)))
        .order_by(Instalment.loan)
        .order_by(Instalment.number)
    )
    next_of: dict[int, Decimal] = {}
    for r in rows:
        next_of.setdefault(r["loan"], r["principal_due"] + r["interest_due"] + r["fee_due"])
    return sum(next_of.values(), Decimal("0.00"))
