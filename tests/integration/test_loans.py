"""Loans: an institution reports the disbursement of its own accepted application and the
repayments it receives; the daily run ages loans across month ends; the borrower and the
institution read them back."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest

from marketplace.applications.tables import Application
from marketplace.audit.tables import AuditEntry
from marketplace.errors import DomainError, InvalidTransition, NotFound, PermissionDenied
from marketplace.loancalc import add_months, today_shanghai
from marketplace.loans import portfolio as portfolios
from marketplace.loans import queries
from marketplace.loans.jobs import daily_overdue, run_daily_overdue
from marketplace.loans.services import report_disbursement, report_repayment
from marketplace.loans.tables import Instalment, Loan, LoanDailyRun, Repayment
from tests.factories import application_in, signed_offer, user

ACCOUNT = "6222 0210 0112 3456 789"


async def _application(world, status: str = "accepted", amount: str = "50000") -> int:
    return await application_in(world, status, amount)


async def _loan(world, disbursed_on: date, principal: str = "12000", term: int = 12) -> int:
    application_id = await application_in(world, "accepted", principal, term)
    return await report_disbursement(
        world.staff, application_id, disbursed_on, Decimal(principal), ACCOUNT
    )


async def test_disbursement_builds_the_plan_for_the_institutions_own_accepted_application(world):
    application_id = await _application(world)
    with pytest.raises(NotFound):
        await report_disbursement(
            world.other_staff, application_id, today_shanghai(), Decimal("10000"), ACCOUNT
        )
    with pytest.raises(DomainError):
        await report_disbursement(
            world.staff, application_id, today_shanghai(), Decimal("50000.01"), ACCOUNT
        )
    product_manager = await user(
        "staff", "pm@test-bank.example", "product_manager", world.bank_id, "周洁"
    )
    with pytest.raises(PermissionDenied):
        await report_disbursement(
            product_manager, application_id, today_shanghai(), Decimal("10000"), ACCOUNT
        )
    assert await Loan.count() == 0

    loan_id = await report_disbursement(
        world.staff, application_id, date(2026, 1, 31), Decimal("30000"), ACCOUNT
    )
    loan = await Loan.objects().get(Loan.id == loan_id)
    assert (loan.status, loan.principal, loan.borrower) == (
        "disbursed",
        Decimal("30000.00"),
        world.borrower.user_id,
    )
    assert loan.receiving_account_masked == "****6789"
    plan = await Instalment.select().where(Instalment.loan == loan_id).order_by(Instalment.number)
    assert len(plan) == 12
    assert sum(row["principal_due"] for row in plan) == Decimal("30000.00")
    assert [row["due_on"] for row in plan[:3]] == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert await AuditEntry.exists().where(
        (AuditEntry.action == "loan.disburse") & (AuditEntry.object_id == str(loan_id))
    )
    with pytest.raises(InvalidTransition):
        await report_disbursement(
            world.staff, application_id, today_shanghai(), Decimal("10000"), ACCOUNT
        )
    approved_only = await _application(world, status="approved", amount="40000")
    with pytest.raises(InvalidTransition):
        await report_disbursement(
            world.staff, approved_only, today_shanghai(), Decimal("10000"), ACCOUNT
        )

    (mine,) = await queries.borrower_loans(world.borrower)
    assert mine.id == loan_id and mine.status_label == "已放款"
    assert mine.principal_outstanding == Decimal("30000.00")
    assert mine.next_due is not None and mine.next_due.number == 1
    assert "6222" not in mine.receiving_account_masked


async def test_parallel_duplicate_reports_record_one_repayment(world):
    loan_id = await _loan(world, add_months(today_shanghai(), -1))
    report = report_repayment(
        world.staff, loan_id, Decimal("300"), today_shanghai(), "partial", "dup-key-0001"
    )
    ids = await asyncio.gather(
        report,
        *(
            report_repayment(
                world.staff, loan_id, Decimal("300"), today_shanghai(), "partial", "dup-key-0001"
            )
            for _ in range(5)
        ),
    )
    assert len(set(ids)) == 1
    assert await Repayment.count() == 1
    paid = await Instalment.select(Instalment.principal_paid, Instalment.interest_paid).where(
        Instalment.number == 1
    )
    assert paid[0]["principal_paid"] + paid[0]["interest_paid"] == Decimal("300.00")
    with pytest.raises(DomainError):
        await report_repayment(
            world.staff, loan_id, Decimal("301"), today_shanghai(), "partial", "dup-key-0001"
        )
    with pytest.raises(NotFound):
        await report_repayment(
            world.other_staff, loan_id, Decimal("1"), today_shanghai(), "partial", "other-key-01"
        )
    with pytest.raises(DomainError, match="超过"):
        await report_repayment(
            world.staff, loan_id, Decimal("999999"), today_shanghai(), "instalment", "big-key-0001"
        )
    assert await Repayment.count() == 1


async def test_daily_run_ages_loans_across_month_ends(world):
    loan_id = await _loan(world, date(2026, 1, 31))

    async def state() -> tuple[str, int, str]:
        loan = await Loan.objects().get(Loan.id == loan_id)
        return loan.status, loan.dpd, loan.dpd_bucket

    assert await run_daily_overdue(date(2026, 2, 28)) == 0  # paying on the due date is on time
    assert await state() == ("disbursed", 0, "current")
    assert await run_daily_overdue(date(2026, 3, 1)) == 1  # February ends on the 28th
    assert await state() == ("overdue", 1, "1-30")
    assert await run_daily_overdue(date(2026, 3, 1)) == 0  # a second run changes nothing
    await run_daily_overdue(date(2026, 3, 31))
    assert await state() == ("overdue", 31, "31-60")
    await run_daily_overdue(date(2026, 4, 29))
    assert await state() == ("overdue", 60, "31-60")
    await run_daily_overdue(date(2026, 5, 29))
    assert await state() == ("overdue", 90, "61-90")
    await run_daily_overdue(date(2026, 5, 30))
    assert await state() == ("overdue", 91, "90+")

    portfolio = await portfolios.portfolio(world.staff, date(2026, 5, 30))
    figures = {b.bucket: (b.loans, b.principal_outstanding) for b in portfolio.buckets}
    assert figures["90+"] == (1, Decimal("12000.00"))
    assert figures["current"] == (0, Decimal("0.00"))
    assert portfolio.open_loans == 1
    other = await portfolios.portfolio(world.other_staff, date(2026, 5, 30))
    assert other.open_loans == 0 and other.upcoming == ()
    assert await LoanDailyRun.count() == 6  # one row per business date
    assert await AuditEntry.count().where(AuditEntry.action == "loan.daily_overdue") == 7


async def test_overdue_loan_repaid_then_settled_early(world):
    today = today_shanghai()
    # Period 1 fell due about ten days ago; period 2 falls due in about three weeks.
    loan_id = await _loan(world, today - timedelta(days=40), principal="6000", term=6)
    await daily_overdue()
    await daily_overdue()  # the cron runs once per business date
    assert await LoanDailyRun.count() == 1
    loan = await Loan.objects().get(Loan.id == loan_id)
    assert loan.status == "overdue" and loan.dpd > 0

    plan = await Instalment.select().where(Instalment.loan == loan_id).order_by(Instalment.number)
    first_due = plan[0]["principal_due"] + plan[0]["interest_due"] + plan[0]["fee_due"]
    with pytest.raises(DomainError):
        await report_repayment(world.staff, loan_id, first_due, today, "partial", "pay-key-0001")
    await report_repayment(world.staff, loan_id, first_due, today, "instalment", "pay-key-0001")
    loan = await Loan.objects().get(Loan.id == loan_id)
    assert (loan.status, loan.dpd, loan.dpd_bucket) == ("repaying", 0, "current")

    portfolio = await portfolios.portfolio(world.staff, plan[1]["due_on"] - timedelta(days=2))
    assert [(u.loan_id, u.number) for u in portfolio.upcoming] == [(loan_id, 2)]
    assert (await portfolios.portfolio(world.staff, today)).upcoming == ()

    with pytest.raises(DomainError, match="提前结清应还"):
        await report_repayment(
            world.staff, loan_id, Decimal("1"), today, "early_settlement", "settle-key-01"
        )
    (mine,) = await queries.borrower_loans(world.borrower)
    # Period 2 is the current one: charged in full, later periods only their principal.
    owed = sum(line.amount_left for line in mine.plan[1:2]) + sum(
        line.principal_due for line in mine.plan[2:]
    )
    await report_repayment(world.staff, loan_id, owed, today, "early_settlement", "settle-key-01")
    loan = await Loan.objects().get(Loan.id == loan_id)
    assert (loan.status, loan.settled_on) == ("settled", today)
    (mine,) = await queries.borrower_loans(world.borrower)
    assert mine.principal_outstanding == Decimal("0.00")
    assert [r.kind for r in mine.records] == ["instalment", "early_settlement"]
    assert sum(r.principal_part for r in mine.records) == Decimal("6000.00")
    with pytest.raises(InvalidTransition):
        await report_repayment(world.staff, loan_id, Decimal("1"), today, "partial", "late-key-001")
    await run_daily_overdue(today + timedelta(days=400))
    assert (await Loan.objects().get(Loan.id == loan_id)).status == "settled"


async def test_the_loan_follows_the_signed_offer_not_what_was_asked(world):
    # Asked 50,000 over 12 months; the institution offered 20,000 over 6 at 10 %; signed.
    application_id = await application_in(world, "approved", "50000", 12)
    await Application.update({Application.status: "accepted"}).where(
        Application.id == application_id
    )
    with pytest.raises(InvalidTransition):  # accepted but nothing signed: no loan
        await report_disbursement(
            world.staff, application_id, today_shanghai(), Decimal("10000"), ACCOUNT
        )
    await signed_offer(world, application_id, "20000", 6, rate="0.10")
    with pytest.raises(DomainError):
        await report_disbursement(
            world.staff, application_id, today_shanghai(), Decimal("20000.01"), ACCOUNT
        )
    loan_id = await report_disbursement(
        world.staff, application_id, today_shanghai(), Decimal("20000"), ACCOUNT
    )
    loan = await Loan.select().where(Loan.id == loan_id).first()
    assert (loan["principal"], loan["term_months"], loan["rate"]) == (
        Decimal("20000.00"),
        6,
        Decimal("0.10000000"),
    )
    assert await Instalment.count().where(Instalment.loan == loan_id) == 6
