"""The status of a banner or a campaign, and what borrowers see of it.

The stored status is the editor's decision; the time window decides visibility:

    draft ──activate──▶ active ──archive──▶ archived
      │  ◀──withdraw────┘                      ▲
      └───────────────archive──────────────────┘

An active item is 未开始 before `start_at`, 进行中 while start_at ≤ now < end_at, and
已结束 from `end_at` on (the phase, computed from now by the queries).
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class ContentStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


S = ContentStatus

STATUS_LABELS: dict[ContentStatus, str] = {
    S.DRAFT: N_("草稿"),
    S.ACTIVE: N_("已启用"),
    S.ARCHIVED: N_("已归档"),
}

MANAGE = "campaign.manage"
VIEW = "campaign.view"

_archive = Transition(S.ARCHIVED, MANAGE, N_("归档"), "danger")

CONTENT_MACHINE: StateMachine[ContentStatus] = StateMachine(
    ContentStatus,
    STATUS_LABELS,
    {
        S.DRAFT: {"activate": Transition(S.ACTIVE, MANAGE, N_("启用")), "archive": _archive},
        S.ACTIVE: {
            "withdraw": Transition(S.DRAFT, MANAGE, N_("撤回为草稿"), "secondary"),
            "archive": _archive,
        },
    },
)


class Phase(StrEnum):
    """What a reader of the list needs to know: the status and, when active, the window."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    ARCHIVED = "archived"


PHASE_LABELS: dict[Phase, str] = {
    Phase.DRAFT: N_("草稿"),
    Phase.SCHEDULED: N_("未开始"),
    Phase.LIVE: N_("进行中"),
    Phase.ENDED: N_("已结束"),
    Phase.ARCHIVED: N_("已归档"),
}


class Placement(StrEnum):
    HOME_TOP = "home_top"


PLACEMENT_LABELS: dict[Placement, str] = {Placement.HOME_TOP: N_("首页顶部横幅")}
