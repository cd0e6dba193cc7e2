"""Reconciliation read models: each row of a period's matching (the institution's current
report against the platform's loans, by application reference within the institution),
its summary, and the report history.

Matching is one set-based query, computed when read: a report or a loan changed since is
reflected at once. A reported reference is looked up among the institution's own loans
only, so another institution's reference is "missing on platform" and reveals nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marketplace.actors import Actor
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.institutions.tables import Institution
from marketplace.parsing import first, parse_text
from marketplace.reconciliation.ledger import (
    REFERENCE_MAX_LENGTH,
    next_period,
    normalise_reference,
    period_text,
)
from marketplace.reconciliation.statuses import (
    DISCREPANCY_MACHINE,
    OUTCOME_LABELS,
    SOURCE_LABELS,
    VIEW,
    DiscrepancyState,
    Outcome,
    ReportSource,
)
from marketplace.reconciliation.tables import DisbursementReport
from marketplace.statemachine import Actions

# Placeholders: institution, period, institution, period start, period end, institution,
# period. Loans of the month, and any loan of the institution a reported row names.
_MATCHING_SQL = """
WITH reported AS (
    SELECT r.application_reference AS reference, r.row_number, r.principal,
           r.disbursed_on, r.loan_number
    FROM reconciliation_row r
    JOIN reconciliation_report p ON p.id = r.report
    WHERE p.institution = {} AND p.period = {} AND p.is_current
),
platform AS (
    SELECT a.reference, l.id AS loan_id, a.id AS application_id, l.principal,
           l.disbursed_on
    FROM loan l JOIN application a ON a.id = l.application
    WHERE l.institution = {}
      AND ((l.disbursed_on >= {} AND l.disbursed_on < {})
           OR a.reference IN (SELECT reference FROM reported))
),
matched AS (
    SELECT COALESCE(r.reference, p.reference) AS reference, r.row_number,
           r.principal AS reported_principal, r.disbursed_on AS reported_on,
           COALESCE(r.loan_number, '') AS loan_number,
           p.loan_id, p.application_id, p.principal AS platform_principal,
           p.disbursed_on AS platform_on,
           CASE WHEN p.loan_id IS NULL THEN 'missing_on_platform'
                WHEN r.reference IS NULL THEN 'missing_in_report'
                WHEN r.principal <> p.principal THEN 'amount_differs'
                WHEN r.disbursed_on <> p.disbursed_on THEN 'date_differs'
                ELSE 'matched' END AS outcome
    FROM reported r FULL OUTER JOIN platform p ON p.reference = r.reference
),
fingerprinted AS (
    SELECT m.*, md5(concat_ws('|', m.outcome, m.reference, m.reported_principal,
                              m.reported_on, m.platform_principal, m.platform_on))
               AS fingerprint
    FROM matched m
)
SELECT f.*, res.id AS resolution_id, res.note, res.resolver_kind, res.resolver_label,
       res.created_at AS resolved_at
FROM fingerprinted f
LEFT JOIN reconciliation_resolution res
  ON res.institution = {} AND res.period = {}
 AND res.application_reference = f.reference AND res.fingerprint = f.fingerprint
"""

STATE_FILTERS = ("", "open", "resolved")
OUTCOME_FILTERS = ("", "discrepancies", *(str(outcome) for outcome in Outcome))


@dataclass(frozen=True)
class RowFilters:
    outcome: str = ""  # "" (all) | "discrepancies" | an Outcome
    state: str = ""  # "" | open | resolved
    reference: str = ""

    def as_query(self) -> dict[str, str]:
        return {"outcome": self.outcome, "state": self.state, "q": self.reference}


def outcome_choices() -> list[tuple[str, str]]:
    """The outcome filter's options: every discrepancy at once, then each outcome."""
    return [("discrepancies", _("全部差异"))] + [
        (str(outcome), _(label)) for outcome, label in OUTCOME_LABELS.items()
    ]


def state_choices() -> list[tuple[str, str]]:
    return [(str(state), DISCREPANCY_MACHINE.label(state)) for state in DiscrepancyState]


def parse_row_filters(params: Mapping[str, Any]) -> RowFilters:
    """Lenient, for query strings: an unknown value means no filter."""
    outcome = first(params.get("outcome")).strip()
    state = first(params.get("state")).strip()
    try:
        reference = normalise_reference(
            parse_text(params.get("q"), label="", max_length=REFERENCE_MAX_LENGTH)
        )
    except ValueError:
        reference = ""
    return RowFilters(
        outcome=outcome if outcome in OUTCOME_FILTERS else "",
        state=state if state in STATE_FILTERS else "",
        reference=reference,
    )


@dataclass(frozen=True)
class ReconciliationSummary:
    matched: int
    amount_differs: int
    date_differs: int
    missing_on_platform: int
    missing_in_report: int
    unresolved: int
    reported_at: datetime | None  # None: nothing reported for the period yet


