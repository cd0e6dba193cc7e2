"""Read models: a borrower's applications and an institution's leads.

Typed and frozen; labels are translated here, where they are read for a page, never stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from marketplace.actors import Actor
from marketplace.applications.services import SHARED_DATA_CONTEXT
from marketplace.applications.statuses import (
    APPLICATION_MACHINE,
    IN_PROGRESS_STATUSES,
    LEAD_STATUSES,
    NEGATIVE_STATUSES,
    POSITIVE_STATUSES,
    TIMELINE_PATH,
    ApplicationStatus,
)
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.errors import NotFound
from marketplace.i18n import N_, _
from marketplace.products.catalog import EMPLOYMENT_TYPES
from marketplace.security import decrypt_field, mask_id_number, mask_mobile
from marketplace.statemachine import Actions

LIST_COLUMNS = (
    Application.id,
    Application.reference,
    Application.amount,
    Application.term_months,
    Application.status,
    Application.submitted_at,
    Application.updated_at,
    Application.product.id.as_alias("product_id"),
    Application.product.name.as_alias("product_name"),
    Application.institution.short_name.as_alias("institution_name"),
)


@dataclass(frozen=True, kw_only=True)
class ApplicationSummary:
    """One row of a list of applications (the borrower's or the institution's)."""

    id: int
    reference: str
    amount: Decimal
    term_months: int
    status: ApplicationStatus
    status_label: str
    submitted_at: datetime
    updated_at: datetime
    product_id: int
    product_name: str
    institution_name: str


def _summary_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    status = APPLICATION_MACHINE.state(row["status"])
    return {
        **{key: row[key] for key in ApplicationSummary.__dataclass_fields__ if key in row},
        "status": status,
        "status_label": APPLICATION_MACHINE.label(status),
    }


@dataclass(frozen=True, kw_only=True)
class TimelineStep:
    status: ApplicationStatus
    label: str
    at: datetime | None
    note: str
    done: bool
    current: bool
    tone: str  # "approved" | "rejected" | "upcoming" | "": how the step is drawn


@dataclass(frozen=True, kw_only=True)
class ApplicationDetail(ApplicationSummary):
    timeline: tuple[TimelineStep, ...]
    # Still waiting on the institution or the system: the borrower's page keeps refreshing.
    in_progress: bool


@dataclass(frozen=True, kw_only=True)
class LeadSummary(ApplicationSummary):
    city: str
    applicant: str  # surname and stars: enough to tell leads apart in a list


@dataclass(frozen=True, kw_only=True)
class Applicant:
    """What the borrower consented to share, identity and contact numbers masked."""

    real_name: str
    id_number_masked: str
    mobile_masked: str
    city: str
    employment_type: str
    monthly_income: Decimal


@dataclass(frozen=True, kw_only=True)
class LeadDetail(ApplicationSummary):
    product_version: int | None
    consent_granted_at: datetime | None
    consent_withdrawn: bool
    notice_version: str | None
    applicant: Applicant | None  # None once consent is withdrawn
    timeline: tuple[TimelineStep, ...]
    actions: Actions  # what this staff member may do with the lead now


async def borrower_applications(actor: Actor) -> list[ApplicationSummary]:
    rows = (
        await Application.select(*LIST_COLUMNS)
        .where(Application.borrower == actor.user_id)
        .order_by(Application.submitted_at, ascending=False)
    )
    return [ApplicationSummary(**_summary_fields(row)) for row in rows]


async def _events(application_id: int) -> list[dict]:
    return (
        await ApplicationEvent.select(
            ApplicationEvent.status, ApplicationEvent.note, ApplicationEvent.at
        )
        .where(ApplicationEvent.application == application_id)
        .order_by(ApplicationEvent.at, ApplicationEvent.id)
    )


def _tone(status: ApplicationStatus) -> str:
    if status in POSITIVE_STATUSES:
        return "approved"
    if status in NEGATIVE_STATUSES:
        return "rejected"
    return ""


def timeline(status: str, events: list[dict]) -> tuple[TimelineStep, ...]:
    """Past steps with their times, then the steps still ahead on the normal path."""
    past = [APPLICATION_MACHINE.state(e["status"]) for e in events]
    steps = [
        TimelineStep(
            status=state,
            label=APPLICATION_MACHINE.label(state),
            at=e["at"],
            note=e["note"],
            done=True,
            current=i == len(events) - 1,
            tone=_tone(state),
        )
        for i, (state, e) in enumerate(zip(past, events, strict=True))
    ]
    current = APPLICATION_MACHINE.state(status)
    if current in TIMELINE_PATH:
        for future in TIMELINE_PATH[TIMELINE_PATH.index(current) + 1 :]:
            if future not in past:
                steps.append(
                    TimelineStep(
                        status=future,
                        label=APPLICATION_MACHINE.label(future),
                        at=None,
                        note="",
                        done=False,
                        current=False,
                        tone="upcoming",
                    )
                )
    return tuple(steps)


async def borrower_application(actor: Actor, reference: str) -> ApplicationDetail:
    row = (
        await Application.select(*LIST_COLUMNS)
        .where((Application.reference == reference) & (Application.borrower == actor.user_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    events = await _events(row["id"])
    return ApplicationDetail(
        **_summary_fields(row),
        timeline=timeline(row["status"], events),
        in_progress=row["status"] in IN_PROGRESS_STATUSES,
    )


def lead_status_labels() -> dict[str, str]:
    """The statuses an institution can filter its leads by, translated."""
    return {str(status): APPLICATION_MACHINE.label(status) for status in LEAD_STATUSES}


async def institution_leads(
    actor: Actor, *, status: str | None = None, page: int = 1, per_page: int = 20
) -> tuple[list[LeadSummary], int]:
    # Undelivered applications are not the institution's yet.
    condition = (Application.institution == actor.institution_id) & (
        Application.status != ApplicationStatus.SUBMITTED
    )
    if status:
        condition &= Application.status == status
    total = await Application.count().where(condition)
    rows = (
        await Application.select(*LIST_COLUMNS, Application.shared_data_encrypted)
        .where(condition)
        .order_by(Application.submitted_at, ascending=False)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    leads = []
    for row in rows:
        shared = _shared(row["shared_data_encrypted"])
        leads.append(
            LeadSummary(
                **_summary_fields(row),
                city=shared["city"],
                applicant=shared["real_name"][:1] + "**",
            )
        )
    return leads, total


def _shared(token: str) -> dict:
    return json.loads(decrypt_field(token, context=SHARED_DATA_CONTEXT))


async def institution_lead(actor: Actor, application_id: int) -> LeadDetail:
    """One lead, scoped to the actor's institution, showing only consented data.

    Identity and contact numbers stay masked; revealing them is a separate audited act."""
    row = (
        await Application.select(
            *LIST_COLUMNS,
            Application.shared_data_encrypted,
            Application.product_version,
            Application.consent.withdrawn_at.as_alias("consent_withdrawn_at"),
            Application.consent.granted_at.as_alias("consent_granted_at"),
            Application.consent.notice_version.as_alias("notice_version"),
        )
        .where(
            (Application.id == application_id)
            & (Application.institution == actor.institution_id)
            & (Application.status != ApplicationStatus.SUBMITTED)
        )
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    withdrawn = row["consent_withdrawn_at"] is not None
    applicant = None
    if not withdrawn:
        shared = _shared(row["shared_data_encrypted"])
        applicant = Applicant(
            real_name=shared["real_name"],
            id_number_masked=mask_id_number(shared["id_number"]),
            mobile_masked=mask_mobile(shared["mobile"]) if shared["mobile"] else "",
            city=shared["city"],
            employment_type=_(EMPLOYMENT_TYPES.get(shared["employment_type"], "")),
            monthly_income=Decimal(shared["monthly_income"]),
        )
    events = await _events(row["id"])
    return LeadDetail(
        **_summary_fields(row),
        product_version=row["product_version"],
        consent_granted_at=row["consent_granted_at"],
        consent_withdrawn=withdrawn,
        notice_version=row["notice_version"],
        applicant=applicant,
        timeline=timeline(row["status"], events),
        actions=APPLICATION_MACHINE.actions(row["status"], actor),
    )


@dataclass(frozen=True, kw_only=True)
class LeadTile:
    """One figure of the console dashboard, linking to the leads it counts."""

    status: str  # the lead list's filter value; "" for all leads
    label: str
    n: int
    needs_attention: bool  # leads nobody has started on


@dataclass(frozen=True, kw_only=True)
class LeadCounts:
    total: int
    waiting: int  # delivered, not yet taken up
    waiting_status: str  # the lead list's filter value for those
    tiles: tuple[LeadTile, ...]


# The dashboard's figures, in the institution's words: a delivered lead is work waiting.
DASHBOARD_TILES: tuple[tuple[ApplicationStatus, str], ...] = (
    (ApplicationStatus.DELIVERED, N_("待处理")),
    (ApplicationStatus.REVIEWING, N_("审核中")),
    (ApplicationStatus.APPROVED, N_("已批复")),
    (ApplicationStatus.REJECTED, N_("已拒绝")),
)


async def institution_lead_counts(actor: Actor) -> LeadCounts | None:
    """None for a role that may not see leads (nothing is counted for it)."""
    if not actor.can("lead.view"):
        return None
    rows = await Application.raw(
        "SELECT status, count(*) AS n FROM application "
        "WHERE institution = {} AND status <> {} GROUP BY status",
        actor.institution_id,
        ApplicationStatus.SUBMITTED.value,
    )
    counts = {row["status"]: row["n"] for row in rows}
    total = sum(counts.values())
    waiting = ApplicationStatus.DELIVERED
    return LeadCounts(
        total=total,
        waiting=counts.get(waiting, 0),
        waiting_status=waiting.value,
        tiles=(
            LeadTile(status="", label=_("全部线索"), n=total, needs_attention=False),
            *(
                LeadTile(
                    status=status.value,
                    label=_(label),
                    n=counts.get(status, 0),
                    needs_attention=status is waiting and counts.get(status, 0) > 0,
                )
                for status, label in DASHBOARD_TILES
            ),
        ),
    )
