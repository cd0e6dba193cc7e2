"""Read models of collections: the institution's overdue queue and one loan's contact
history, the operators' oversight per institution with the refused attempts, and the
notices a loan's borrower was sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from marketplace import clock
from marketplace.actors import Actor
from marketplace.collections.kinds import (
    CHANNEL_LABELS,
    NOTICE_LABELS,
    REFUSAL_LABELS,
    RESULT_LABELS,
    Channel,
    RefusalReason,
    Result,
)
from marketplace.collections.rules import ContactRules, contact_rules
from marketplace.collections.services import NOTE_CONTEXT, RECORD
from marketplace.collections.tables import CollectionContact, CollectionRefusal, LoanNotice
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.institutions.tables import Institution
from marketplace.loans.statuses import (
    BUCKET_LABELS,
    DpdBucket,
    InstalmentStatus,
    LoanStatus,
)
from marketplace.loans.tables import Loan
from marketplace.security import decrypt_field

OVERSEE = "collection.view"
DEFAULT_PERIOD_DAYS = 30
# Longest period the oversight page sums over: enough for a year's review, bounded work.
MAX_PERIOD_DAYS = 366
RECENT_REFUSALS = 100
OVERDUE_BUCKETS = tuple(b for b in DpdBucket if b is not DpdBucket.CURRENT)

_OPEN = f"('{InstalmentStatus.PENDING}', '{InstalmentStatus.PARTIAL}')"
# Amount overdue: what is unpaid on instalments already past their due date.
_OVERDUE_AMOUNT = f"""
SELECT COALESCE(sum(i.principal_due + i.interest_due + i.fee_due
                    - i.principal_paid - i.interest_paid - i.fee_paid), 0) AS amount
FROM loan_instalment i
WHERE i.loan = l.id AND i.status IN {_OPEN} AND i.due_on < {{}}::date
"""  # noqa: S608

# Only enum constants are interpolated; every value is a bound parameter. The page of loans
# is chosen first, so the per-loan amounts are computed for that page only.
_QUEUE_SQL = f"""
SELECT l.id, a.reference, p.name AS product_name, l.dpd, l.dpd_bucket,
       due.amount AS amount_overdue, last.contacted_at AS last_contact_at,
       COALESCE(d.contacts, 0) AS contacts_today
FROM (SELECT id, application, product, dpd, dpd_bucket FROM loan
      WHERE institution = {{}} AND status = '{LoanStatus.OVERDUE}'
        AND ({{}}::text = '' OR dpd_bucket = {{}}::text)
      ORDER BY dpd DESC, id
      LIMIT {{}} OFFSET {{}}) l
JOIN application a ON a.id = l.application
JOIN product p ON p.id = l.product
LEFT JOIN LATERAL ({_OVERDUE_AMOUNT}) due ON true
LEFT JOIN LATERAL (SELECT max(c.contacted_at) AS contacted_at
                   FROM collection_contact c WHERE c.loan = l.id) last ON true
