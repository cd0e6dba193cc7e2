"""The application lifecycle (PRODUCT.md §5) and its one transition table.

Boundary: an application is the borrower's request to one institution. It ends at the
institution's decision (approved / rejected), at the borrower's withdrawal, and, once
offers exist, at the borrower's acceptance of an approved offer (accepted: the state is
declared, the flow comes with the offers context). What happens to the money afterwards
(signed → disbursed → repaying → settled / overdue) is a loan, its own aggregate in its own
context; none of those states belong here.

    submitted ──deliver──▶ delivered ──review──▶ reviewing ──approve──▶ approved ──accept──▶ accepted
        │                      │                     │
        ├─withdraw─▶ withdrawn └──reject──▶ rejected ◀┘
        └─refuse_delivery─▶ not_delivered  (the delivery gate said no: paused, caps, filters)
                               │                     ▲│
                               │   return_documents ─┘│ request_documents
                               └──request_documents──▶ documents_requested

A rejection carries a reason code (the system parameter `rejection_reasons`); asking for
documents waits on the borrower, who uploads them (documents context) and hands the lead
back with return_documents.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from marketplace.applications.tables import Application
from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition

if TYPE_CHECKING:
    from marketplace.actors import Actor


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    REVIEWING = "reviewing"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    ACCEPTED = "accepted"
    DOCUMENTS_REQUESTED = "documents_requested"
    NOT_DELIVERED = "not_delivered"


S = ApplicationStatus

STATUS_LABELS: dict[ApplicationStatus, str] = {
    S.SUBMITTED: N_("已提交"),
    S.DELIVERED: N_("机构已接收"),
    S.REVIEWING: N_("审核中"),
    S.APPROVED: N_("已批复"),
    S.REJECTED: N_("已拒绝"),
    S.WITHDRAWN: N_("已撤回"),
    S.ACCEPTED: N_("已签约"),
    S.DOCUMENTS_REQUESTED: N_("待补充资料"),
    S.NOT_DELIVERED: N_("未送达"),
}

# Delivery is the system's step ("application.deliver"); it withdraws the application
# instead when the borrower has withdrawn consent before it reached the institution.
# "application.accept" is granted with the offers context, which brings the verb.
APPLICATION_MACHINE: StateMachine[ApplicationStatus] = StateMachine(
    ApplicationStatus,
    STATUS_LABELS,
    {
        S.SUBMITTED: {
            "deliver": Transition(S.DELIVERED, "application.deliver", N_("交付机构")),
            "withdraw": Transition(S.WITHDRAWN, "application.deliver", N_("撤回"), "danger"),
            "refuse_delivery": Transition(
                S.NOT_DELIVERED, "application.deliver", N_("未送达"), "danger"
            ),
        },
        S.DELIVERED: {
            "review": Transition(S.REVIEWING, "lead.work", N_("开始审核")),
            "withdraw": Transition(S.WITHDRAWN, "application.withdraw", N_("撤回申请"), "danger"),
            "reject": Transition(S.REJECTED, "lead.work", N_("拒绝"), "danger"),
            "request_documents": Transition(
                S.DOCUMENTS_REQUESTED, "lead.work", N_("要求补充资料"), "secondary"
            ),
        },
        S.REVIEWING: {
            "approve": Transition(S.APPROVED, "lead.work", N_("批复通过")),
            "withdraw": Transition(S.WITHDRAWN, "application.withdraw", N_("撤回申请"), "danger"),
            "reject": Transition(S.REJECTED, "lead.work", N_("拒绝"), "danger"),
            "request_documents": Transition(
                S.DOCUMENTS_REQUESTED, "lead.work", N_("要求补充资料"), "secondary"
            ),
        },
        S.DOCUMENTS_REQUESTED: {
            "return_documents": Transition(S.REVIEWING, "application.documents", N_("提交资料")),
            "withdraw": Transition(S.WITHDRAWN, "application.withdraw", N_("撤回申请"), "danger"),
            "reject": Transition(S.REJECTED, "lead.work", N_("拒绝"), "danger"),
        },
        S.APPROVED: {
            "accept": Transition(S.ACCEPTED, "application.accept", N_("接受批复")),
            "withdraw": Transition(S.WITHDRAWN, "application.withdraw", N_("撤回申请"), "danger"),
        },
    },
)

# Still open for the borrower: applying again for the same product would duplicate it.
OPEN_STATUSES = frozenset(S) - {S.REJECTED, S.WITHDRAWN, S.NOT_DELIVERED}

# Waiting on the institution or the system; the borrower's page keeps refreshing meanwhile.
# (documents_requested waits on the borrower: their page shows the task instead.)
IN_PROGRESS_STATUSES = frozenset({S.SUBMITTED, S.DELIVERED, S.REVIEWING})

# Waiting on the borrower: their page shows a task, not a final state.
BORROWER_TASK_STATUSES = frozenset({S.DOCUMENTS_REQUESTED})

# Actions that need more than a button (a reason code, the documents asked for): the lead
# page gives each its own form and the generic move refuses them.
# Approving is sending an offer (offers context), and the borrower withdraws on their pages.
FORM_ACTIONS = frozenset({"reject", "request_documents", "approve", "withdraw"})

# An institution never sees an application before it is delivered.
LEAD_STATUSES = tuple(s for s in S if s not in (S.SUBMITTED, S.NOT_DELIVERED))

# The path shown on a borrower's timeline, with where a rejection branches off.
TIMELINE_PATH = (S.SUBMITTED, S.DELIVERED, S.REVIEWING, S.APPROVED)

# How a step reads on a timeline: good news, bad news, or neither.
POSITIVE_STATUSES = frozenset({S.APPROVED, S.ACCEPTED})
NEGATIVE_STATUSES = frozenset({S.REJECTED, S.WITHDRAWN, S.NOT_DELIVERED})


def received_leads(actor: Actor) -> Any:
    """Where-clause for the applications this actor's institution has received. Tenancy
    lives here: an undelivered application, or another institution's, is no lead of theirs
    — nor one withdrawn before delivery (consent withdrawn while it waited in the queue)."""
    return (
        (Application.institution == actor.institution_id)
        & Application.status.not_in([ApplicationStatus.SUBMITTED, ApplicationStatus.NOT_DELIVERED])
        & (
            Application.delivered_at.is_not_null()
            | (Application.status != ApplicationStatus.WITHDRAWN)
        )
    )
