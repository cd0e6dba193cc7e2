"""The product listing lifecycle and its one transition table.

An institution drafts a product and submits it; a platform reviewer lists or rejects it.
A listed product can be paused (borrowers cannot apply; it may then be edited) or
delisted, which is final. Editing a rejected or paused product makes it a draft again,
and resuming a paused one sends it back through review, so nothing is listed unreviewed.

    draft ──submit──▶ pending_review ──approve──▶ listed ──pause──▶ paused ──resume──▶ pending_review
      ▲                     │                       │                 │
      └──edit── rejected ◀──┘reject                 └──delist──▶ delisted ◀──delist──┘

The platform may suspend a listed or paused product (a monitoring case, PRODUCT.md A7):
it leaves the listing at once and only an operator reinstates it (back to listed); its
institution may still delist it.

    listed / paused ──suspend──▶ suspended ──reinstate──▶ listed
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class ProductStatus(StrEnum):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    LISTED = "listed"
    REJECTED = "rejected"
    PAUSED = "paused"
    DELISTED = "delisted"
    SUSPENDED = "suspended"


S = ProductStatus

STATUS_LABELS: dict[ProductStatus, str] = {
    S.DRAFT: N_("草稿"),
    S.PENDING_REVIEW: N_("待审核"),
    S.LISTED: N_("已上架"),
    S.REJECTED: N_("已驳回"),
    S.PAUSED: N_("已暂停"),
    S.DELISTED: N_("已下架"),
    S.SUSPENDED: N_("平台已暂停"),
}

# What the institution is told about where its product stands.
STATUS_HINTS: dict[ProductStatus, str] = {
    S.DRAFT: N_("草稿尚未提交。提交后由平台审核，审核期间不能修改，审核通过后自动上架。"),
    S.PENDING_REVIEW: N_(
        "平台正在审核该产品。审核期间不能修改；通过后自动上架，驳回时会显示原因。"
    ),
    S.LISTED: N_("产品已上架，借款人可以浏览和申请。"),
    S.REJECTED: N_("平台未通过审核。请按审核意见修改后重新提交。"),
    S.PAUSED: N_("产品已暂停，借款人暂时无法申请。"),
    S.DELISTED: N_("产品已下架，不能再恢复。如需重新提供，请新建产品。"),
    S.SUSPENDED: N_(
        "平台已暂停该产品：借款人看不到也无法申请。请在“监控案件”中查看原因并回复；"
        "平台恢复前不能重新上架。"
    ),
}

_edit = Transition(S.DRAFT, "product.edit", N_("编辑"), "secondary")
_submit = Transition(S.PENDING_REVIEW, "product.edit", N_("提交审核"))
_delist = Transition(S.DELISTED, "product.edit", N_("下架产品"), "danger")
_suspend = Transition(S.SUSPENDED, "monitoring.manage", N_("平台暂停"), "danger")

PRODUCT_MACHINE: StateMachine[ProductStatus] = StateMachine(
    ProductStatus,
    STATUS_LABELS,
    {
        S.DRAFT: {"edit": _edit, "submit": _submit},
        S.REJECTED: {"edit": _edit, "submit": _submit},
        S.PENDING_REVIEW: {
            "approve": Transition(S.LISTED, "product.review", N_("通过并上架")),
            "reject": Transition(S.REJECTED, "product.review", N_("驳回"), "danger"),
        },
        S.LISTED: {
            "pause": Transition(S.PAUSED, "product.edit", N_("暂停申请"), "secondary"),
            "delist": _delist,
            "suspend": _suspend,
        },
        S.PAUSED: {
            "edit": _edit,
            "resume": Transition(S.PENDING_REVIEW, "product.edit", N_("重新提交上架")),
            "delist": _delist,
            "suspend": _suspend,
        },
        S.SUSPENDED: {
            "reinstate": Transition(S.LISTED, "monitoring.manage", N_("恢复上架")),
            "delist": _delist,
        },
    },
)

# The listing changes an institution makes from the product page (not edit/submit/review).
LISTING_ACTIONS = frozenset({"pause", "resume", "delist"})
# The platform's own decisions on a listed product (monitoring cases), not the institution's.
PLATFORM_ACTIONS = frozenset({"suspend", "reinstate"})
