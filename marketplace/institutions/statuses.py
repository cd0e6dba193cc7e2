"""The institution lifecycle (PRODUCT.md §5) and its one transition table.

An operator admits an applicant (`approved`): its console works and it may draft products,
but nothing is listed and no leads arrive until its cooperation agreement is signed, which
activates it. Operators suspend and resume an active institution (the licence-expiry cron
suspends it too); closing is final.

    approved ──activate──▶ active ──suspend──▶ suspended ──resume──▶ active
        └─────────close─────────┴──────close───────┴──────▶ closed
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class InstitutionStatus(StrEnum):
    APPROVED = "approved"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


S = InstitutionStatus

STATUS_LABELS: dict[InstitutionStatus, str] = {
    S.APPROVED: N_("已准入（待签协议）"),
    S.ACTIVE: N_("合作中"),
    S.SUSPENDED: N_("已暂停"),
    S.CLOSED: N_("已终止"),
}

# Only the system activates (when the agreement is signed); operators manage the rest.
ACTIVATE = "institution.activate"
MANAGE = "institution.manage"

_close = Transition(S.CLOSED, MANAGE, N_("终止合作"), "danger")

INSTITUTION_MACHINE: StateMachine[InstitutionStatus] = StateMachine(
    InstitutionStatus,
    STATUS_LABELS,
    {
        S.APPROVED: {"activate": Transition(S.ACTIVE, ACTIVATE, N_("启用")), "close": _close},
        S.ACTIVE: {
            "suspend": Transition(S.SUSPENDED, MANAGE, N_("暂停合作"), "danger"),
            "close": _close,
        },
        S.SUSPENDED: {"resume": Transition(S.ACTIVE, MANAGE, N_("恢复合作")), "close": _close},
    },
)

# Actions an operator takes from the institution page, each with a stated reason.
OPERATOR_ACTIONS = frozenset({"suspend", "resume", "close"})
