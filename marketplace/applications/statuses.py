"""The application lifecycle (PRODUCT.md §5)."""

from __future__ import annotations

from marketplace.i18n import N_

STATUS_LABELS: dict[str, str] = {
    "submitted": N_("已提交"),
    "delivered": N_("机构已接收"),
    "reviewing": N_("审核中"),
    "approved": N_("已批复"),
    "rejected": N_("已拒绝"),
    "withdrawn": N_("已撤回"),
    "signed": N_("已签约"),
    "disbursed": N_("已放款"),
    "repaying": N_("还款中"),
    "settled": N_("已结清"),
    "overdue": N_("逾期"),
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
