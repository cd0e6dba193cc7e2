"""The application lifecycle (PRODUCT.md §5)."""

from __future__ import annotations

STATUS_LABELS: dict[str, str] = {
    "submitted": "已提交",
    "delivered": "机构已接收",
    "reviewing": "审核中",
    "approved": "已批复",
    "rejected": "已拒绝",
    "withdrawn": "已撤回",
    "signed": "已签约",
    "disbursed": "已放款",
    "repaying": "还款中",
    "settled": "已结清",
    "overdue": "逾期",
}

# Moves an institution may make on a lead.
INSTITUTION_TRANSITIONS: dict[str, frozenset[str]] = {
    "delivered": frozenset({"reviewing", "rejected"}),
    "reviewing": frozenset({"approved", "rejected"}),
}

ACTIVE_STATUSES = frozenset({"submitted", "delivered", "reviewing", "approved", "signed"})

# The path shown on a borrower's timeline, with where a rejection branches off.
TIMELINE_PATH = ("submitted", "delivered", "reviewing", "approved")


def can_move(current: str, target: str) -> bool:
    return target in INSTITUTION_TRANSITIONS.get(current, frozenset())
