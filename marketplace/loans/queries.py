"""Read models of loans: a borrower's loans with plan and records and their calendar; one
loan as its institution sees it; a loan's timeline; what a disbursement form needs. The
institution's portfolio and loan list are in portfolio.py."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from marketplace.actors import Actor
from marketplace.applications.statuses import ApplicationStatus, received_leads
from marketplace.applications.tables import Application
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import N_, _
from marketplace.loancalc import RepaymentMethod, today_shanghai
from marketplace.loans import ledger
from marketplace.loans.ledger import ZERO
from marketplace.loans.statuses import (
    BUCKET_LABELS,
    EVENT_LABELS,
    LOAN_MACHINE,
    DpdBucket,
    InstalmentStatus,
    LoanEventKind,
    LoanStatus,
    RepaymentKind,
)
from marketplace.loans.tables import Instalment, Loan, LoanEvent, Repayment
from marketplace.money import format_cny
from marketplace.offers.queries import SignedTerms, signed_terms
from marketplace.offers.statuses import OfferStatus
from marketplace.offers.tables import Offer

_INSTALMENT_LABELS = {
    InstalmentStatus.PENDING: N_("待还"),
    InstalmentStatus.PARTIAL: N_("部分已还"),
    InstalmentStatus.PAID: N_("已还清"),
    InstalmentStatus.SETTLED_EARLY: N_("提前结清"),
}
_KIND_LABELS = {
    RepaymentKind.INSTALMENT: N_("按期还款"),
    RepaymentKind.PARTIAL: N_("部分还款"),
    RepaymentKind.EARLY_SETTLEMENT: N_("提前结清"),
}


@dataclass(frozen=True)
class InstalmentView:
    number: int
    due_on: date
    principal_due: Decimal
    interest_due: Decimal
    fee_due: Decimal
    amount_due: Decimal
    amount_paid: Decimal
    amount_left: Decimal
    paid_on: date | None
    status: str
    status_label: str


@dataclass(frozen=True)
class RepaymentView:
    paid_on: date
    reference: str  # the institution's bank serial (流水号)
    amount: Decimal
    principal_part: Decimal
    interest_part: Decimal
    fee_part: Decimal
    kind: str
    kind_label: str


@dataclass(frozen=True)
class BorrowerLoan:
    id: int
    application_reference: str  # what a complaint about the loan names (投诉这笔借款)
    institution_name: str
    product_name: str
    principal: Decimal
    principal_outstanding: Decimal
    term_months: int
    method_label: str
    disbursed_on: date
    receiving_account_masked: str
    status: str
    status_label: str
    dpd: int
    dpd_bucket_label: str
    next_due: InstalmentView | None
    plan: tuple[InstalmentView, ...]
    records: tuple[RepaymentView, ...]


def _instalment_label(status: str) -> str:
    return _(_INSTALMENT_LABELS[InstalmentStatus(status)])


def _instalment_view(row: dict) -> InstalmentView:
    due = row["principal_due"] + row["interest_due"] + row["fee_due"]
    paid = row["principal_paid"] + row["interest_paid"] + row["fee_paid"]
    return InstalmentView(
        number=row["number"],
        due_on=row["due_on"],
        principal_due=row["principal_due"],
        interest_due=row["interest_due"],
        fee_due=row["fee_due"],
        amount_due=due,
        amount_paid=paid,
        amount_left=due - paid,
        paid_on=row["paid_on"],
        status=row["status"],
        status_label=_instalment_label(row["status"]),
    )


async def borrower_loans(actor: Actor) -> tuple[BorrowerLoan, ...]:
    """The signed-in borrower's loans, newest first, each with its plan and records."""
    if not actor.can("loan.view_own"):
        raise PermissionDenied()
    loans = (
        await Loan.select(
            *Loan.all_columns(),
            Loan.institution.short_name.as_alias("institution_name"),
            Loan.product.name.as_alias("product_name"),
            Loan.application.reference.as_alias("application_reference"),
        )
        .where(Loan.borrower == actor.user_id)
        .order_by(Loan.disbursed_on, ascending=False)
        .order_by(Loan.id, ascending=False)
    )
    ids = [loan["id"] for loan in loans]
    if not ids:
        return ()
    plans: dict[int, list[InstalmentView]] = {loan_id: [] for loan_id in ids}
    for row in (
        await Instalment.select().where(Instalment.loan.is_in(ids)).order_by(Instalment.number)
    ):
        plans[row["loan"]].append(_instalment_view(row))
    records: dict[int, list[RepaymentView]] = {loan_id: [] for loan_id in ids}
    for row in (
        await Repayment.select()
        .where(Repayment.loan.is_in(ids))
        .order_by(Repayment.paid_on)
        .order_by(Repayment.id)
    ):
        records[row["loan"]].append(_repayment_view(row))
    open_statuses = {InstalmentStatus.PENDING, InstalmentStatus.PARTIAL}
    return tuple(
        BorrowerLoan(
            id=loan["id"],
            application_reference=loan["application_reference"],
            institution_name=loan["institution_name"],
            product_name=loan["product_name"],
            principal=loan["principal"],
            principal_outstanding=loan["principal"]
            - sum((r.principal_part for r in records[loan["id"]]), ZERO),
            term_months=loan["term_months"],
            method_label=RepaymentMethod(loan["repayment_method"]).label,
            disbursed_on=loan["disbursed_on"],
            receiving_account_masked=loan["receiving_account_masked"],
            status=loan["status"],
            status_label=LOAN_MACHINE.label(loan["status"]),
            dpd=loan["dpd"],
            dpd_bucket_label=_(BUCKET_LABELS[DpdBucket(loan["dpd_bucket"])]),
            next_due=next(
                (line for line in plans[loan["id"]] if line.status in open_statuses), None
            ),
            plan=tuple(plans[loan["id"]]),
            records=tuple(records[loan["id"]]),
        )
        for loan in loans
    )


