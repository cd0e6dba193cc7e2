"""An institution's decisions that need more than a button (PRODUCT.md I3): rejecting a lead
with a reason code, and the state side of asking the borrower for documents (the documents
context owns the request and the files, and calls the two verbs at the bottom inside its
own transaction).

What the borrower sees of a rejection: the reason's label, on their timeline and page.
The officer's note stays internal (lead page and audit only): officers write candidly
about a borrower, and a label from a fixed list is what a borrower can act on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marketplace.actors import Actor
from marketplace.applications.applicant import coded_list
from marketplace.applications.services import BulkMoveResult, _set_status, bulk_move_leads
from marketplace.applications.statuses import received_leads
from marketplace.applications.tables import Application
from marketplace.audit.services import record as audit
from marketplace.db import transaction
from marketplace.errors import NotFound, PermissionDenied
from marketplace.i18n import _
from marketplace.inbox.services import notify_borrower
from marketplace.parsing import FormReader, parse_choice, parse_text

# The officer's internal note on a rejection, and the reason they give for documents.
NOTE_MAX_LENGTH = 500


async def rejection_reasons() -> dict[str, str]:
    return await coded_list("rejection_reasons")


@dataclass(frozen=True)
class Rejection:
    reason: str  # a code of rejection_reasons
    label: str
    note: str  # internal


async def parse_rejection(data: Mapping[str, Any]) -> Rejection:
    """The reason must be one of the current codes; the note is optional and bounded."""
    reasons = await rejection_reasons()
    form = FormReader(data)
    reason = form.field("reason", parse_choice, "", choices=reasons, label=_("拒绝原因"))
    note = form.field(
        "internal_note",
        parse_text,
        "",
        label=_("内部备注"),
        max_length=NOTE_MAX_LENGTH,
        multiline=True,
    )
    form.raise_errors()
    return Rejection(reason=reason, label=reasons[reason], note=note)


async def reject_lead(actor: Actor, application_id: int, rejection: Rejection) -> None:
    """Reject one of the institution's own leads with a reason (another's is NotFound).
    The borrower's timeline gets the reason's label, as it read when they were told."""
    if not actor.can("lead.work"):
        raise PermissionDenied()
    async with transaction():
        row = await _locked(Application.id == application_id, received_leads(actor))
        await _set_status(row, "reject", actor, rejection.label)
        await Application.update(
            {
                Application.rejection_reason: rejection.reason,
                Application.rejection_note: rejection.note,
            }
        ).where(Application.id == application_id)
        await audit(
            actor,
            "lead.rejected",
            "application",
            application_id,
            reason=rejection.reason,
            note=rejection.note,
        )
        reference = row["reference"]
        await notify_borrower(
            row["borrower_id"],
            "application.rejected",
            _("您的申请（编号 {ref}）未获批准：{reason}", ref=reference, reason=rejection.label),
            f"/me/applications/{reference}",
            sms=_("【LoanMart】您的借款申请有新进展，请登录查看。"),
        )


async def bulk_reject_leads(
    actor: Actor, application_ids: list[int], rejection: Rejection
) -> BulkMoveResult:
    """The same reason for each lead, each in its own transaction (see bulk_move_leads)."""

    async def reject(actor: Actor, application_id: int) -> None:
        await reject_lead(actor, application_id, rejection)

    return await bulk_move_leads(actor, application_ids, "reject", move=reject)


@dataclass(frozen=True)
class LeadRef:
    id: int
    reference: str
    borrower_id: int
    institution_id: int
    assignee_id: int | None


_REF_COLUMNS = (
    Application.id,
    Application.status,
    Application.reference,
    Application.borrower.as_alias("borrower_id"),
    Application.institution.as_alias("institution_id"),
    Application.assignee.as_alias("assignee_id"),
)


def _ref(row: Mapping[str, Any]) -> LeadRef:
    return LeadRef(
        id=row["id"],
        reference=row["reference"],
        borrower_id=row["borrower_id"],
        institution_id=row["institution_id"],
        assignee_id=row["assignee_id"],
    )


async def _locked(*conditions: Any) -> Mapping[str, Any]:
    """The one application matching every condition, locked for this transaction."""
    where = conditions[0]
    for condition in conditions[1:]:
        where &= condition
    row = await Application.select(*_REF_COLUMNS).where(where).lock_rows().first()
    if row is None:
        raise NotFound(_("找不到该申请"))
    return row


async def mark_documents_requested(actor: Actor, application_id: int, reason: str) -> LeadRef:
    """Inside the caller's transaction: the lead (the actor's institution's) now waits on
    the borrower; the officer's reason goes on the timeline the borrower sees."""
    row = await _locked(Application.id == application_id, received_leads(actor))
    await _set_status(row, "request_documents", actor, reason)
    return _ref(row)


async def mark_documents_returned(actor: Actor, application_id: int) -> LeadRef:
    """Inside the caller's transaction: the borrower hands the lead back to the officer."""
    row = await _locked(Application.id == application_id, Application.borrower == actor.user_id)
    await _set_status(row, "return_documents", actor, _("借款人已补充资料"))
    return _ref(row)