@dataclass(frozen=True)
class ReconciliationRow:
    reference: str
    outcome: str
    outcome_label: str
    row_number: int | None  # the reported row's number; None when not reported
    reported_principal: Decimal | None
    reported_on: date | None
    loan_number: str
    loan_id: int | None
    application_id: int | None
    platform_principal: Decimal | None
    platform_on: date | None
    difference: Decimal | None  # reported − platform, when both have an amount
    state: str  # "" for a matched row, else a DiscrepancyState
    state_label: str
    note: str
    resolver_label: str
    resolved_at: datetime | None
    actions: Actions
    # Names the discrepancy (outcome and both sides' values) for its resolution.
    fingerprint: str

    @property
    def is_discrepancy(self) -> bool:
        return bool(self.state)

    @property
    def is_resolved(self) -> bool:
        return self.state == DiscrepancyState.RESOLVED


@dataclass(frozen=True)
class RowPage:
    rows: tuple[ReconciliationRow, ...]
    total: int


@dataclass(frozen=True)
class ReportVersion:
    id: int
    source: str
    source_label: str
    filename: str
    row_count: int
    submitted_label: str
    created_at: datetime
    is_current: bool
    replaced_at: datetime | None


def institution_in_view(actor: Actor, institution_id: int | None) -> int:
    """The institution whose reconciliation the actor may read: operators any existing
    one (checked by the caller with `institution_name`), everyone else only their own —
    another institution's is NotFound, not a refusal."""
    if not actor.can(VIEW):
        raise PermissionDenied()
    if actor.kind == "operator":
        if institution_id is None:
            raise NotFound(_("找不到该机构"))
        return institution_id
    if actor.institution_id is None or institution_id not in (None, actor.institution_id):
        raise NotFound()
    return actor.institution_id


async def institution_name(institution_id: int) -> str:
    row = await Institution.select(Institution.name).where(Institution.id == institution_id).first()
    if row is None:
        raise NotFound(_("找不到该机构"))
    return str(row["name"])


async def institution_options() -> list[tuple[int, str]]:
    """Every institution, for the operators' selector."""
    rows = await Institution.select(Institution.id, Institution.name).order_by(Institution.name)
    return [(row["id"], row["name"]) for row in rows]


async def _matching(
    institution_id: int, period: date, tail: str = "", *params: Any
) -> list[dict[str, Any]]:
    return await DisbursementReport.raw(
        f"SELECT * FROM ({_MATCHING_SQL}) rows {tail}",  # noqa: S608 - constants and {} only
        *_bounds(institution_id, period),
        *params,
    )


def _bounds(institution_id: int, period: date) -> tuple[Any, ...]:
    """The matching query's parameters, in its placeholders' order."""
    return (
        institution_id,
        period,
        institution_id,
        period,
        next_period(period),
        institution_id,
        period,
    )