KIND_CHOICES = {str(kind): label for kind, label in _KIND_LABELS.items()}


def kind_choices() -> dict[str, str]:
    return {key: _(label) for key, label in KIND_CHOICES.items()}


@dataclass(frozen=True)
class LoanEventView:
    kind: str
    label: str
    occurred_on: date
    note: str
    tone: str  # "approved" | "rejected" | "": how a timeline draws it


_EVENT_TONES = {
    LoanEventKind.DISBURSED: "approved",
    LoanEventKind.SETTLED: "approved",
    LoanEventKind.CURED: "approved",
    LoanEventKind.OVERDUE: "rejected",
    LoanEventKind.BUCKET: "rejected",
}


def _event_view(row: dict[str, Any]) -> LoanEventView:
    kind = LoanEventKind(row["kind"])
    if kind is LoanEventKind.DISBURSED:
        note = _("放款金额 {amount}", amount=format_cny(row["amount"]))
    elif kind is LoanEventKind.REPAYMENT:
        note = _("还款金额 {amount}", amount=format_cny(row["amount"]))
    elif kind in (LoanEventKind.OVERDUE, LoanEventKind.BUCKET):
        note = _(
            "逾期 {n} 天（{bucket}）",
            n=row["dpd"],
            bucket=_(BUCKET_LABELS[DpdBucket(row["dpd_bucket"])]),
        )
    else:
        note = ""
    return LoanEventView(
        kind=str(kind),
        label=_(EVENT_LABELS[kind]),
        occurred_on=row["occurred_on"],
        note=note,
        tone=_EVENT_TONES.get(kind, ""),
    )


async def _loan_events(loan_id: int) -> tuple[LoanEventView, ...]:
    rows = await (
        LoanEvent.select()
        .where(LoanEvent.loan == loan_id)
        .order_by(LoanEvent.occurred_on)
        .order_by(LoanEvent.id)
    )
    return tuple(_event_view(row) for row in rows)


@dataclass(frozen=True)
class LoanTimeline:
    loan_id: int
    status: str
    status_label: str
    events: tuple[LoanEventView, ...]


