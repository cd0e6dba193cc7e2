"""The statement lifecycle (PRODUCT.md §5) and its one transition table.

draft ──issue──▶ issued ──confirm──▶ confirmed ──settle──▶ settled
  └─rebuild─┘       │                    ▲
                    └──dispute──▶ disputed ──resolve──▶ adjusted ──confirm──┘
                                     ▲  └─dispute─┘        │
                                     └──────dispute────────┘

Operators build, issue, adjudicate disputes (resolve happens when the last open dispute of
the statement is decided) and record payment (settle); the institution's admin or finance staff
confirm a statement or dispute its lines.
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_, _
from marketplace.statemachine import StateMachine, Transition


class StatementStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    DISPUTED = "disputed"
    ADJUSTED = "adjusted"
    CONFIRMED = "confirmed"
    SETTLED = "settled"


S = StatementStatus

STATUS_LABELS: dict[StatementStatus, str] = {
    S.DRAFT: N_("草稿"),
    S.ISSUED: N_("已出具"),
    S.DISPUTED: N_("有异议"),
    S.ADJUSTED: N_("已调整"),
    S.CONFIRMED: N_("已确认"),
    S.SETTLED: N_("已结清"),
}

MANAGE = "settlement.manage"  # operators: build, issue, adjudicate, record payment
VIEW = "settlement.view"  # read statements (institution staff: their own only)
RESPOND = "settlement.respond"  # institution: confirm a statement or dispute its lines

_DISPUTE = Transition(S.DISPUTED, RESPOND, N_("提出异议"), "secondary")
_CONFIRM = Transition(S.CONFIRMED, RESPOND, N_("确认结算单"))

STATEMENT_MACHINE: StateMachine[StatementStatus] = StateMachine(
    StatementStatus,
    STATUS_LABELS,
    {
        S.DRAFT: {
            "issue": Transition(S.ISSUED, MANAGE, N_("出具结算单")),
            "rebuild": Transition(S.DRAFT, MANAGE, N_("重新生成草稿"), "secondary"),
        },
        S.ISSUED: {"confirm": _CONFIRM, "dispute": _DISPUTE},
        S.DISPUTED: {
            "dispute": _DISPUTE,
            "resolve": Transition(S.ADJUSTED, MANAGE, N_("完成异议裁定")),
        },
        S.ADJUSTED: {"confirm": _CONFIRM, "dispute": _DISPUTE},
        S.CONFIRMED: {"settle": Transition(S.SETTLED, MANAGE, N_("登记收款"))},
    },
)


class DisputeStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return _(_DISPUTE_LABELS[self])


_DISPUTE_LABELS = {
    DisputeStatus.OPEN: N_("待裁定"),
    DisputeStatus.ACCEPTED: N_("已采纳"),
    DisputeStatus.REJECTED: N_("已驳回"),
}


class CreditReason(StrEnum):
    DUPLICATE = "duplicate"  # the same borrower's lead within the duplicate window
    WITHDRAWN = "withdrawn"  # withdrawn soon after delivery
    FRAUD = "fraud"  # flagged fraudulent by an operator

    @property
    def label(self) -> str:
        return _(_REASON_LABELS[self])


_REASON_LABELS = {
    CreditReason.DUPLICATE: N_("重复线索"),
    CreditReason.WITHDRAWN: N_("送达后短时间内撤回"),
    CreditReason.FRAUD: N_("欺诈线索"),
}


class LineKind(StrEnum):
    CHARGE = "charge"  # a billing event (not stored as a line)
    CREDIT = "credit"
    CAP = "cap"
    ADJUSTMENT = "adjustment"

    @property
    def label(self) -> str:
        return _(_KIND_LABELS[self])


_KIND_LABELS = {
    LineKind.CHARGE: N_("计费"),
    LineKind.CREDIT: N_("自动冲减"),
    LineKind.CAP: N_("月度封顶"),
    LineKind.ADJUSTMENT: N_("异议调整"),
}