def _where(filters: RowFilters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if filters.outcome == "discrepancies":
        clauses.append("outcome <> 'matched'")
    elif filters.outcome:
        clauses.append("outcome = {}")
        params.append(filters.outcome)
    if filters.state == "open":
        clauses.append("outcome <> 'matched' AND resolution_id IS NULL")
    elif filters.state == "resolved":
        clauses.append("resolution_id IS NOT NULL")
    if filters.reference:
        clauses.append("strpos(reference, {}) > 0")
        params.append(filters.reference)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _row(record: Mapping[str, Any], actor: Actor | None) -> ReconciliationRow:
    outcome = Outcome(record["outcome"])
    if outcome == Outcome.MATCHED:
        state = ""
    elif record["resolution_id"] is None:
        state = str(DiscrepancyState.OPEN)
    else:
        state = str(DiscrepancyState.RESOLVED)
    reported, platform = record["reported_principal"], record["platform_principal"]
    return ReconciliationRow(
        reference=record["reference"],
        outcome=str(outcome),
        outcome_label=_(OUTCOME_LABELS[outcome]),
        row_number=record["row_number"],
        reported_principal=reported,
        reported_on=record["reported_on"],
        loan_number=record["loan_number"],
        loan_id=record["loan_id"],
        application_id=record["application_id"],
        platform_principal=platform,
        platform_on=record["platform_on"],
        difference=reported - platform if reported is not None and platform is not None else None,
        state=state,
        state_label=DISCREPANCY_MACHINE.label(state) if state else "",
        note=record["note"] or "",
        resolver_label=record["resolver_label"] or "",
        resolved_at=record["resolved_at"],
        actions=(
            DISCREPANCY_MACHINE.actions(state, actor) if state and actor is not None else Actions()
        ),
        fingerprint=record["fingerprint"],
    )


# Open discrepancies first, then by the report's row order, the unreported last.
_ORDER = (
    "ORDER BY (outcome = 'matched'), (resolution_id IS NOT NULL),"
    " row_number NULLS LAST, platform_on, reference"
)


async def reconciliation_rows(
    actor: Actor,
    institution_id: int | None,
    period: date,
    filters: RowFilters,
    *,
    page: int = 1,
    per_page: int = 50,
) -> RowPage:
    """One page of the period's matching for pages and the API; another institution's
    (for institution staff and API clients) is NotFound."""
    institution = institution_in_view(actor, institution_id)
    await institution_name(institution)
    where, params = _where(filters)
    counted = await DisbursementReport.raw(
        f"SELECT count(*) AS n FROM ({_MATCHING_SQL}) rows {where}",  # noqa: S608
        *_bounds(institution, period),
        *params,
    )
    total = int(counted[0]["n"])
    records = await _matching(
        institution,
        period,
        f"{where} {_ORDER} LIMIT {int(per_page)} OFFSET {int(max(page - 1, 0) * per_page)}",
        *params,
    )
    return RowPage(rows=tuple(_row(record, actor) for record in records), total=total)


async def rows_for_export(
    actor: Actor, institution_id: int | None, period: date, filters: RowFilters, limit: int
) -> list[ReconciliationRow]:
    institution = institution_in_view(actor, institution_id)
    where, params = _where(filters)
    records = await _matching(institution, period, f"{where} {_ORDER} LIMIT {int(limit)}", *params)
    return [_row(record, None) for record in records]


async def discrepancy(institution_id: int, period: date, reference: str) -> ReconciliationRow:
    """The period's row for a reference (for the resolve verb); NotFound when none."""
    records = await _matching(institution_id, period, "WHERE reference = {}", reference)
    if not records:
        raise NotFound(_("找不到该对账记录"))
    return _row(records[0], None)


async def reconciliation_summary(institution_id: int, period: date) -> ReconciliationSummary:
    """Counts of the period's matching by outcome, the open discrepancies, and when the
    current report was submitted. `period` is the first day of the month. For the
    settlement pages: the caller has already decided the actor may see the institution."""
    records = await DisbursementReport.raw(
        f"""
        SELECT outcome, count(*) AS n,
               count(*) FILTER (WHERE outcome <> 'matched' AND resolution_id IS NULL) AS open
        FROM ({_MATCHING_SQL}) rows GROUP BY outcome
        """,  # noqa: S608 - constants and {} only
        *_bounds(institution_id, period.replace(day=1)),
    )
    counts = {record["outcome"]: int(record["n"]) for record in records}
    current = (
        await DisbursementReport.select(DisbursementReport.created_at)
        .where(
            (DisbursementReport.institution == institution_id)
            & (DisbursementReport.period == period.replace(day=1))
            & (DisbursementReport.is_current.eq(True))
        )
        .first()
    )
    return ReconciliationSummary(
        matched=counts.get(Outcome.MATCHED, 0),
        amount_differs=counts.get(Outcome.AMOUNT_DIFFERS, 0),
        date_differs=counts.get(Outcome.DATE_DIFFERS, 0),
        missing_on_platform=counts.get(Outcome.MISSING_ON_PLATFORM, 0),
        missing_in_report=counts.get(Outcome.MISSING_IN_REPORT, 0),
        unresolved=sum(int(record["open"]) for record in records),
        reported_at=current["created_at"] if current else None,
    )


async def report_history(institution_id: int, period: date) -> tuple[ReportVersion, ...]:
    """Every report submitted for the period, newest first."""
    rows = (
        await DisbursementReport.select()
        .where(
            (DisbursementReport.institution == institution_id)
            & (DisbursementReport.period == period)
        )
        .order_by(DisbursementReport.id, ascending=False)
    )
    return tuple(
        ReportVersion(
            id=row["id"],
            source=row["source"],
            source_label=_(SOURCE_LABELS[ReportSource(row["source"])]),
            filename=row["filename"],
            row_count=row["row_count"],
            submitted_label=row["submitted_label"],
            created_at=row["created_at"],
            is_current=row["is_current"],
            replaced_at=row["replaced_at"],
        )
        for row in rows
    )


async def reported_periods(institution_id: int, limit: int = 12) -> tuple[str, ...]:
    """The latest months the institution has a current report for, newest first."""
    rows = (
        await DisbursementReport.select(DisbursementReport.period)
        .where(
            (DisbursementReport.institution == institution_id)
            & (DisbursementReport.is_current.eq(True))
        )
        .order_by(DisbursementReport.period, ascending=False)
        .limit(limit)
    )
    return tuple(period_text(row["period"]) for row in rows)


@dataclass(frozen=True)
class ReconciliationView:
    institution_id: int
    institution_name: str
    period: date
    period_text: str
    summary: ReconciliationSummary
    page: RowPage
    history: tuple[ReportVersion, ...]
    reported_periods: tuple[str, ...]
    can_report: bool
    can_resolve: bool


async def reconciliation_view(
    actor: Actor,
    institution_id: int | None,
    period: date,
    filters: RowFilters,
    *,
    page: int = 1,
    per_page: int = 50,
) -> ReconciliationView:
    """Everything the console's and the admin's reconciliation pages show."""
    institution = institution_in_view(actor, institution_id)
    name = await institution_name(institution)
    return ReconciliationView(
        institution_id=institution,
        institution_name=name,
        period=period,
        period_text=period_text(period),
        summary=await reconciliation_summary(institution, period),
        page=await reconciliation_rows(
            actor, institution, period, filters, page=page, per_page=per_page
        ),
        history=await report_history(institution, period),
        reported_periods=await reported_periods(institution),
        can_report=actor.kind != "operator" and actor.can("reconciliation.report"),
        can_resolve=actor.can("reconciliation.resolve"),
    )
