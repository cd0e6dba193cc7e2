"""Billing events (PRODUCT.md A11): written by outbox jobs recorded with the business step,
priced by the agreement in force at the business moment, exactly once per lead and kind;
and the automatic credits of §6.4 (duplicate, early withdrawal, fraud)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from marketplace import jobs
from marketplace.applications.acceptance import (
    approve_with_offer,
    end_by_borrower,
    lock_lead,
    lock_own_application,
)
from marketplace.applications.services import deliver
from marketplace.db import transaction
from marketplace.errors import NotFound, PermissionDenied, ValidationFailed
from marketplace.loans.services import report_disbursement
from marketplace.outbox.tables import OutboxMessage
from marketplace.settlement import billing
from marketplace.settlement import jobs as settlement_jobs
from marketplace.settlement.services import flag_fraudulent_lead
from marketplace.settlement.tables import BillingCredit, BillingEvent
from tests import factories
from tests.settlement_factories import (
    billed_lead,
    borrower,
    lead,
    status_event,
    terms,
    with_profile,
)


async def _events(application_id: int) -> list[dict]:
    return await BillingEvent.select().where(BillingEvent.application == application_id)


async def _credit(event_id: int) -> dict | None:
    return await BillingCredit.select().where(BillingCredit.event == event_id).first()


async def test_a_delivery_bills_one_cpl_event_whatever_the_retries(world):
    await terms(world.bank_id, "cpl", "30")
    application_id = await factories.application_in(world, "submitted")
    assert await deliver(application_id)
    assert await OutboxMessage.count().where(OutboxMessage.job == "settlement.bill") == 1
    await jobs.run_until_idle()
    # The same job run again, twice at once, and the verb called directly: still one event.
    for _ in range(2):
        await settlement_jobs.bill({}, kind="cpl", application_id=application_id)
    assert await billing.bill("cpl", application_id) is None
    events = await _events(application_id)
    assert len(events) == 1
    event = events[0]
    assert (event["kind"], event["amount"]) == ("cpl", Decimal("30.00"))
    assert event["agreement_version"] == 1
    assert event["period"] == datetime.now(UTC).astimezone(billing_tz()).date().replace(day=1)


def billing_tz():
    from marketplace.loancalc import SHANGHAI

    return SHANGHAI


async def test_a_cpa_institution_is_billed_for_the_approval_not_the_delivery(world):
    await terms(world.bank_id, "cpa", "88.8")
    application_id = await factories.application_in(world, "submitted")
    assert await deliver(application_id)
    await jobs.run_until_idle()
    assert await _events(application_id) == [], "a delivered lead is not a CPA charge"
    await status_event(application_id, "reviewing", datetime.now(UTC))
    async with transaction():
        row = await lock_lead(world.staff, application_id)
        await approve_with_offer(world.staff, row, 0, "批复 5 万元 12 期")
    await jobs.run_until_idle()
    events = await _events(application_id)
    assert [(e["kind"], e["amount"]) for e in events] == [("cpa", Decimal("88.80"))]


async def test_cps_is_the_disbursed_amount_times_the_rate_to_the_fen(world):
    await terms(world.bank_id, "cps", "0.0123")
    application_id = await factories.application_in(world, "accepted", "12345.67")
    loan_id = await report_disbursement(
        world.staff, application_id, date.today(), Decimal("12345.67"), "6222021001123456789"
    )
    await jobs.run_until_idle()
    events = await _events(application_id)
    assert len(events) == 1
    # 12345.67 × 0.0123 = 151.851741 → 151.85
    assert events[0]["amount"] == Decimal("151.85")
    assert events[0]["base_amount"] == Decimal("12345.67")
    assert events[0]["loan"] == loan_id


async def test_an_agreement_superseded_later_still_prices_its_own_events(world):
    now = datetime.now(UTC)
    await terms(world.bank_id, "cpl", "30", signed_at=now - timedelta(days=90))
    early = await lead(world, now - timedelta(days=20))
    await terms(world.bank_id, "cpl", "45", signed_at=now - timedelta(days=10), replace=False)
    late = await lead(world, now - timedelta(days=5))
    # The early lead's job runs only now, after version 2 was signed.
    await billing.bill("cpl", late)
    await billing.bill("cpl", early)
    [early_event] = await _events(early)
    [late_event] = await _events(late)
    assert (early_event["amount"], early_event["agreement_version"]) == (Decimal("30.00"), 1)
    assert (late_event["amount"], late_event["agreement_version"]) == (Decimal("45.00"), 2)


async def test_no_agreement_in_force_at_the_moment_bills_nothing(world):
    now = datetime.now(UTC)
    await terms(world.bank_id, "cpl", "30", signed_at=now - timedelta(days=3))
    application_id = await lead(world, now - timedelta(days=10))
    assert await billing.bill("cpl", application_id) is None
    assert await _events(application_id) == []


async def test_a_second_lead_of_the_same_borrower_within_the_window_is_credited(world):
    now = datetime.now(UTC)
    await terms(world.bank_id, "cpl", "30")
    same = await borrower(1)
    other = await borrower(2)
    first = await billed_lead(world, now - timedelta(days=10), borrower_actor=same)
    second = await billed_lead(world, now - timedelta(days=2), borrower_actor=same)
    unrelated = await billed_lead(world, now - timedelta(days=1), borrower_actor=other)
    assert await _credit(first) is None
    credit = await _credit(second)
    assert credit is not None
    assert (credit["reason"], credit["amount"]) == ("duplicate", Decimal("30.00"))
    assert await _credit(unrelated) is None


async def test_duplicates_are_found_whatever_order_the_jobs_run_in(world):
    now = datetime.now(UTC)
    await terms(world.bank_id, "cpl", "30")
    same = await borrower(3)
    earlier = await lead(world, now - timedelta(days=6), borrower_actor=same)
    later = await lead(world, now - timedelta(days=1), borrower_actor=same)
    later_event = await billing.bill("cpl", later)
    earlier_event = await billing.bill("cpl", earlier)
    assert await _credit(earlier_event) is None
    assert (await _credit(later_event))["reason"] == "duplicate"


async def test_a_lead_outside_the_duplicate_window_is_not_credited(world):
    now = datetime.now(UTC)
    await terms(world.bank_id, "cpl", "30")
    same = await borrower(4)
    await billed_lead(world, now - timedelta(days=45), borrower_actor=same)
    again = await billed_lead(world, now - timedelta(days=1), borrower_actor=same)
    assert await _credit(again) is None


async def test_a_lead_withdrawn_soon_after_delivery_is_credited(world):
    await terms(world.bank_id, "cpl", "30")
    await with_profile(world.borrower, 5)
    application_id = await factories.application_in(world, "submitted")
    assert await deliver(application_id)
    await jobs.run_until_idle()
    async with transaction():
        row = await lock_own_application(world.borrower, application_id)
        await end_by_borrower(world.borrower, row, "不需要了")
    await jobs.run_until_idle()
    [event] = await _events(application_id)
    credit = await _credit(event["id"])
    assert credit is not None and credit["reason"] == "withdrawn"
    assert credit["amount"] == Decimal("30.00")


async def test_a_lead_withdrawn_after_the_credit_window_is_charged(world):
    now = datetime.now(UTC)
    await terms(world.bank_id, "cpl", "30")
    application_id = await lead(world, now - timedelta(hours=30))
    event_id = await billing.bill("cpl", application_id)
    await status_event(application_id, "withdrawn", now)
    await billing.screen_withdrawal(application_id)
    assert await _credit(event_id) is None


async def test_a_withdrawal_screened_before_the_bill_job_still_credits(world):
    now = datetime.now(UTC)
    await terms(world.bank_id, "cpl", "30")
    application_id = await lead(world, now - timedelta(hours=3))
    await status_event(application_id, "withdrawn", now - timedelta(hours=1))
    assert await billing.screen_withdrawal(application_id) is None  # no event yet
    event_id = await billing.bill("cpl", application_id)
    assert (await _credit(event_id))["reason"] == "withdrawn"


async def test_flagging_a_lead_fraudulent_credits_its_events_now_and_later(world):
    operator = await factories.user("operator", "fin@loanmart.example", "finance", None, "财务")
    now = datetime.now(UTC)
    await terms(world.bank_id, "cpl", "30")
    application_id = await lead(world, now - timedelta(days=1))
    event_id = await billing.bill("cpl", application_id)
    assert await flag_fraudulent_lead(operator, application_id, "同一设备批量申请") == 1
    credit = await _credit(event_id)
    assert (credit["reason"], credit["amount"], credit["created_by"]) == (
        "fraud",
        Decimal("30.00"),
        operator.user_id,
    )
    with pytest.raises(ValidationFailed):
        await flag_fraudulent_lead(operator, application_id, "x" * 501)
    with pytest.raises(PermissionDenied):
        await flag_fraudulent_lead(world.staff, application_id, "机构自己标记")
    with pytest.raises(NotFound):
        await flag_fraudulent_lead(operator, 999_999, "不存在")


async def test_a_credit_never_exceeds_what_the_event_still_charges(world):
    now = datetime.now(UTC)
    await terms(world.bank_id, "cpl", "30")
    event_id = await billed_lead(world, now - timedelta(days=1))
    first = await billing.credit_event(event_id, billing.CreditReason.FRAUD)
    second = await billing.credit_event(event_id, billing.CreditReason.DUPLICATE)
    assert first is not None and second is None
    assert await BillingCredit.count() == 1
