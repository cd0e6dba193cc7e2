"""Read models of loans: a borrower's loans with plan and records, and an institution's
portfolio (DPD buckets, upcoming dues)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from marketplace.actors import Actor
from marketplace.errors import PermissionDenied
from marketplace.i18n import N_, _
from marketplace.loancalc import RepaymentMethod, today_shanghai
from marketplace.loans.ledger import ZERO
from marketplace.loans.statuses import (
    BUCKET_LABELS,
    LOAN_MACHINE,
    DpdBucket,
    InstalmentStatus,
    LoanStatus,
    RepaymentKind,
)
from marketplace.loans.tables import Instalment, Loan, Repayment
from marketplace.parameters.services import get_parameters

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
    amount: Decimal
    principal_part: Decimal
    interest_part: Decimal
    fee_part: Decimal
    kind: str
    kind_label: str


@dataclass(frozen=True)
class BorrowerLoan:
    id: int
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
        records[row["loan"]].append(
            RepaymentView(
                paid_on=row["paid_on"],
                amount=row["amount"],
                principal_part=row["principal_part"],
                interest_part=row["interest_part"],
                fee_part=row["fee_part"],
                kind=row["kind"],
                kind_label=_(_KIND_LABELS[RepaymentKind(row["kind"])]),
            )
        )
    open_statuses = {InstalmentStatus.PENDING, InstalmentStatus.PARTIAL}
    return tuple(
        BorrowerLoan(
            id=loan["id"],
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


@dataclass(frozen=True)
class BucketFigure:
    bucket: str
    label: str
    loans: int
    principal_outstanding: Decimal


@dataclass(frozen=True)
class UpcomingDue:
    loan_id: int
    number: int
    due_on: date
    amount_left: Decimal


@dataclass(frozen=True)
class Portfolio:
    business_date: date
    buckets: tuple[BucketFigure, ...]  # every bucket, in order, zeros included
    open_loans: int
    principal_outstanding: Decimal
    settled_loans: int
    lead_days: int
    upcoming: tuple[UpcomingDue, ...]  # open instalments due within lead_days, soonest first
    upcoming_amount: Decimal


async def portfolio(actor: Actor, business_date: date | None = None) -> Portfolio:
    """The actor's institution's loans: counts and outstanding principal per DPD bucket
    (as of the last daily run) and the dues of the next `repayment_reminder_days` days."""
    if not actor.can("loan.view"):
        raise PermissionDenied()
    on = today_shanghai() if business_date is None else business_date
    lead_days = int((await get_parameters("repayment_reminder_days"))["repayment_reminder_days"])
    mine = Loan.institution == actor.institution_id
    open_statuses = [str(s) for s in (InstalmentStatus.PENDING, InstalmentStatus.PARTIAL)]
    figures = await Loan.raw(
        """
        SELECT l.dpd_bucket AS bucket, count(*) AS loans,
               COALESCE(sum(l.principal - paid.principal), 0) AS outstanding
        FROM loan l
        JOIN LATERAL (
            SELECT COALESCE(sum(r.principal_part), 0) AS principal
            FROM loan_repayment r WHERE r.loan = l.id
        ) paid ON true
        WHERE l.institution = {} AND l.status <> {}
        GROUP BY l.dpd_bucket
        """,
        actor.institution_id,
        str(LoanStatus.SETTLED),
    )
    by_bucket = {row["bucket"]: row for row in figures}
    buckets = tuple(
        BucketFigure(
            bucket=str(bucket),
            label=_(BUCKET_LABELS[bucket]),
            loans=int(by_bucket[bucket]["loans"]) if bucket in by_bucket else 0,
            principal_outstanding=(
                by_bucket[bucket]["outstanding"] if bucket in by_bucket else ZERO
            ),
        )
        for bucket in DpdBucket
    )
    settled = await Loan.count().where(mine & (Loan.status == LoanStatus.SETTLED))
    dues = (
        await Instalment.select(
            Instalment.loan,
            Instalment.number,
            Instalment.due_on,
            Instalment.principal_due,
            Instalment.interest_due,
            Instalment.fee_due,
            Instalment.principal_paid,
            Instalment.interest_paid,
            Instalment.fee_paid,
        )
        .where(
            (Instalment.loan.institution == actor.institution_id)
            & Instalment.status.is_in(open_statuses)
            & (Instalment.due_on >= on)
            & (Instalment.due_on <= on + timedelta(days=lead_days))
        )
        .order_by(Instalment.due_on)
        .order_by(Instalment.loan)
    )
    upcoming = tuple(
        UpcomingDue(
            loan_id=row["loan"],
            number=row["number"],
            due_on=row["due_on"],
            amount_left=_instalment_view(row | {"paid_on": None, "status": "pending"}).amount_left,
        )
        for row in dues
    )
    return Portfolio(
        business_date=on,
        buckets=buckets,
        open_loans=sum(b.loans for b in buckets),
        principal_outstanding=sum((b.principal_outstanding for b in buckets), ZERO),
        settled_loans=settled,
        lead_days=lead_days,
        upcoming=upcoming,
        upcoming_amount=sum((u.amount_left for u in upcoming), ZERO),
    )
