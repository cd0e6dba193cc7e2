"""The automatic flags: rules over the figures with thresholds from the system parameters.

- overdue rate: strictly above `monitoring_overdue_rate_max`, with at least
  `monitoring_overdue_min_loans` loans in force (products and institutions);
- complaint rate: strictly above `monitoring_complaint_rate_max`, with at least
  `monitoring_complaint_min_applications` applications — not where complaints are not
  counted (see figures);
- actual APR above the listing: at least one offer in the window above the product's
  listed maximum by more than `monitoring_apr_tolerance` (products).

Evaluating is idempotent: a hit opens a case only when none is unresolved for the same
subject and rule (the database holds that key), so the hourly run, a rerun or two runs at
once open each case once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from marketplace import outbox
from marketplace.db import transaction
from marketplace.institutions.statuses import InstitutionStatus
from marketplace.monitoring.figures import Figures, figures
from marketplace.monitoring.services import open_case
from marketplace.monitoring.statuses import Rule, Subject
from marketplace.outbox.tables import OutboxMessage, OutboxStatus
from marketplace.parameters.services import DEFAULTS, get_parameters
from marketplace.products.statuses import ProductStatus

JOB = "monitoring.evaluate"
# Subjects still worth a case: a delisted product or a closed institution is not.
_LIVE = {
    Subject.PRODUCT: (ProductStatus.LISTED, ProductStatus.PAUSED),
    Subject.INSTITUTION: (InstitutionStatus.ACTIVE,),
}


@dataclass(frozen=True)
class Thresholds:
    window_days: int
    overdue_rate_max: Decimal
    overdue_min_loans: int
    complaint_rate_max: Decimal
    complaint_min_applications: int
    apr_tolerance: Decimal


def _decimal(values: dict[str, Any], key: str) -> Decimal:
    """A stored fraction; a malformed override falls back to the default, never a crash."""
    for raw in (values[key], DEFAULTS[key]):
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            continue
        if number.is_finite() and number >= 0:
            return number
    return Decimal(str(DEFAULTS[key]))


def _count(values: dict[str, Any], key: str) -> int:
    raw = values[key]
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0 else DEFAULTS[key]


async def thresholds() -> Thresholds:
    keys = (
        "monitoring_window_days",
        "monitoring_overdue_rate_max",
        "monitoring_overdue_min_loans",
        "monitoring_complaint_rate_max",
        "monitoring_complaint_min_applications",
        "monitoring_apr_tolerance",
    )
    values = await get_parameters(*keys)
    return Thresholds(
        window_days=max(1, _count(values, "monitoring_window_days")),
        overdue_rate_max=_decimal(values, "monitoring_overdue_rate_max"),
        overdue_min_loans=max(1, _count(values, "monitoring_overdue_min_loans")),
        complaint_rate_max=_decimal(values, "monitoring_complaint_rate_max"),
        complaint_min_applications=max(1, _count(values, "monitoring_complaint_min_applications")),
        apr_tolerance=_decimal(values, "monitoring_apr_tolerance"),
    )


def hits(row: Figures, limits: Thresholds) -> dict[Rule, dict[str, object]]:
    """The rules this subject breaks, each with the figures that show it."""
    found: dict[Rule, dict[str, object]] = {}
    rate = row.overdue_rate
    if (
        rate is not None
        and row.in_force >= limits.overdue_min_loans
        and rate > limits.overdue_rate_max
    ):
        found[Rule.OVERDUE_RATE] = {
            "overdue": row.overdue,
            "in_force": row.in_force,
            "rate": str(rate.quantize(Decimal("0.0001"))),
            "threshold": str(limits.overdue_rate_max),
            "min_loans": limits.overdue_min_loans,
        }
    complaint_rate = row.complaint_rate
    if (
        complaint_rate is not None
        and row.applications >= limits.complaint_min_applications
        and complaint_rate > limits.complaint_rate_max
    ):
        found[Rule.COMPLAINT_RATE] = {
            "complaints": row.complaints,
            "applications": row.applications,
            "rate": str(complaint_rate.quantize(Decimal("0.0001"))),
            "threshold": str(limits.complaint_rate_max),
        }
    if row.subject is Subject.PRODUCT and row.offers_above > 0:
        found[Rule.APR_ABOVE_LISTING] = {
            "offers": row.offers,
            "offers_above": row.offers_above,
            "actual_apr_max": str(row.actual_apr_max),
            "listed_apr_max": str(row.listed_apr_max),
            "tolerance": str(limits.apr_tolerance),
        }
    return found


async def evaluate() -> int:
    """Run every rule over every live product and institution; returns the cases opened."""
    limits = await thresholds()
    opened = 0
    for subject in (Subject.PRODUCT, Subject.INSTITUTION):
        rows = await figures(subject, limits.window_days, apr_tolerance=limits.apr_tolerance)
        for row in rows:
            if row.status not in _LIVE[subject]:
                continue
            for rule, shown in hits(row, limits).items():
                shown = {**shown, "window_days": limits.window_days}
                case_id = await open_case(subject, row.subject_id, row.institution_id, rule, shown)
                opened += case_id is not None
    return opened


async def schedule_evaluation() -> bool:
    """The hourly cron: record an evaluation in the outbox unless one is still pending."""
    async with transaction():
        pending = await OutboxMessage.exists().where(
            (OutboxMessage.job == JOB) & (OutboxMessage.status == OutboxStatus.PENDING)
        )
        if pending:
            return False
        await outbox.record(JOB)
    return True
