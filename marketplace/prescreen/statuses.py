"""A rule set's versions: draft → published (in force) → retired (kept read-only).

Publishing a draft retires the version in force in the same transaction, so an
institution has at most one draft and one published version at any time."""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition


class RuleSetStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


R = RuleSetStatus

RULE_SET_MACHINE: StateMachine[RuleSetStatus] = StateMachine(
    RuleSetStatus,
    {R.DRAFT: N_("草稿"), R.PUBLISHED: N_("生效中"), R.RETIRED: N_("已停用")},
    {
        R.DRAFT: {"publish": Transition(R.PUBLISHED, "prescreen.manage", N_("发布草稿"))},
        R.PUBLISHED: {"retire": Transition(R.RETIRED, "prescreen.manage", N_("停用"), "secondary")},
    },
)
