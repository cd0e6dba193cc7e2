"""Reconciliation verbs: an institution submits its disbursement ledger for a month (a
file, the Open API's batch, or one row by form), and staff or operators resolve a
discrepancy with a note. Each verb: permission → transaction → lock → write → audit row.

Submitting takes a transaction-scoped advisory lock per institution, so parallel
submissions for a period run one after the other and leave exactly one current report
(the partial unique index refuses a second one whatever happens)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from marketplace.actors import Actor
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import InvalidTransition, PermissionDenied, ValidationFailed
from marketplace.i18n import _
from marketplace.parsing import parse_text
from marketplace.reconciliation.ledger import (
    MAX_ROWS,
    ReportRow,
    current_period,
    period_text,
)
from marketplace.reconciliation.queries import discrepancy, institution_in_view
from marketplace.reconciliation.statuses import (
    DISCREPANCY_MACHINE,
    REPORT,
    RESOLVE,
    DiscrepancyState,
    ReportSource,
)
from marketplace.reconciliation.tables import (
    DisbursementReport,
    DiscrepancyResolution,
    ReportedDisbursement,
)

NOTE_MAX_LENGTH = 500
# pg_advisory_xact_lock(namespace, institution): one submission at a time per institution.
_LOCK_NAMESPACE = 0x7265_6300  # "rec\0"
_INSERT_CHUNK = 1000


@dataclass(frozen=True)
class Submitted:
    report_id: int
    rows: int
    replaced_report_id: int | None


def _reporting_institution(actor: Actor, period: date) -> int:
    if not actor.can(REPORT) or actor.institution_id is None:
        raise PermissionDenied()
    if period.day != 1 or period > current_period():
        raise ValidationFailed({"period": _("对账月份不能晚于本月")})
    return actor.institution_id


async def _lock(institution_id: int) -> None:
    await DisbursementReport.raw(
        "SELECT pg_advisory_xact_lock({}, {})", _LOCK_NAMESPACE, institution_id
    )


async def _current(institution_id: int, period: date) -> int | None:
    row = (
        await DisbursementReport.select(DisbursementReport.id)
        .where(
            (DisbursementReport.institution == institution_id)
            & (DisbursementReport.period == period)
            & (DisbursementReport.is_current.eq(True))
        )
        .first()
    )
    return row["id"] if row else None


def _submitter(actor: Actor) -> dict[str, Any]:
    return {
        "submitted_by": actor.user_id if actor.kind in ("staff", "operator") else None,
        "submitted_label": actor.label[:100],
    }


async def _insert_rows(report_id: int, rows: Sequence[ReportRow]) -> None:
    for start in range(0, len(rows), _INSERT_CHUNK):
        await ReportedDisbursement.insert(
            *(
                ReportedDisbursement(
                    report=report_id,
                    row_number=row.number,
                    application_reference=row.application_reference,
                    principal=row.principal,
                    disbursed_on=row.disbursed_on,
                    loan_number=row.loan_number,
                )
                for row in rows[start : start + _INSERT_CHUNK]
            )
        )


async def submit_report(
    actor: Actor,
    period: date,
    rows: Sequence[ReportRow],
    *,
    source: ReportSource,
    filename: str = "",
) -> Submitted:
    """The institution's ledger for `period`, whole: it becomes the period's current
    report and the one it replaces stays as history. The rows were checked by
    `ledger.check_rows` (a file with any bad row never gets here)."""
    institution = _reporting_institution(actor, period)
    if len(rows) > MAX_ROWS:
        raise ValidationFailed({"rows": _("每个月份最多 {n} 行", n=MAX_ROWS)})
    if len({row.application_reference for row in rows}) != len(rows):
        raise ValidationFailed({"rows": _("申请编号不能重复")})
    async with transaction():
        await _lock(institution)
        replaced = await _current(institution, period)
        if replaced is not None:
            await DisbursementReport.raw(
                "UPDATE reconciliation_report SET is_current = false, replaced_at = now()"
                " WHERE id = {}",
                replaced,
            )
        inserted = await DisbursementReport.insert(
            DisbursementReport(
                institution=institution,
                period=period,
                source=source,
                filename=filename[:100],
                row_count=len(rows),
                is_current=True,
                **_submitter(actor),
            )
        ).returning(DisbursementReport.id)
        report_id: int = inserted[0]["id"]
        await _insert_rows(report_id, rows)
        await audit(
            actor,
            "reconciliation.submit",
            "reconciliation_report",
            report_id,
            period=period_text(period),
            source=str(source),
            rows=len(rows),
            replaced=replaced,
            filename=filename[:100],
        )
    return Submitted(report_id=report_id, rows=len(rows), replaced_report_id=replaced)


async def save_row(actor: Actor, period: date, row: ReportRow) -> int:
    """Add one row to the period's current report, or correct the row of the same
    reference (a period with no report yet starts one). Returns the report id."""
    institution = _reporting_institution(actor, period)
    async with transaction():
        await _lock(institution)
        report_id = await _current(institution, period)
        if report_id is None:
            inserted = await DisbursementReport.insert(
                DisbursementReport(
                    institution=institution,
                    period=period,
                    source=ReportSource.FORM,
                    is_current=True,
                    **_submitter(actor),
                )
            ).returning(DisbursementReport.id)
            report_id = int(inserted[0]["id"])
        existing = (
            await ReportedDisbursement.select()
            .where(
                (ReportedDisbursement.report == report_id)
                & (ReportedDisbursement.application_reference == row.application_reference)
            )
            .first()
        )
        if existing is None:
            count = await ReportedDisbursement.count().where(
                ReportedDisbursement.report == report_id
            )
            if count >= MAX_ROWS:
                raise ValidationFailed({"rows": _("每个月份最多 {n} 行", n=MAX_ROWS)})
            numbers = await ReportedDisbursement.raw(
                "SELECT COALESCE(max(row_number), 0) + 1 AS n FROM reconciliation_row"
                " WHERE report = {}",
                report_id,
            )
            await ReportedDisbursement.insert(
                ReportedDisbursement(
                    report=report_id,
                    row_number=int(numbers[0]["n"]),
                    application_reference=row.application_reference,
                    principal=row.principal,
                    disbursed_on=row.disbursed_on,
                    loan_number=row.loan_number,
                )
            )
            await DisbursementReport.update({DisbursementReport.row_count: count + 1}).where(
                DisbursementReport.id == report_id
            )
            before = None
        else:
            await ReportedDisbursement.update(
                {
                    ReportedDisbursement.principal: row.principal,
                    ReportedDisbursement.disbursed_on: row.disbursed_on,
                    ReportedDisbursement.loan_number: row.loan_number,
                    ReportedDisbursement.updated_at: datetime.now(UTC),
                }
            ).where(ReportedDisbursement.id == existing["id"])
            before = {
                "principal": str(existing["principal"]),
                "disbursed_on": existing["disbursed_on"].isoformat(),
                "loan_number": existing["loan_number"],
            }
        await audit(
            actor,
            "reconciliation.row",
            "reconciliation_report",
            report_id,
            period=period_text(period),
            reference=row.application_reference,
            principal=str(row.principal),
            disbursed_on=row.disbursed_on.isoformat(),
            loan_number=row.loan_number,
            before=before,
        )
    return report_id


def parse_note(raw: object) -> str:
    return parse_text(
        raw, label=_("处理说明"), max_length=NOTE_MAX_LENGTH, min_length=1, multiline=True
    )


async def resolve_discrepancy(
    actor: Actor, institution_id: int | None, period: date, reference: str, note: str
) -> int:
    """Mark the period's discrepancy of `reference` resolved with a note (institution staff
    for their own institution, operators for any). A matched row has nothing to resolve;
    a resolved one is resolved once. Returns the resolution id."""
    if not actor.can(RESOLVE):
        raise PermissionDenied()
    institution = institution_in_view(actor, institution_id)
    async with transaction():
        await _lock(institution)
        row = await discrepancy(institution, period, reference)
        if not row.state:
            raise InvalidTransition(_("该记录双方一致，无需处理"))
        DISCREPANCY_MACHINE.target(row.state, "resolve", actor)
        inserted = await DiscrepancyResolution.raw(
            """
            INSERT INTO reconciliation_resolution
                (institution, period, application_reference, outcome, fingerprint, note,
                 resolved_by, resolver_kind, resolver_label, created_at)
            VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, now())
            ON CONFLICT DO NOTHING RETURNING id
            """,
            institution,
            period,
            row.reference,
            row.outcome,
            row.fingerprint,
            note,
            actor.user_id if actor.kind in ("staff", "operator") else None,
            actor.kind[:10],
            actor.label[:100],
        )
        if not inserted:
            raise InvalidTransition(
                _(
                    "当前状态不能执行该操作（现为“{state}”），请刷新页面查看最新状态",
                    state=DISCREPANCY_MACHINE.label(DiscrepancyState.RESOLVED),
                )
            )
        resolution_id: int = inserted[0]["id"]
        await audit(
            actor,
            "reconciliation.resolve",
            "reconciliation_resolution",
            resolution_id,
            institution=institution,
            period=period_text(period),
            reference=row.reference,
            outcome=row.outcome,
        )
    return resolution_id


async def record_export(
    actor: Actor, institution_id: int, period: date, filters: dict[str, str], rows: int, fmt: str
) -> None:
    async with transaction():
        await audit(
            actor,
            "reconciliation.export",
            "reconciliation_report",
            "-",
            institution=institution_id,
            period=period_text(period),
            filters=filters,
            rows=rows,
            format=fmt,
        )
