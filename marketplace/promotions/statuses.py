"""The promotion lifecycle and its one transition table.

An institution requests a placement; an operator approves or rejects it (with a reason).
An approved promotion goes live on its first day and ends after its last (the system
moves it, by the Asia/Shanghai date). The institution may withdraw it before it starts.

    requested ──approve──▶ approved ──start──▶ live ──end──▶ ended
        │  └──reject──▶ rejected   │  └──end (never started)──▶ ended
        └──withdraw──▶ withdrawn ◀─┘withdraw (before its first day)
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.actors import Actor
from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class PromotionStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    LIVE = "live"
    ENDED = "ended"
    WITHDRAWN = "withdrawn"


S = PromotionStatus

STATUS_LABELS: dict[PromotionStatus, str] = {
    S.REQUESTED: N_("待审核"),
    S.APPROVED: N_("已通过，待开始"),
    S.REJECTED: N_("已驳回"),
    S.LIVE: N_("推广中"),
    S.ENDED: N_("已结束"),
    S.WITHDRAWN: N_("已撤回"),
}

_withdraw = Transition(S.WITHDRAWN, "promotion.request", N_("撤回申请"), "danger")
_end = Transition(S.ENDED, "promotion.schedule", N_("结束推广"), "secondary")

PROMOTION_MACHINE: StateMachine[PromotionStatus] = StateMachine(
    PromotionStatus,
    STATUS_LABELS,
    {
        S.REQUESTED: {
            "approve": Transition(S.APPROVED, "promotion.review", N_("通过")),
            "reject": Transition(S.REJECTED, "promotion.review", N_("驳回"), "danger"),
            "withdraw": _withdraw,
        },
        S.APPROVED: {
            "start": Transition(S.LIVE, "promotion.schedule", N_("开始推广")),
            "end": _end,
            "withdraw": _withdraw,
        },
        S.LIVE: {"end": _end},
    },
)

# Promotions that hold a slot on their days.
HOLDING_SLOT = (S.APPROVED, S.LIVE)

# The clock: starts and ends promotions on their dates.
SCHEDULER = Actor(
    user_id=None,
    kind="system",
    label="system",
    role="system",
    permissions=frozenset({"promotion.schedule"}),
)