LEFT JOIN collection_day d ON d.loan = l.id AND d.business_date = {{}}::date
ORDER BY l.dpd DESC, l.id
"""  # noqa: S608

_BUCKET_COUNTS_SQL = f"""
SELECT dpd_bucket, count(*) AS loans FROM loan
WHERE institution = {{}} AND status = '{LoanStatus.OVERDUE}'
GROUP BY dpd_bucket
"""  # noqa: S608


def _label(labels: dict[Any, str], key: str) -> str:
    for member, label in labels.items():
        if str(member) == key:
            return _(label)
    return key


def _require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise PermissionDenied()


@dataclass(frozen=True)
class QueueRow:
    loan_id: int
    reference: str
    product_name: str
    dpd: int
    bucket: str
    bucket_label: str
    amount_overdue: Decimal
    last_contact_at: datetime | None
    contacts_today: int


@dataclass(frozen=True)
class BucketCount:
    bucket: str
    label: str
    loans: int


@dataclass(frozen=True)
class Queue:
    rows: tuple[QueueRow, ...]
    total: int
    buckets: tuple[BucketCount, ...]
    rules: ContactRules


def bucket_choices() -> list[str]:
    return [str(b) for b in OVERDUE_BUCKETS]


async def collection_queue(actor: Actor, bucket: str, *, page: int, per_page: int) -> Queue:
    """The institution's overdue loans, worst first (DPD), optionally of one bucket."""
    _require(actor, RECORD)
    today = clock.business_date()
    rows = await Loan.raw(
        _QUEUE_SQL,
        actor.institution_id,
        bucket,
        bucket,
        per_page,
        (page - 1) * per_page,
        today,
        today,
    )
    counts = {
        r["dpd_bucket"]: r["loans"]
        for r in await Loan.raw(_BUCKET_COUNTS_SQL, actor.institution_id)
    }
    return Queue(
        rows=tuple(
            QueueRow(
                loan_id=r["id"],
                reference=r["reference"],
                product_name=r["product_name"],
                dpd=r["dpd"],
                bucket=r["dpd_bucket"],
                bucket_label=_label(BUCKET_LABELS, r["dpd_bucket"]),
                amount_overdue=r["amount_overdue"],
                last_contact_at=r["last_contact_at"],
                contacts_today=r["contacts_today"],
            )
            for r in rows
        ),
        total=counts.get(bucket, 0) if bucket else sum(counts.values()),
        buckets=tuple(
            BucketCount(str(b), _(BUCKET_LABELS[b]), counts.get(str(b), 0)) for b in OVERDUE_BUCKETS
        ),
        rules=await contact_rules(),
    )


@dataclass(frozen=True)
class ContactView:
    contacted_at: datetime
    staff_name: str
    channel_label: str
    result_label: str
    note: str
    dpd: int


@dataclass(frozen=True)
class RefusalView:
    attempted_at: datetime
    contact_time: datetime
    institution_name: str
    loan_id: int
    staff_name: str
    reason: str
    reason_label: str


@dataclass(frozen=True)
class LoanCollection:
    loan_id: int
    reference: str
    product_name: str
    status: str
    dpd: int
    bucket_label: str
    amount_overdue: Decimal
    contacts: tuple[ContactView, ...]
    refusals: tuple[RefusalView, ...]
    contacts_today: int
    rules: ContactRules
    # Overdue now: a contact may be recorded (the verb checks again).
    can_record: bool


def channel_choices() -> list[tuple[str, str]]:
    return [(str(c), _(CHANNEL_LABELS[c])) for c in Channel]


def result_choices() -> list[tuple[str, str]]:
    return [(str(r), _(RESULT_LABELS[r])) for r in Result]


def _refusal_view(row: dict[str, Any]) -> RefusalView:
    return RefusalView(
        attempted_at=row["attempted_at"],
        contact_time=row["contact_time"],
        institution_name=row["institution_name"],
        loan_id=row["loan"],
        staff_name=row["staff_name"],
        reason=row["reason"],
        reason_label=_label(REFUSAL_LABELS, row["reason"]),
    )


def _refusal_columns() -> tuple[Any, ...]:
    return (
        CollectionRefusal.attempted_at,
        CollectionRefusal.contact_time,
        CollectionRefusal.loan,
        CollectionRefusal.reason,
        CollectionRefusal.institution.short_name.as_alias("institution_name"),
        CollectionRefusal.staff.display_name.as_alias("staff_name"),
    )