async def application_loan(actor: Actor, application_id: int) -> LoanTimeline | None:
    """The loan of an application, for its timeline: the borrower's own, or the staff
    member's institution's; None when there is none (or it is someone else's)."""
    if actor.kind == "borrower":
        mine = Loan.borrower == actor.user_id
    elif actor.can("loan.view"):
        mine = Loan.institution == actor.institution_id
    else:
        return None
    row = await (
        Loan.select(Loan.id, Loan.status).where((Loan.application == application_id) & mine).first()
    )
    if row is None:
        return None
    return LoanTimeline(
        loan_id=row["id"],
        status=row["status"],
        status_label=LOAN_MACHINE.label(row["status"]),
        events=await _loan_events(row["id"]),
    )


@dataclass(frozen=True)
class LeadLoan:
    """A lead's loan for the lead page: its timeline, or whether it may be disbursed."""

    loan: LoanTimeline | None
    can_disburse: bool


async def lead_loan(actor: Actor, application_id: int) -> LeadLoan:
    loan = await application_loan(actor, application_id)
    if loan is not None or not actor.can("loan.disburse"):
        return LeadLoan(loan=loan, can_disburse=False)
    accepted = await Application.exists().where(
        (Application.id == application_id)
        & (Application.institution == actor.institution_id)
        & (Application.status == ApplicationStatus.ACCEPTED)
    )
    return LeadLoan(
        loan=None, can_disburse=accepted and await signed_terms(application_id) is not None
    )


@dataclass(frozen=True)
class LoanDetail:
    id: int
    application_id: int
    reference: str
    product_name: str
    principal: Decimal
    principal_outstanding: Decimal
    amount_outstanding: Decimal  # everything still owed under the plan
    rate: Decimal
    rate_period: str
    apr: Decimal | None
    term_months: int
    method_label: str
    upfront_fees: Decimal
    disbursed_on: date
    receiving_account_masked: str
    status: str
    status_label: str
    dpd: int
    bucket_label: str
    settled_on: date | None
    next_due: InstalmentView | None
    # What settles the loan early today (ledger rule): the amount an early settlement needs.
    settlement_today: Decimal | None
    plan: tuple[InstalmentView, ...]
    records: tuple[RepaymentView, ...]
    events: tuple[LoanEventView, ...]
    can_record: bool  # this staff member may report a repayment on it now


def _repayment_view(row: dict[str, Any]) -> RepaymentView:
    return RepaymentView(
        paid_on=row["paid_on"],
        reference=row["idempotency_key"],
        amount=row["amount"],
        principal_part=row["principal_part"],
        interest_part=row["interest_part"],
        fee_part=row["fee_part"],
        kind=row["kind"],
        kind_label=_(_KIND_LABELS[RepaymentKind(row["kind"])]),
    )


