"""A partner application (机构入驻申请) and its one transition table.

    submitted ──review──▶ under_review ──approve──▶ approved
        │   ▲                  │    └──reject──▶ rejected
        │   └─────reply─── more_requested ◀──request_more──┘
        └──(request_more / approve / reject straight from submitted too)

Operators (`institution.review`) move it; the applicant, holding the status link, answers
a request for more (`partner.reply`). Approval admits the institution.
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class PartnerStatus(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    MORE_REQUESTED = "more_requested"
    APPROVED = "approved"
    REJECTED = "rejected"


S = PartnerStatus
REVIEW = "institution.review"
REPLY = "partner.reply"

STATUS_LABELS: dict[PartnerStatus, str] = {
    S.SUBMITTED: N_("已提交，待审核"),
    S.UNDER_REVIEW: N_("审核中"),
    S.MORE_REQUESTED: N_("待补充材料"),
    S.APPROVED: N_("已通过"),
    S.REJECTED: N_("未通过"),
}

# What the applicant reads on the status page.
STATUS_HINTS: dict[PartnerStatus, str] = {
    S.SUBMITTED: N_("平台已收到您的申请，将在3个工作日内开始审核。"),
    S.UNDER_REVIEW: N_("平台正在审核您的材料，如需补充会通过邮件通知您。"),
    S.MORE_REQUESTED: N_("平台需要您补充材料或说明，请在下方回复并上传文件。"),
    S.APPROVED: N_(
        "恭喜，贵机构已准入。请通过邮件中的链接设置管理员密码，登录机构后台签署合作协议。"
    ),
    S.REJECTED: N_("很遗憾，本次申请未通过。原因见下方说明，您可以完善后重新申请。"),
}

_decide = {
    "request_more": Transition(S.MORE_REQUESTED, REVIEW, N_("要求补充材料"), "secondary"),
    "approve": Transition(S.APPROVED, REVIEW, N_("通过并创建机构")),
    "reject": Transition(S.REJECTED, REVIEW, N_("驳回申请"), "danger"),
}

PARTNER_MACHINE: StateMachine[PartnerStatus] = StateMachine(
    PartnerStatus,
    STATUS_LABELS,
    {
        S.SUBMITTED: {
            "review": Transition(S.UNDER_REVIEW, REVIEW, N_("开始审核"), "secondary"),
            **_decide,
        },
        S.UNDER_REVIEW: _decide,
        S.MORE_REQUESTED: {"reply": Transition(S.SUBMITTED, REPLY, N_("提交补充材料"))},
    },
)

OPEN_STATUSES = frozenset({S.SUBMITTED, S.UNDER_REVIEW, S.MORE_REQUESTED})
# Decisions an operator takes with a note (the applicant reads it).
NOTE_REQUIRED = frozenset({"request_more", "reject"})
