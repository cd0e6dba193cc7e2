"""The article lifecycle and its one transition table.

    draft ──submit──▶ in_review ──approve──▶ published (or scheduled: publish_at ahead)
      ▲                  │                        │
      └────return────────┘                        │
    scheduled ──(publish_due, the system)──▶ published
    scheduled / published ──unpublish──▶ unpublished ──redraft──▶ draft

Approving needs content.approve and is refused to the article's author and to whoever
last edited it: another editor approves (the services check it, the queries hide it).
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"


class Category(StrEnum):
    NEWS = "news"
    GUIDE = "guide"
    POLICY = "policy"


class EventKind(StrEnum):
    CREATED = "created"
    EDITED = "edited"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    RETURNED = "returned"
    UNPUBLISHED = "unpublished"
    REDRAFTED = "redrafted"


S = ArticleStatus
EDIT = "content.edit"
APPROVE = "content.approve"
VIEW = "content.view"
# Only the system's scheduled run publishes a scheduled article.
PUBLISH_DUE = "content.publish_due"

# States whose text may be changed; a published article's edit goes live (and is audited).
EDITABLE = (S.DRAFT, S.PUBLISHED)
# States in which the public sees the article.
PUBLIC = (S.PUBLISHED,)

STATUS_LABELS: dict[ArticleStatus, str] = {
    S.DRAFT: N_("草稿"),
    S.IN_REVIEW: N_("待审核"),
    S.SCHEDULED: N_("定时发布"),
    S.PUBLISHED: N_("已发布"),
    S.UNPUBLISHED: N_("已下线"),
}

CATEGORY_LABELS: dict[Category, str] = {
    Category.NEWS: N_("资讯"),
    Category.GUIDE: N_("攻略"),
    Category.POLICY: N_("政策解读"),
}

EVENT_LABELS: dict[EventKind, str] = {
    EventKind.CREATED: N_("创建草稿"),
    EventKind.EDITED: N_("修改"),
    EventKind.SUBMITTED: N_("提交审核"),
    EventKind.APPROVED: N_("审核通过并发布"),
    EventKind.SCHEDULED: N_("审核通过，定时发布"),
    EventKind.PUBLISHED: N_("到点自动发布"),
    EventKind.RETURNED: N_("退回修改"),
    EventKind.UNPUBLISHED: N_("下线"),
    EventKind.REDRAFTED: N_("转为草稿"),
}

ARTICLE_MACHINE: StateMachine[ArticleStatus] = StateMachine(
    ArticleStatus,
    STATUS_LABELS,
    {
        S.DRAFT: {"submit": Transition(S.IN_REVIEW, EDIT, N_("提交审核"))},
        S.IN_REVIEW: {
            "approve": Transition(S.PUBLISHED, APPROVE, N_("审核通过并发布")),
            "return": Transition(S.DRAFT, APPROVE, N_("退回修改"), "secondary"),
        },
        S.SCHEDULED: {
            "publish": Transition(S.PUBLISHED, PUBLISH_DUE, N_("发布")),
            "unpublish": Transition(S.UNPUBLISHED, EDIT, N_("取消定时发布"), "danger"),
        },
        S.PUBLISHED: {"unpublish": Transition(S.UNPUBLISHED, EDIT, N_("下线"), "danger")},
        S.UNPUBLISHED: {"redraft": Transition(S.DRAFT, EDIT, N_("转为草稿"), "secondary")},
    },
)
# Actions an editor takes from the article page (publish is the scheduler's).
ACTIONS = ("submit", "approve", "return", "unpublish", "redraft")
# Actions that need a comment (the author reads why).
COMMENT_REQUIRED = ("return",)
