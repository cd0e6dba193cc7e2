"""Read models: a borrower's applications and an institution's leads."""

from __future__ import annotations

import json

from marketplace.actors import Actor
from marketplace.applications.services import SHARED_DATA_CONTEXT
from marketplace.applications.statuses import STATUS_LABELS, TIMELINE_PATH
from marketplace.applications.tables import Application, ApplicationEvent
from marketplace.errors import NotFound
from marketplace.i18n import _
from marketplace.products.catalog import EMPLOYMENT_TYPES
from marketplace.security import decrypt_field, mask_id_number, mask_mobile

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


def _with_label(row: dict) -> dict:
    return {**row, "status_label": _(STATUS_LABELS.get(row["status"], row["status"]))}


async def borrower_applications(actor: Actor) -> list[dict]:
    rows = (
        await Application.select(*LIST_COLUMNS)
        .where(Application.borrower == actor.user_id)
        .order_by(Application.submitted_at, ascending=False)
    )
    return [_with_label(row) for row in rows]


async def _events(application_id: int) -> list[dict]:
    return (
        await ApplicationEvent.select(
            ApplicationEvent.status, ApplicationEvent.note, ApplicationEvent.at
        )
        .where(ApplicationEvent.application == application_id)
        .order_by(ApplicationEvent.at)
    )


def timeline(status: str, events: list[dict]) -> list[dict]:
    """Past steps with their times, then the steps still ahead on the normal path."""
    steps = [
        {
            "status": e["status"],
            "label": _(STATUS_LABELS[e["status"]]),
            "at": e["at"],
            "note": e["note"],
            "done": True,
            "current": False,
        }
        for e in events
    ]
    if steps:
        steps[-1]["current"] = True
    reached = {e["status"] for e in events}
    if status in TIMELINE_PATH:
        for future in TIMELINE_PATH[TIMELINE_PATH.index(status) + 1 :]:
            if future not in reached:
                steps.append(
                    {
                        "status": future,
                        "label": _(STATUS_LABELS[future]),
                        "at": None,
                        "note": "",
                        "done": False,
                        "current": False,
                    }
                )
    return steps


async def borrower_application(actor: Actor, reference: str) -> dict:
    row = (
        await Application.select(*LIST_COLUMNS)
        .where((Application.reference == reference) & (Application.borrower == actor.user_id))
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    events = await _events(row["id"])
    return {**_with_label(row), "timeline": timeline(row["status"], events)}


async def institution_leads(
    actor: Actor, *, status: str | None = None, page: int = 1, per_page: int = 20
) -> tuple[list[dict], int]:
    # Undelivered applications are not the institution's yet.
    condition = (Application.institution == actor.institution_id) & (
        Application.status != "submitted"
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
        shared = _shared(row.pop("shared_data_encrypted"))
        leads.append(
            {
                **_with_label(row),
                "city": shared["city"],
                "applicant": shared["real_name"][:1] + "**",
            }
        )
    return leads, total


def _shared(token: str) -> dict:
    return json.loads(decrypt_field(token, context=SHARED_DATA_CONTEXT))


async def institution_lead(actor: Actor, application_id: int) -> dict:
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
            & (Application.status != "submitted")
        )
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    token = row.pop("shared_data_encrypted")
    withdrawn = row["consent_withdrawn_at"] is not None
    applicant = {}
    if not withdrawn:
        shared = _shared(token)
        applicant = {
            "real_name": shared["real_name"],
            "id_number_masked": mask_id_number(shared["id_number"]),
            "mobile_masked": mask_mobile(shared["mobile"]) if shared["mobile"] else "",
            "city": shared["city"],
            "employment_type": _(EMPLOYMENT_TYPES.get(shared["employment_type"], "")),
            "monthly_income": shared["monthly_income"],
        }
    events = await _events(row["id"])
    return {
        **_with_label(row),
        "applicant": applicant,
        "consent_withdrawn": withdrawn,
        "timeline": timeline(row["status"], events),
    }


async def institution_lead_counts(actor: Actor) -> dict[str, int]:
    rows = await Application.raw(
        "SELECT status, count(*) AS n FROM application "
        "WHERE institution = {} AND status <> 'submitted' GROUP BY status",
        actor.institution_id,
    )
    counts = {row["status"]: row["n"] for row in rows}
    return {"total": sum(counts.values()), **counts}
