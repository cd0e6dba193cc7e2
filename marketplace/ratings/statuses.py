"""The rating lifecycle, its one transition table, and why a rating is held.

    pending ──publish──▶ published ──hide──▶ hidden
       │                   │  ▲
       └──hold──▶ held ◀─report┘  │
                   ├──approve─────┘
                   └──reject──▶ rejected

A rating is pending only while the automatic check runs inside its submission's
transaction: clean text publishes at once, caught text (personal data, a banned phrase)
waits as held for an operator, as does a published rating an institution reports. Its
author may edit it while it is not published (pending, held, rejected): the edit is
checked again. Institutions never delete a rating; operators reject or hide one, with a
reason its author reads.
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class RatingStatus(StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"
    HELD = "held"
    REJECTED = "rejected"
    HIDDEN = "hidden"


class HoldReason(StrEnum):
    MOBILE = "mobile"
    ID_NUMBER = "id_number"
    BANK_CARD = "bank_card"
    EMAIL = "email"
    BANNED_PHRASE = "banned"
    REPORTED = "reported"


S = RatingStatus
CHECK = "rating.check"  # the automatic check's (moderation.CHECKER)
WRITE = "rating.write"  # borrowers: rate a product they applied to, vote "有用"
REPLY = "rating.reply"  # institution staff: reply once, report
VIEW = "rating.view"  # operators: the moderation queue and history
MODERATE = "rating.moderate"  # operators: approve, reject, hide

EDITABLE = (S.PENDING, S.HELD, S.REJECTED)

STATUS_LABELS: dict[RatingStatus, str] = {
    S.PENDING: N_("检查中"),
    S.PUBLISHED: N_("已发布"),
    S.HELD: N_("待人工审核"),
    S.REJECTED: N_("未通过"),
    S.HIDDEN: N_("已隐藏"),
}

HOLD_LABELS: dict[HoldReason, str] = {
    HoldReason.MOBILE: N_("含手机号"),
    HoldReason.ID_NUMBER: N_("含身份证号"),
    HoldReason.BANK_CARD: N_("含银行卡号"),
    HoldReason.EMAIL: N_("含电子邮箱"),
    HoldReason.BANNED_PHRASE: N_("含违禁词"),
    HoldReason.REPORTED: N_("机构举报"),
}

RATING_MACHINE: StateMachine[RatingStatus] = StateMachine(
    RatingStatus,
    STATUS_LABELS,
    {
        S.PENDING: {
            "publish": Transition(S.PUBLISHED, CHECK, N_("发布")),
            "hold": Transition(S.HELD, CHECK, N_("转人工审核")),
        },
        S.HELD: {
            "approve": Transition(S.PUBLISHED, MODERATE, N_("通过并发布")),
            "reject": Transition(S.REJECTED, MODERATE, N_("驳回"), "danger"),
        },
        S.PUBLISHED: {
            "hide": Transition(S.HIDDEN, MODERATE, N_("隐藏"), "danger"),
            "report": Transition(S.HELD, REPLY, N_("举报"), "secondary"),
        },
    },
)
# Operators' decisions (the queue's buttons); a reason is required for these.
DECISIONS = ("approve", "reject", "hide")
NEEDS_REASON = ("reject", "hide")