async def institution_loan(actor: Actor, loan_id: int) -> LoanDetail:
    """One of the actor's institution's loans; another institution's is NotFound."""
    if not actor.can("loan.view"):
        raise PermissionDenied()
    row = await (
        Loan.select(
            *Loan.all_columns(),
            Loan.application.reference.as_alias("reference"),
            Loan.product.name.as_alias("product_name"),
        )
        .where((Loan.id == loan_id) & (Loan.institution == actor.institution_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该贷款"))
    instalments = (
        await Instalment.select().where(Instalment.loan == loan_id).order_by(Instalment.number)
    )
    plan = tuple(_instalment_view(line) for line in instalments)
    records = tuple(
        _repayment_view(r)
        for r in await Repayment.select()
        .where(Repayment.loan == loan_id)
        .order_by(Repayment.paid_on)
        .order_by(Repayment.id)
    )
    offer = await (
        Offer.select(Offer.apr)
        .where((Offer.application == row["application"]) & (Offer.status == OfferStatus.SIGNED))
        .first()
    )
    open_lines = [line for line in plan if line.status in _OPEN]
    return LoanDetail(
        id=row["id"],
        application_id=row["application"],
        reference=row["reference"],
        product_name=row["product_name"],
        principal=row["principal"],
        principal_outstanding=row["principal_outstanding"],
        amount_outstanding=sum((line.amount_left for line in open_lines), ZERO),
        rate=row["rate"],
        rate_period=row["rate_period"],
        apr=offer["apr"] if offer else None,
        term_months=row["term_months"],
        method_label=RepaymentMethod(row["repayment_method"]).label,
        upfront_fees=row["upfront_fees"],
        disbursed_on=row["disbursed_on"],
        receiving_account_masked=row["receiving_account_masked"],
        status=row["status"],
        status_label=LOAN_MACHINE.label(row["status"]),
        dpd=row["dpd"],
        bucket_label=_(BUCKET_LABELS[DpdBucket(row["dpd_bucket"])]),
        settled_on=row["settled_on"],
        next_due=open_lines[0] if open_lines else None,
        settlement_today=(
            ledger.settlement_amount(ledger.lines_from_rows(instalments), today_shanghai())
            if open_lines
            else None
        ),
        plan=plan,
        records=records,
        events=await _loan_events(loan_id),
        can_record=actor.can("loan.record_repayment") and row["status"] != LoanStatus.SETTLED,
    )


_OPEN = frozenset({InstalmentStatus.PENDING, InstalmentStatus.PARTIAL})


@dataclass(frozen=True)
class DisbursementForm:
    application_id: int
    reference: str
    product_name: str
    application_status: str
    terms: SignedTerms | None  # None: nothing signed, nothing to disburse
    apr: Decimal | None
    loan_id: int | None  # already disbursed: its loan

    @property
    def open(self) -> bool:
        return (
            self.loan_id is None
            and self.terms is not None
            and self.application_status == ApplicationStatus.ACCEPTED
        )


async def disbursement_form(actor: Actor, application_id: int) -> DisbursementForm:
    """What the institution disburses for one of its leads: the signed terms."""
    if not actor.can("loan.disburse"):
        raise PermissionDenied()
    row = await (
        Application.select(
            Application.id,
            Application.reference,
            Application.status,
            Application.product.name.as_alias("product_name"),
        )
        .where((Application.id == application_id) & received_leads(actor))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    loan = await Loan.select(Loan.id).where(Loan.application == application_id).first()
    offer = await (
        Offer.select(Offer.apr)
        .where((Offer.application == application_id) & (Offer.status == OfferStatus.SIGNED))
        .first()
    )
    return DisbursementForm(
        application_id=row["id"],
        reference=row["reference"],
        product_name=row["product_name"],
        application_status=row["status"],
        terms=await signed_terms(application_id),
        apr=offer["apr"] if offer else None,
        loan_id=loan["id"] if loan else None,
    )


@dataclass(frozen=True)
class CalendarDue:
    loan_id: int
    product_name: str
    institution_name: str
    number: int
    term_months: int
    amount_left: Decimal
    status_label: str
    overdue: bool


@dataclass(frozen=True)
class CalendarDay:
    day: date
    in_month: bool
    is_today: bool
    dues: tuple[CalendarDue, ...]
    total: Decimal


@dataclass(frozen=True)
class CalendarMonth:
    month: date  # its first day
    today: date
    weeks: tuple[tuple[CalendarDay, ...], ...]  # Monday first, whole weeks
    total: Decimal
    previous: date
    next: date

    @property
    def due_days(self) -> tuple[CalendarDay, ...]:
        return tuple(d for week in self.weeks for d in week if d.in_month and d.dues)


async def _borrower_dues(actor: Actor, start: date | None, end: date | None) -> list[dict]:
    """The borrower's instalments due between `start` and `end`, each with its loan's
    term, product and institution."""
    loans = {
        row["id"]: row
        for row in await Loan.select(
            Loan.id,
            Loan.term_months,
            Loan.product.name.as_alias("product_name"),
            Loan.institution.short_name.as_alias("institution_name"),
        ).where(Loan.borrower == actor.user_id)
    }
    if not loans:
        return []
    where: Any = Instalment.loan.is_in(list(loans))
    if start is not None:
        where &= Instalment.due_on >= start
    if end is not None:
        where &= Instalment.due_on <= end
    rows = (
        await Instalment.select().where(where).order_by(Instalment.due_on).order_by(Instalment.loan)
    )
    return [row | loans[row["loan"]] | {"id": row["id"]} for row in rows]


async def borrower_calendar(actor: Actor, month: date) -> CalendarMonth:
    """The borrower's instalments of one month, across all their loans, by day."""
    if not actor.can("loan.view_own"):
        raise PermissionDenied()
    first = month.replace(day=1)
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    today = today_shanghai()
    by_day: dict[date, list[CalendarDue]] = {}
    for row in await _borrower_dues(actor, weeks[0][0], weeks[-1][-1]):
        line = _instalment_view(row)
        by_day.setdefault(row["due_on"], []).append(
            CalendarDue(
                loan_id=row["loan"],
                product_name=row["product_name"],
                institution_name=row["institution_name"],
                number=row["number"],
                term_months=row["term_months"],
                amount_left=line.amount_left if line.status in _OPEN else line.amount_due,
                status_label=line.status_label,
                overdue=line.status in _OPEN and line.due_on < today,
            )
        )
    days = tuple(
        tuple(
            CalendarDay(
                day=day,
                in_month=day.month == first.month,
                is_today=day == today,
                dues=tuple(by_day.get(day, ())),
                total=sum((due.amount_left for due in by_day.get(day, ())), ZERO),
            )
            for day in week
        )
        for week in weeks
    )
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return CalendarMonth(
        month=first,
        today=today,
        weeks=days,
        total=sum((d.total for week in days for d in week if d.in_month), ZERO),
        previous=(first - timedelta(days=1)).replace(day=1),
        next=last + timedelta(days=1),
    )


@dataclass(frozen=True)
class DueDate:
    loan_id: int
    number: int
    term_months: int
    due_on: date
    amount_left: Decimal
    product_name: str
    institution_name: str


async def borrower_due_dates(actor: Actor) -> tuple[DueDate, ...]:
    """Every instalment the borrower still owes, soonest first (the .ics download)."""
    if not actor.can("loan.view_own"):
        raise PermissionDenied()
    rows = await _borrower_dues(actor, None, None)
    return tuple(
        DueDate(
            loan_id=row["loan"],
            number=row["number"],
            term_months=row["term_months"],
            due_on=row["due_on"],
            amount_left=_instalment_view(row).amount_left,
            product_name=row["product_name"],
            institution_name=row["institution_name"],
        )
        for row in rows
        if row["status"] in _OPEN
    )


# Months a calendar can show: wide enough for any loan, narrow enough for any date maths.
CALENDAR_YEARS = (2000, 2100)


def month_of(raw: str | None, default: date) -> date:
    """The first day of a `YYYY-MM` month from a query string; anything else (or a month
    out of range) is `default`'s month."""
    text = (raw or "").strip()
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
        year, month = int(text[:4]), int(text[5:])
        if CALENDAR_YEARS[0] <= year <= CALENDAR_YEARS[1] and 1 <= month <= 12:
            return date(year, month, 1)
    return default.replace(day=1)


def _ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def due_dates_ics(dues: tuple[DueDate, ...], stamp: str) -> str:
    """An iCalendar (RFC 5545) file of the due dates, one all-day event each."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//LoanMart//Repayments//ZH",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:" + _ics_text(_("还款日历")),
    ]
    for due in dues:
        summary = _(
            "还款 {amount}：{product} 第{n}/{total}期",
            amount=format_cny(due.amount_left),
            product=due.product_name,
            n=due.number,
            total=due.term_months,
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:loan-{due.loan_id}-{due.number}@loanmart",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{due.due_on:%Y%m%d}",
            f"DTEND;VALUE=DATE:{due.due_on + timedelta(days=1):%Y%m%d}",
            "SUMMARY:" + _ics_text(summary),
            "DESCRIPTION:" + _ics_text(due.institution_name),
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"
