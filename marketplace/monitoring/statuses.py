"""The monitoring case lifecycle, its one transition table, and the rules that open cases.

    open ──suspend──▶ suspended ──resume──▶ resumed
      └───dismiss──▶ dismissed

Suspending suspends the subject (the product leaves the listing, or the institution's
cooperation is paused); resuming reinstates it. Both are decisions with a stated reason.
Open and suspended cases are unresolved: one per subject and rule at a time.
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class CaseStatus(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"
    DISMISSED = "dismissed"
    RESUMED = "resumed"


class Rule(StrEnum):
    OVERDUE_RATE = "overdue_rate"
    COMPLAINT_RATE = "complaint_rate"
    APR_ABOVE_LISTING = "apr_above_listing"
    # An operator suspended a product directly (from its review page).
    MANUAL = "manual"


class Subject(StrEnum):
    PRODUCT = "product"
    INSTITUTION = "institution"


class EventKind(StrEnum):
    OPENED = "opened"
    ASSIGNED = "assigned"
    NOTE = "note"
    SUSPENDED = "suspended"
    DISMISSED = "dismissed"
    RESUMED = "resumed"
    RESPONSE = "response"


S = CaseStatus
MANAGE = "monitoring.manage"

UNRESOLVED = (S.OPEN, S.SUSPENDED)

STATUS_LABELS: dict[CaseStatus, str] = {
    S.OPEN: N_("待处理"),
    S.SUSPENDED: N_("已暂停"),
    S.DISMISSED: N_("已驳回"),
    S.RESUMED: N_("已恢复"),
}

RULE_LABELS: dict[Rule, str] = {
    Rule.OVERDUE_RATE: N_("逾期率超过阈值"),
    Rule.COMPLAINT_RATE: N_("投诉率超过阈值"),
    Rule.APR_ABOVE_LISTING: N_("实际年化高于标示区间"),
    Rule.MANUAL: N_("运营人工暂停"),
}

SUBJECT_LABELS: dict[Subject, str] = {
    Subject.PRODUCT: N_("产品"),
    Subject.INSTITUTION: N_("机构"),
}

EVENT_LABELS: dict[EventKind, str] = {
    EventKind.OPENED: N_("立案"),
    EventKind.ASSIGNED: N_("指派"),
    EventKind.NOTE: N_("内部备注"),
    EventKind.SUSPENDED: N_("暂停"),
    EventKind.DISMISSED: N_("驳回"),
    EventKind.RESUMED: N_("恢复"),
    EventKind.RESPONSE: N_("机构回复"),
}

CASE_MACHINE: StateMachine[CaseStatus] = StateMachine(
    CaseStatus,
    STATUS_LABELS,
    {
        S.OPEN: {
            "suspend": Transition(S.SUSPENDED, MANAGE, N_("暂停并通知机构"), "danger"),
            "dismiss": Transition(S.DISMISSED, MANAGE, N_("驳回（不处理）"), "secondary"),
        },
        S.SUSPENDED: {"resume": Transition(S.RESUMED, MANAGE, N_("恢复"))},
    },
)
