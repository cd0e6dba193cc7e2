"""Billing events and automatic credits (PRODUCT.md §6.4), written by jobs that the
applications and loans contexts record by name in the business transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from marketplace import outbox
from marketplace.agreements.queries import agreement_in_force
from marketplace.agreements.terms import PricingModel
from marketplace.applications.statuses import ApplicationStatus
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.db import transaction
from marketplace.loans.tables import Loan
from marketplace.money import to_fen
from marketplace.parameters.services import get_parameters
from marketplace.settlement.periods import current_month, lock_institution, period_for
from marketplace.settlement.statuses import CreditReason, LineKind
from marketplace.settlement.tables import BillingCredit, BillingEvent, FlaggedLead

# Serialises the duplicate screen of one borrower's leads at one institution.
_DUPLICATE_LOCK = "SELECT pg_advisory_xact_lock(hashtext('settlement.duplicate'), hashtext({}))"


async def _status_moment(application_id: int, status: str) -> datetime | None:
    rows = await ApplicationEvent.raw(
        "SELECT max(at) AS at FROM application_event WHERE application = {} AND status = {}",
        application_id,
        status,
    )
    return rows[0]["at"] if rows else None


async def refresh_if_past(institution_id: int, period: date) -> None:
    """A charge or credit landing in an ended month: rebuild that month's draft."""
    if period < current_month():
        await outbox.record(
            "settlement.build_statements", period=period.isoformat(), institution_id=institution_id
        )


async def bill(kind: str, application_id: int) -> int | None:
    """The billing event of one lead for one pricing model, if the agreement in force at
    the business moment bills that model. Idempotent: one event per (lead, kind)."""
    model = PricingModel(kind)
    async with transaction():
        # The lead with its borrower's key (the duplicate screen's), in one round trip.
        apps = await Application.raw(
            "SELECT a.institution, a.delivered_at, coalesce(p.id_number_index, '') AS borrower_key"
            ' FROM application a LEFT JOIN borrower_profile p ON p."user" = a.borrower'
            " WHERE a.id = {}",
            application_id,
        )
        if not apps:
            return None
        app = apps[0]
        loan_id: int | None = None
        base: Decimal | None = None
        if model is PricingModel.CPL:
            moment = app["delivered_at"]
        elif model is PricingModel.CPA:
            moment = await _status_moment(application_id, ApplicationStatus.APPROVED)
        else:
            loan = (
                await Loan.select(Loan.id, Loan.principal, Loan.created_at)
                .where(Loan.application == application_id)
                .first()
            )
            moment = loan["created_at"] if loan else None
            if loan:
                loan_id, base = loan["id"], loan["principal"]
        if moment is None:
            return None
        institution_id: int = app["institution"]
        terms = await agreement_in_force(institution_id, moment)
        if terms is None or terms.pricing_model is not model:
            return None
        amount = to_fen(base * terms.rate) if base is not None else to_fen(terms.rate)
        borrower_key: str = app["borrower_key"]
        await lock_institution(institution_id, exclusive=False)
        if model is PricingModel.CPL and borrower_key:
            await BillingEvent.raw(_DUPLICATE_LOCK, f"{institution_id}:{borrower_key}")
        period = await period_for(institution_id, moment)
        rows = await BillingEvent.raw(
            "INSERT INTO billing_event (institution, application, loan, kind, agreement, "
            "agreement_version, amount, base_amount, occurred_at, period, borrower_key, "
            "created_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, now()) "
            "ON CONFLICT (application, kind) DO NOTHING RETURNING id",
            institution_id,
            application_id,
            loan_id,
            str(model),
            terms.id,
            terms.version,
            amount,
            base,
            moment,
            period,
            borrower_key,
        )
        if not rows:
            return None
        event_id: int = rows[0]["id"]
        await refresh_if_past(institution_id, period)
        if model is PricingModel.CPL:
            await _screen_duplicates(event_id)
            await _credit_if_withdrawn_soon(event_id, application_id, moment)
        flag = (
            await FlaggedLead.select(FlaggedLead.reason, FlaggedLead.flagged_by)
            .where(FlaggedLead.application == application_id)
            .first()
        )
        if flag:
            await credit_event(event_id, CreditReason.FRAUD, flag["reason"], flag["flagged_by"])
    return event_id