async def collection_loan(actor: Actor, loan_id: int) -> LoanCollection:
    """One of the actor's institution's loans with its contacts; another's is NotFound."""
    _require(actor, RECORD)
    today = clock.business_date()
    rows = await Loan.raw(
        f"""SELECT l.id, a.reference, p.name AS product_name, l.status, l.dpd, l.dpd_bucket,
                   due.amount AS amount_overdue, COALESCE(d.contacts, 0) AS contacts_today
            FROM loan l
            JOIN application a ON a.id = l.application
            JOIN product p ON p.id = l.product
            LEFT JOIN LATERAL ({_OVERDUE_AMOUNT}) due ON true
            LEFT JOIN collection_day d ON d.loan = l.id AND d.business_date = {{}}::date
            WHERE l.id = {{}} AND l.institution = {{}}""",  # noqa: S608
        today,
        today,
        loan_id,
        actor.institution_id,
    )
    if not rows:
        raise NotFound(_("找不到该贷款"))
    loan = rows[0]
    contacts = await (
        CollectionContact.select(
            CollectionContact.contacted_at,
            CollectionContact.channel,
            CollectionContact.result,
            CollectionContact.note_encrypted,
            CollectionContact.dpd,
            CollectionContact.staff.display_name.as_alias("staff_name"),
        )
        .where(CollectionContact.loan == loan_id)
        .order_by(CollectionContact.contacted_at, ascending=False)
        .order_by(CollectionContact.id, ascending=False)
    )
    refusals = await (
        CollectionRefusal.select(*_refusal_columns())
        .where(CollectionRefusal.loan == loan_id)
        .order_by(CollectionRefusal.id, ascending=False)
        .limit(RECENT_REFUSALS)
    )
    return LoanCollection(
        loan_id=loan["id"],
        reference=loan["reference"],
        product_name=loan["product_name"],
        status=loan["status"],
        dpd=loan["dpd"],
        bucket_label=_label(BUCKET_LABELS, loan["dpd_bucket"]),
        amount_overdue=loan["amount_overdue"],
        contacts=tuple(
            ContactView(
                contacted_at=c["contacted_at"],
                staff_name=c["staff_name"],
                channel_label=_label(CHANNEL_LABELS, c["channel"]),
                result_label=_label(RESULT_LABELS, c["result"]),
                note=decrypt_field(c["note_encrypted"], context=NOTE_CONTEXT)
                if c["note_encrypted"]
                else "",
                dpd=c["dpd"],
            )
            for c in contacts
        ),
        refusals=tuple(_refusal_view(r) for r in refusals),
        contacts_today=loan["contacts_today"],
        rules=await contact_rules(),
        can_record=loan["status"] == LoanStatus.OVERDUE,
    )


# ---- operators' oversight ---------------------------------------------------------------


@dataclass(frozen=True)
class OversightFilters:
    institution_id: int | None
    date_from: date
    date_to: date
    reason: str  # "" for every reason

    def as_query(self) -> dict[str, str]:
        query = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        if self.institution_id:
            query["institution"] = str(self.institution_id)
        if self.reason:
            query["reason"] = self.reason
        return query


def default_period(today: date | None = None) -> tuple[date, date]:
    end = today or clock.business_date()
    return end - timedelta(days=DEFAULT_PERIOD_DAYS - 1), end


def oversight_filters(
    institution_id: int | None, date_from: date | None, date_to: date | None, reason: str
) -> OversightFilters:
    """A period that makes sense whatever was typed: defaults for missing ends, swapped
    when reversed, at most MAX_PERIOD_DAYS long (counted back from its end)."""
    default_from, default_to = default_period()
    start, end = date_from or default_from, date_to or default_to
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=MAX_PERIOD_DAYS - 1))
    return OversightFilters(
        institution_id, start, end, reason if reason in reason_choices() else ""
    )


def reason_choices() -> list[str]:
    return [str(r) for r in RefusalReason]


@dataclass(frozen=True)
class InstitutionActivity:
    institution_id: int
    institution_name: str
    contacts: int
    loans_contacted: int
    refused_outside_hours: int
    refused_over_cap: int

    @property
    def refused(self) -> int:
        return self.refused_outside_hours + self.refused_over_cap

    @property
    def attempts(self) -> int:
        return self.contacts + self.refused

    @property
    def refused_share(self) -> Decimal:
        """Refused attempts over all attempts (recorded + refused), as a fraction."""
        if not self.attempts:
            return Decimal(0)
        return (Decimal(self.refused) / Decimal(self.attempts)).quantize(Decimal("0.0001"))


@dataclass(frozen=True)
class Oversight:
    filters: OversightFilters
    institutions: tuple[InstitutionActivity, ...]
    refusals: tuple[RefusalView, ...]
    institution_options: tuple[tuple[int, str], ...]

    @property
    def totals(self) -> InstitutionActivity:
        return InstitutionActivity(
            0,
            _("合计"),
            sum(i.contacts for i in self.institutions),
            sum(i.loans_contacted for i in self.institutions),
            sum(i.refused_outside_hours for i in self.institutions),
            sum(i.refused_over_cap for i in self.institutions),
        )


