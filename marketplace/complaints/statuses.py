"""The complaint lifecycle (PRODUCT.md §5), its one transition table, and the kinds,
categories and sides of a complaint.

    open ──assign──▶ assigned ──forward──▶ awaiting_institution ──answer / resolve──▶ resolved
                        │  └──resolve──────────────────────────────────────────────▶ resolved
                        └──escalate──▶ escalated ◀──escalate── awaiting_institution
    escalated ──resolve──▶ resolved ──reopen (borrower not satisfied)──▶ escalated
    escalated ──close──▶ closed ◀──rate / close / autoclose── resolved

Platform complaints and feedback are resolved by the operator (assigned → resolved).
The institution's answer resolves the complaint (awaiting_institution → resolved): the
borrower then rates it or, not satisfied within `complaint_autoclose_days`, reopens it,
which escalates it back to the operators. Unanswered, the operators may resolve or
escalate it themselves. A resolved complaint closes on the borrower's rating, an
operator's close, or automatically `complaint_autoclose_days` after resolution.
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class ComplaintKind(StrEnum):
    COMPLAINT = "complaint"
    FEEDBACK = "feedback"


class ComplaintStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    AWAITING_INSTITUTION = "awaiting_institution"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    CLOSED = "closed"


class Category(StrEnum):
    COLLECTION_ABUSE = "collection_abuse"
    OPAQUE_FEES = "opaque_fees"
    FALSE_ADVERTISING = "false_advertising"
    DATA_LEAK = "data_leak"
    DISBURSEMENT_REPAYMENT = "disbursement_repayment"
    SERVICE_ATTITUDE = "service_attitude"
    PLATFORM = "platform"
    OTHER = "other"
    SUGGESTION = "suggestion"
    PROBLEM_REPORT = "problem_report"
    FEEDBACK_OTHER = "feedback_other"


class Side(StrEnum):
    BORROWER = "borrower"
    OPERATOR = "operator"
    INSTITUTION = "institution"
    SYSTEM = "system"


S = ComplaintStatus

FILE = "complaint.file"  # borrowers: file, reply, rate, reopen
VIEW = "complaint.view"  # operators: the desk, read only
HANDLE = "complaint.handle"  # operators: assign, reply, note, forward, escalate, resolve, close
ANSWER = "complaint.answer"  # institution staff: answer their institution's complaints
AUTOCLOSE = "complaint.autoclose"  # the system's SLA run only

KIND_LABELS: dict[ComplaintKind, str] = {
    ComplaintKind.COMPLAINT: N_("投诉"),
    ComplaintKind.FEEDBACK: N_("意见反馈"),
}

STATUS_LABELS: dict[ComplaintStatus, str] = {
    S.OPEN: N_("待受理"),
    S.ASSIGNED: N_("处理中"),
    S.AWAITING_INSTITUTION: N_("待机构答复"),
    S.RESOLVED: N_("已解决"),
    S.ESCALATED: N_("已升级"),
    S.CLOSED: N_("已关闭"),
}

CATEGORY_LABELS: dict[Category, str] = {
    Category.COLLECTION_ABUSE: N_("暴力催收/骚扰"),
    Category.OPAQUE_FEES: N_("费用不透明"),
    Category.FALSE_ADVERTISING: N_("虚假宣传"),
    Category.DATA_LEAK: N_("个人信息泄露"),
    Category.DISBURSEMENT_REPAYMENT: N_("放款/还款问题"),
    Category.SERVICE_ATTITUDE: N_("服务态度"),
    Category.PLATFORM: N_("平台问题"),
    Category.OTHER: N_("其他"),
    Category.SUGGESTION: N_("建议"),
    Category.PROBLEM_REPORT: N_("问题反馈"),
    Category.FEEDBACK_OTHER: N_("其他"),
}

CATEGORIES: dict[ComplaintKind, tuple[Category, ...]] = {
    ComplaintKind.COMPLAINT: (
        Category.COLLECTION_ABUSE,
        Category.OPAQUE_FEES,
        Category.FALSE_ADVERTISING,
        Category.DATA_LEAK,
        Category.DISBURSEMENT_REPAYMENT,
        Category.SERVICE_ATTITUDE,
        Category.PLATFORM,
        Category.OTHER,
    ),
    ComplaintKind.FEEDBACK: (Category.SUGGESTION, Category.PROBLEM_REPORT, Category.FEEDBACK_OTHER),
}

SIDE_LABELS: dict[Side, str] = {
    Side.BORROWER: N_("借款人"),
    Side.OPERATOR: N_("平台客服"),
    Side.INSTITUTION: N_("机构"),
    Side.SYSTEM: N_("系统"),
}

COMPLAINT_MACHINE: StateMachine[ComplaintStatus] = StateMachine(
    ComplaintStatus,
    STATUS_LABELS,
    {
        S.OPEN: {
            "assign": Transition(S.ASSIGNED, HANDLE, N_("受理并指派")),
        },
        S.ASSIGNED: {
            "forward": Transition(S.AWAITING_INSTITUTION, HANDLE, N_("转机构处理")),
            "resolve": Transition(S.RESOLVED, HANDLE, N_("办结")),
            "escalate": Transition(S.ESCALATED, HANDLE, N_("升级"), "danger"),
        },
        S.AWAITING_INSTITUTION: {
            "answer": Transition(S.RESOLVED, ANSWER, N_("答复并办结")),
            "resolve": Transition(S.RESOLVED, HANDLE, N_("办结")),
            "escalate": Transition(S.ESCALATED, HANDLE, N_("升级"), "danger"),
        },
        S.ESCALATED: {
            "resolve": Transition(S.RESOLVED, HANDLE, N_("办结")),
            "close": Transition(S.CLOSED, HANDLE, N_("关闭"), "secondary"),
        },
        S.RESOLVED: {
            "rate": Transition(S.CLOSED, FILE, N_("评价并结束")),
            "reopen": Transition(S.ESCALATED, FILE, N_("不满意，重新投诉"), "danger"),
            "close": Transition(S.CLOSED, HANDLE, N_("关闭"), "secondary"),
            "autoclose": Transition(S.CLOSED, AUTOCLOSE, N_("自动关闭"), "secondary"),
        },
    },
)

# Where an operator may hand the complaint to another operator without changing its state.
REASSIGNABLE = frozenset({S.ASSIGNED, S.AWAITING_INSTITUTION, S.ESCALATED})
# Still being worked: a reply or note may be added; the SLA run watches these.
ACTIVE = frozenset({S.OPEN, S.ASSIGNED, S.AWAITING_INSTITUTION, S.ESCALATED})

# Actions that need a form (text, a person, a rating), not just a button.
FORM_ACTIONS = frozenset({"assign", "forward", "resolve", "answer", "escalate", "rate", "reopen"})