async def _screen_duplicates(event_id: int) -> None:
    """A CPL event is a duplicate when an earlier CPL event of the same institution and
    borrower lies within the duplicate window; the later one is credited. Jobs may run out
    of order, so the new event also credits later events it makes duplicates."""
    days = int((await get_parameters("duplicate_window_days"))["duplicate_window_days"])
    rows = await BillingEvent.raw(
        "SELECT other.id, other.occurred_at, e.occurred_at AS moment, "
        "(other.occurred_at, other.id) > (e.occurred_at, e.id) AS later "
        "FROM billing_event e JOIN billing_event other ON other.institution = e.institution "
        "AND other.kind = 'cpl' AND other.borrower_key = e.borrower_key AND other.id <> e.id "
        "AND other.occurred_at BETWEEN e.occurred_at - make_interval(days => {}) "
        "AND e.occurred_at + make_interval(days => {}) "
        "WHERE e.id = {} AND e.borrower_key <> '' ORDER BY other.occurred_at, other.id",
        days,
        days,
        event_id,
    )
    if any(not row["later"] for row in rows):
        await credit_event(event_id, CreditReason.DUPLICATE, at=rows[0]["moment"])
    for row in rows:
        if row["later"]:
            await credit_event(row["id"], CreditReason.DUPLICATE, at=row["occurred_at"])


async def screen_withdrawal(application_id: int) -> int | None:
    """Credit the CPL event of a lead withdrawn within `credit_withdrawal_hours` of its
    delivery. Runs on the withdrawal, and again when the event is billed after it."""
    async with transaction():
        event = (
            await BillingEvent.select(BillingEvent.id)
            .where(
                (BillingEvent.application == application_id)
                & (BillingEvent.kind == PricingModel.CPL)
            )
            .first()
        )
        if event is None:
            return None
        app = (
            await Application.select(Application.delivered_at)
            .where(Application.id == application_id)
            .first()
        )
        if app is None or app["delivered_at"] is None:
            return None
        return await _credit_if_withdrawn_soon(event["id"], application_id, app["delivered_at"])


async def _credit_if_withdrawn_soon(
    event_id: int, application_id: int, delivered_at: datetime
) -> int | None:
    """`screen_withdrawal` for a CPL event and delivery the caller has read."""
    withdrawn_at = await _status_moment(application_id, ApplicationStatus.WITHDRAWN)
    if withdrawn_at is None:
        return None
    hours = int((await get_parameters("credit_withdrawal_hours"))["credit_withdrawal_hours"])
    if withdrawn_at - delivered_at > timedelta(hours=hours):
        return None
    return await credit_event(event_id, CreditReason.WITHDRAWN, at=withdrawn_at)


async def event_net(event_id: int) -> Decimal:
    """What an event still charges: its amount less its credit and accepted adjustments."""
    rows = await BillingEvent.raw(
        "SELECT e.amount - coalesce((SELECT sum(c.amount) FROM billing_credit c "
        "WHERE c.event = e.id), 0) + coalesce((SELECT sum(l.amount) FROM statement_line l "
        "WHERE l.event = e.id AND l.kind = {}), 0) AS net FROM billing_event e WHERE e.id = {}",
        LineKind.ADJUSTMENT.value,
        event_id,
    )
    return rows[0]["net"] if rows else Decimal(0)


async def credit_event(
    event_id: int,
    reason: CreditReason,
    note: str = "",
    created_by: int | None = None,
    at: datetime | None = None,
) -> int | None:
    """Credit what the event still charges (never below zero); one credit per event. `at`
    is when its cause happened (default now): the credit goes on that month's statement,
    or the next open one if that one has been issued."""
    async with transaction():
        event = (
            await BillingEvent.select(BillingEvent.id, BillingEvent.institution)
            .where(BillingEvent.id == event_id)
            .lock_rows()
            .first()
        )
        if event is None:
            return None
        amount = await event_net(event_id)
        if amount <= 0:
            return None
        institution_id: int = event["institution"]
        await lock_institution(institution_id, exclusive=False)
        period = await period_for(institution_id, at or datetime.now(UTC))
        rows = await BillingCredit.raw(
            "INSERT INTO billing_credit (institution, event, reason, amount, note, created_by, "
            "created_at, period) VALUES ({}, {}, {}, {}, {}, {}, now(), {}) "
            "ON CONFLICT (event) DO NOTHING RETURNING id",
            institution_id,
            event_id,
            str(reason),
            amount,
            note[:500],
            created_by,
            period,
        )
        if not rows:
            return None
        await refresh_if_past(institution_id, period)
        return int(rows[0]["id"])
