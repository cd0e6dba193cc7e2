"""An institution's loan portfolio (PRODUCT.md I9): figures per DPD bucket, this month's
disbursements, upcoming dues, month-to-month roll rates, alerts, and the filtered loan list
with its exports. Every figure is one aggregate SQL over the institution's own rows, so
the page stays fast at 100,000 loans (outstanding principal is kept on the loan row; roll
rates are computed once a month by the daily run, jobs.close_month)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from marketplace.actors import Actor
from marketplace.errors import PermissionDenied
from marketplace.i18n import _
from marketplace.loancalc import today_shanghai
from marketplace.loans.ledger import ZERO
from marketplace.loans.statuses import (
    BUCKET_LABELS,
    LOAN_MACHINE,
    DpdBucket,
    LoanEventKind,
    LoanStatus,
)
from marketplace.loans.tables import Instalment, Loan, LoanEvent, LoanRoll
from marketplace.parameters.services import get_parameters
from marketplace.parsing import lenient, parse_choice, parse_date, parse_int
from marketplace.products.tables import Product

# Recent enough for an alert: a loan that entered 31+ days past due within this many days.
ALERT_DAYS = 7
# The dues table lists the soonest ones; the figures above it count them all.
UPCOMING_ROWS = 20
ROLL_MONTHS = 6
SETTLED_BUCKET = str(LoanStatus.SETTLED)


def bucket_label(bucket: str) -> str:
    if bucket == SETTLED_BUCKET:
        return LOAN_MACHINE.label(LoanStatus.SETTLED)
    return _(BUCKET_LABELS[DpdBucket(bucket)])


@dataclass(frozen=True)
class BucketFigure:
    bucket: str
    label: str
    loans: int
    principal_outstanding: Decimal


@dataclass(frozen=True)
class UpcomingDue:
    loan_id: int
    reference: str
    number: int
    due_on: date
    amount_left: Decimal


@dataclass(frozen=True)
class Alert:
    loan_id: int
    reference: str
    occurred_on: date
    dpd: int
    bucket_label: str


@dataclass(frozen=True)
class RollRate:
    from_label: str
    to_label: str
    rate: Decimal | None  # share of the from-bucket's balance; None without a balance


@dataclass(frozen=True)
class RollMonth:
    month_end: date
    rates: tuple[RollRate, ...]  # current→1–30, 1–30→31–60, 31–60→61–90, 61–90→90+


@dataclass(frozen=True)
class Portfolio:
    business_date: date
    buckets: tuple[BucketFigure, ...]  # every bucket, in order, zeros included
    open_loans: int
    principal_outstanding: Decimal
    settled_loans: int
    disbursed_this_month: int
    disbursed_this_month_amount: Decimal
    overdue_rate: Decimal | None  # overdue principal / outstanding principal
    alert_rate: Decimal
    lead_days: int
    upcoming: tuple[UpcomingDue, ...]  # soonest UPCOMING_ROWS open dues within lead_days
    upcoming_count: int
    upcoming_amount: Decimal
    alerts: tuple[Alert, ...]
    rolls: tuple[RollMonth, ...]  # oldest first

    @property
    def overdue_alert(self) -> bool:
        return self.overdue_rate is not None and self.overdue_rate > self.alert_rate


_ROLL_STEPS = tuple(zip(tuple(DpdBucket)[:-1], tuple(DpdBucket)[1:], strict=True))


async def _rolls(institution_id: int, on: date) -> tuple[RollMonth, ...]:
    rows = await LoanRoll.select(
        LoanRoll.month_end, LoanRoll.from_bucket, LoanRoll.to_bucket, LoanRoll.principal
    ).where(
        (LoanRoll.institution == institution_id)
        & (LoanRoll.month_end > on - timedelta(days=31 * ROLL_MONTHS))
    )
    months: dict[date, dict[tuple[str, str], Decimal]] = {}
    for row in rows:
        months.setdefault(row["month_end"], {})[(row["from_bucket"], row["to_bucket"])] = row[
            "principal"
        ]
    result = []
    for month_end in sorted(months):
        flows = months[month_end]
        rates = []
        for start, end in _ROLL_STEPS:
            base = sum((v for (f, _t), v in flows.items() if f == start), ZERO)
            moved = flows.get((str(start), str(end)), ZERO)
            rates.append(
                RollRate(
                    from_label=bucket_label(start),
                    to_label=bucket_label(end),
                    rate=(moved / base).quantize(Decimal("0.0001")) if base else None,
                )
            )
        result.append(RollMonth(month_end=month_end, rates=tuple(rates)))
    return tuple(result)


async def portfolio(actor: Actor, business_date: date | None = None) -> Portfolio:
    """The actor's institution's loans: counts and outstanding principal per DPD bucket
    (as of the last daily run), the dues of the next `repayment_reminder_days` days,
    this month's disbursements, roll rates and alerts."""
    if not actor.can("loan.view"):
        raise PermissionDenied()
    on = today_shanghai() if business_date is None else business_date
    params = await get_parameters("repayment_reminder_days", "portfolio_overdue_alert_rate")
    lead_days = int(params["repayment_reminder_days"])
    institution = actor.institution_id or 0
    # One pass over the institution's loans: buckets, settled, this month's disbursements.
    figures = await Loan.raw(
        """
        SELECT dpd_bucket AS bucket,
               count(*) FILTER (WHERE status <> {}) AS loans,
               COALESCE(sum(principal_outstanding) FILTER (WHERE status <> {}), 0)
                   AS outstanding,
               count(*) FILTER (WHERE status = {}) AS settled,
               count(*) FILTER (WHERE disbursed_on >= {}) AS disbursed,
               COALESCE(sum(principal) FILTER (WHERE disbursed_on >= {}), 0) AS amount
        FROM loan WHERE institution = {}
        GROUP BY dpd_bucket
        """,
        str(LoanStatus.SETTLED),
        str(LoanStatus.SETTLED),
        str(LoanStatus.SETTLED),
        on.replace(day=1),
        on.replace(day=1),
        institution,
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
    left = (
        "i.principal_due + i.interest_due + i.fee_due"
        " - i.principal_paid - i.interest_paid - i.fee_paid"
    )
    # The soonest dues (walking the open-dues index in date order), then all of them counted.
    window = (institution, on, on + timedelta(days=lead_days))
    dues = await Instalment.raw(
        f"""
        SELECT i.loan, a.reference, i.number, i.due_on, {left} AS amount_left
        FROM loan_instalment i
        JOIN loan l ON l.id = i.loan
        JOIN application a ON a.id = l.application
        WHERE l.institution = {{}} AND i.status IN ('pending', 'partial')
          AND i.due_on BETWEEN {{}} AND {{}}
        ORDER BY i.due_on, i.loan, i.number
        LIMIT {UPCOMING_ROWS}
        """,  # noqa: S608 - only constants are interpolated
        *window,
    )
    dues_total = (
        await Instalment.raw(
            f"""
            SELECT count(*) AS n, COALESCE(sum({left}), 0) AS total
            FROM loan_instalment i JOIN loan l ON l.id = i.loan
            WHERE l.institution = {{}} AND i.status IN ('pending', 'partial')
              AND i.due_on BETWEEN {{}} AND {{}}
            """,  # noqa: S608 - only constants are interpolated
            *window,
        )
    )[0]
    alerts = await LoanEvent.raw(
        f"""
        SELECT e.loan, a.reference, e.occurred_on, e.dpd, e.dpd_bucket
        FROM loan_event e
        JOIN loan l ON l.id = e.loan
        JOIN application a ON a.id = l.application
        WHERE e.institution = {{}} AND e.kind = {{}} AND e.occurred_on > {{}}
        ORDER BY e.occurred_on DESC, e.id DESC
        LIMIT {UPCOMING_ROWS}
        """,  # noqa: S608 - only constants are interpolated
        institution,
        str(LoanEventKind.BUCKET),
        on - timedelta(days=ALERT_DAYS),
    )
    outstanding = sum((b.principal_outstanding for b in buckets), ZERO)
    overdue = sum((b.principal_outstanding for b in buckets if b.bucket != DpdBucket.CURRENT), ZERO)
    return Portfolio(
        business_date=on,
        buckets=buckets,
        open_loans=sum(b.loans for b in buckets),
        principal_outstanding=outstanding,
        settled_loans=sum(int(row["settled"]) for row in figures),
        disbursed_this_month=sum(int(row["disbursed"]) for row in figures),
        disbursed_this_month_amount=sum((row["amount"] for row in figures), ZERO),
        overdue_rate=(overdue / outstanding).quantize(Decimal("0.0001")) if outstanding else None,
        alert_rate=Decimal(str(params["portfolio_overdue_alert_rate"])),
        lead_days=lead_days,
        upcoming=tuple(
            UpcomingDue(
                loan_id=row["loan"],
                reference=row["reference"],
                number=row["number"],
                due_on=row["due_on"],
                amount_left=row["amount_left"],
            )
            for row in dues
        ),
        upcoming_count=int(dues_total["n"]),
        upcoming_amount=dues_total["total"],
        alerts=tuple(
            Alert(
                loan_id=row["loan"],
                reference=row["reference"],
                occurred_on=row["occurred_on"],
                dpd=row["dpd"],
                bucket_label=bucket_label(row["dpd_bucket"]),
            )
            for row in alerts
        ),
        rolls=await _rolls(institution, on),
    )


@dataclass(frozen=True)
class LoanFilters:
    status: str = ""
    bucket: str = ""
    product: int | None = None
    disbursed_from: date | None = None
    disbursed_to: date | None = None

    def as_query(self) -> dict[str, str]:
        values = {
            "status": self.status,
            "bucket": self.bucket,
            "product": str(self.product or ""),
            "disbursed_from": self.disbursed_from.isoformat() if self.disbursed_from else "",
            "disbursed_to": self.disbursed_to.isoformat() if self.disbursed_to else "",
        }
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class LoanListOptions:
    statuses: dict[str, str]
    buckets: dict[str, str]
    products: dict[str, str]


async def loan_list_options(actor: Actor) -> LoanListOptions:
    products = await (
        Product.select(Product.id, Product.name)
        .where(Product.institution == actor.institution_id)
        .order_by(Product.name)
    )
    return LoanListOptions(
        statuses={str(s): LOAN_MACHINE.label(s) for s in LoanStatus},
        buckets={str(b): _(BUCKET_LABELS[b]) for b in DpdBucket},
        products={str(row["id"]): row["name"] for row in products},
    )


def parse_loan_filters(params: Mapping[str, Any], options: LoanListOptions) -> LoanFilters:
    """Query-string filters, leniently: a bad value is no filter."""
    product = lenient(parse_choice, params.get("product"), "", choices=options.products)
    return LoanFilters(
        status=lenient(parse_choice, params.get("status"), "", choices=options.statuses),
        bucket=lenient(parse_choice, params.get("bucket"), "", choices=options.buckets),
        product=lenient(parse_int, product, None, minimum=1) if product else None,
        disbursed_from=lenient(parse_date, params.get("disbursed_from"), None),
        disbursed_to=lenient(parse_date, params.get("disbursed_to"), None),
    )


@dataclass(frozen=True)
class LoanRow:
    id: int
    application_id: int
    reference: str
    product_name: str
    principal: Decimal
    principal_outstanding: Decimal
    term_months: int
    disbursed_on: date
    status: str
    status_label: str
    dpd: int
    bucket_label: str
    next_due_on: date | None


def _condition(actor: Actor, filters: LoanFilters) -> Any:
    where: Any = Loan.institution == actor.institution_id
    if filters.status:
        where &= Loan.status == filters.status
    if filters.bucket:
        where &= (Loan.dpd_bucket == filters.bucket) & (Loan.status != LoanStatus.SETTLED)
    if filters.product:
        where &= Loan.product == filters.product
    if filters.disbursed_from:
        where &= Loan.disbursed_on >= filters.disbursed_from
    if filters.disbursed_to:
        where &= Loan.disbursed_on <= filters.disbursed_to
    return where


async def _rows(where: Any, *, offset: int, limit: int) -> list[LoanRow]:
    rows = await (
        Loan.select(
            Loan.id,
            Loan.application,
            Loan.application.reference.as_alias("reference"),
            Loan.product.name.as_alias("product_name"),
            Loan.principal,
            Loan.principal_outstanding,
            Loan.term_months,
            Loan.disbursed_on,
            Loan.status,
            Loan.dpd,
            Loan.dpd_bucket,
        )
        .where(where)
        .order_by(Loan.disbursed_on, ascending=False)
        .order_by(Loan.id, ascending=False)
        .offset(offset)
        .limit(limit)
    )
    next_due: dict[int, date] = {}
    if rows:
        for due in await Instalment.raw(
            "SELECT loan, min(due_on) AS due_on FROM loan_instalment"
            " WHERE loan = ANY({}) AND status IN ('pending', 'partial') GROUP BY loan",
            [row["id"] for row in rows],
        ):
            next_due[due["loan"]] = due["due_on"]
    return [
        LoanRow(
            id=row["id"],
            application_id=row["application"],
            reference=row["reference"],
            product_name=row["product_name"],
            principal=row["principal"],
            principal_outstanding=row["principal_outstanding"],
            term_months=row["term_months"],
            disbursed_on=row["disbursed_on"],
            status=row["status"],
            status_label=LOAN_MACHINE.label(row["status"]),
            dpd=row["dpd"],
            bucket_label=_(BUCKET_LABELS[DpdBucket(row["dpd_bucket"])]),
            next_due_on=next_due.get(row["id"]),
        )
        for row in rows
    ]


async def institution_loans(
    actor: Actor, filters: LoanFilters, *, page: int, per_page: int
) -> tuple[list[LoanRow], int]:
    if not actor.can("loan.view"):
        raise PermissionDenied()
    total = await Loan.count().where(_condition(actor, filters))
    rows = await _rows(_condition(actor, filters), offset=(page - 1) * per_page, limit=per_page)
    return rows, total


async def loan_rows_for_export(actor: Actor, filters: LoanFilters, *, limit: int) -> list[LoanRow]:
    if not actor.can("loan.view"):
        raise PermissionDenied()
    return await _rows(_condition(actor, filters), offset=0, limit=limit)


async def application_loans(actor: Actor, application_ids: list[int]) -> dict[int, LoanRow]:
    """The loans of these applications (the institution's own), by application id: the
    lead desk shows a disbursed lead's loan state."""
    if not application_ids or not actor.can("loan.view"):
        return {}
    where = (Loan.institution == actor.institution_id) & Loan.application.is_in(application_ids)
    rows = await _rows(where, offset=0, limit=len(application_ids))
    return {row.application_id: row for row in rows}
