"""The application's side of an offer (the offers context calls these inside its own
transaction, so the offer and the application change together or not at all): approving
by sending an offer, accepting by signing it, and the borrower's withdrawal."""

from __future__ import annotations

from typing import Any

from marketplace.actors import Actor
from marketplace.applications.services import _set_status
from marketplace.applications.statuses import ApplicationStatus, received_leads
from marketplace.applications.tables import Application
from marketplace.audit.services import record as audit
from marketplace.consents.services import withdraw_consent
from marketplace.errors import NotFound
from marketplace.i18n import _

LOCKED_COLUMNS = (
    Application.id,
    Application.status,
    Application.reference,
    Application.borrower,
    Application.institution,
    Application.product,
    Application.consent,
    Application.amount,
    Application.term_months,
    Application.assignee,
)


async def lock_lead(actor: Actor, application_id: int) -> dict[str, Any]:
    """One of the actor's institution's leads, row-locked (another's is NotFound)."""
    row = (
        await Application.select(*LOCKED_COLUMNS)
        .where((Application.id == application_id) & received_leads(actor))
        .lock_rows()
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    return row


async def lock_own_application(actor: Actor, application_id: int) -> dict[str, Any]:
    """One of the borrower's own applications, row-locked (anyone else's is NotFound)."""
    row = (
        await Application.select(*LOCKED_COLUMNS)
        .where((Application.id == application_id) & (Application.borrower == actor.user_id))
        .lock_rows()
        .first()
    )
    if row is None:
        raise NotFound(_("找不到该申请"))
    return row


async def approve_with_offer(
    actor: Actor, row: dict[str, Any], offer_id: int, summary: str
) -> None:
    """A locked lead (lock_lead) is approved: its offer (`summary` on both timelines) was
    just written."""
    await _set_status(row, "approve", actor, summary)
    await audit(actor, "lead.approved", "application", row["id"], offer_id=offer_id)


async def accept_offer(actor: Actor, row: dict[str, Any], offer_id: int) -> None:
    """A locked application (lock_own_application) is accepted: its offer was just signed."""
    await _set_status(row, "accept", actor, _("借款人已通过短信验证码签署借款合同"))
    await audit(actor, "application.accepted", "application", row["id"], offer_id=offer_id)


async def end_by_borrower(actor: Actor, row: dict[str, Any], note: str) -> ApplicationStatus:
    """The borrower ends a locked application before signing (withdrawing it, or declining
    its offer): no further data flows, so their consent for that institution is withdrawn
    too and the lead page stops showing their data."""
    target = await _set_status(row, "withdraw", actor, note)
    await withdraw_consent(actor, row["consent"])
    await audit(actor, "application.withdrawn", "application", row["id"], note=note)
    return target