_ACTIVITY_SQL = f"""
WITH contacts AS (
    SELECT institution, count(*) AS contacts, count(DISTINCT loan) AS loans
    FROM collection_contact
    WHERE business_date BETWEEN {{}}::date AND {{}}::date
    GROUP BY institution
), refused AS (
    SELECT institution,
           count(*) FILTER (WHERE reason = '{RefusalReason.OUTSIDE_HOURS}') AS outside_hours,
           count(*) FILTER (WHERE reason = '{RefusalReason.OVER_CAP}') AS over_cap
    FROM collection_refusal
    WHERE business_date BETWEEN {{}}::date AND {{}}::date
      AND ({{}}::text = '' OR reason = {{}}::text)
    GROUP BY institution
)
SELECT i.id, i.short_name, COALESCE(c.contacts, 0) AS contacts,
       COALESCE(c.loans, 0) AS loans, COALESCE(r.outside_hours, 0) AS outside_hours,
       COALESCE(r.over_cap, 0) AS over_cap
FROM contacts c FULL JOIN refused r ON r.institution = c.institution
JOIN institution i ON i.id = COALESCE(c.institution, r.institution)
WHERE ({{}}::int IS NULL OR i.id = {{}}::int)
ORDER BY COALESCE(r.outside_hours, 0) + COALESCE(r.over_cap, 0) DESC,
         COALESCE(c.contacts, 0) DESC, i.id
"""  # noqa: S608


async def oversight(actor: Actor, filters: OversightFilters) -> Oversight:
    _require(actor, OVERSEE)
    rows = await CollectionContact.raw(
        _ACTIVITY_SQL,
        filters.date_from,
        filters.date_to,
        filters.date_from,
        filters.date_to,
        filters.reason,
        filters.reason,
        filters.institution_id,
        filters.institution_id,
    )
    refusals = await refusals_in(filters, limit=RECENT_REFUSALS)
    options = await Institution.select(Institution.id, Institution.short_name).order_by(
        Institution.short_name
    )
    return Oversight(
        filters=filters,
        institutions=tuple(
            InstitutionActivity(
                r["id"],
                r["short_name"],
                r["contacts"],
                r["loans"],
                r["outside_hours"],
                r["over_cap"],
            )
            for r in rows
        ),
        refusals=refusals,
        institution_options=tuple((o["id"], o["short_name"]) for o in options),
    )


async def refusals_in(filters: OversightFilters, *, limit: int) -> tuple[RefusalView, ...]:
    """The refused attempts the filters select, newest first."""
    where = (CollectionRefusal.business_date >= filters.date_from) & (
        CollectionRefusal.business_date <= filters.date_to
    )
    if filters.institution_id:
        where &= CollectionRefusal.institution == filters.institution_id
    if filters.reason:
        where &= CollectionRefusal.reason == filters.reason
    rows = await (
        CollectionRefusal.select(*_refusal_columns())
        .where(where)
        .order_by(CollectionRefusal.attempted_at, ascending=False)
        .order_by(CollectionRefusal.id, ascending=False)
        .limit(limit)
    )
    return tuple(_refusal_view(r) for r in rows)


# ---- notices ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeView:
    kind: str
    kind_label: str
    business_date: date
    due_on: date | None
    dpd: int
    sent_at: datetime


async def loan_notices(loan_id: int) -> tuple[NoticeView, ...]:
    """Reminders and overdue notices sent about one loan, newest first. The caller has
    already resolved the loan for its actor (borrower's own loan or the institution's)."""
    rows = await (
        LoanNotice.select()
        .where(LoanNotice.loan == loan_id)
        .order_by(LoanNotice.business_date, ascending=False)
        .order_by(LoanNotice.id, ascending=False)
    )
    return tuple(
        NoticeView(
            kind=r["kind"],
            kind_label=_label(NOTICE_LABELS, r["kind"]),
            business_date=r["business_date"],
            due_on=r["due_on"],
            dpd=r["dpd"],
            sent_at=r["sent_at"],
        )
        for r in rows
    )
