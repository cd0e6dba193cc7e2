"""Demo: every system parameter seeded, a short parameter history with reasons, and roles
the super admin created (A2, A3) — made through the real verbs, so each is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marketplace.accounts.role_matrix import create_role, set_permissions
from marketplace.accounts.services import actor_for
from marketplace.accounts.tables import User
from marketplace.parameters.services import change_parameter, sync_defaults
from marketplace.parameters.tables import ParameterChange

SUPER_ADMIN = "super@loanmart.example"

# (key, value, reason, days ago): a trial and its reversal, and changes that stayed.
HISTORY = [
    # The demo borrower arrives with seven applications made this week (decisions and
    # offers): under the default pause after six, they could not try applying at all.
    (
        "cooling_off_applications",
        12,
        "演示环境：演示借款人本周已有7笔申请，放宽到12笔以便体验申请",
        1,
    ),
    ("lead_sla_hours", 12, "试行：线索处理时限缩短到12小时，提升借款人体验", 40),
    ("lead_sla_hours", 24, "恢复24小时：多家机构反馈夜间线索无法按时处理", 26),
    ("data_export_link_minutes", 60, "借款人反馈下载大文件时链接过期，延长到60分钟", 9),
]

CREATED_ROLES = [
    (
        "operator",
        "data_analyst",
        "数据分析员",
        "月度经营分析需要只读访问结算与催收数据",
        {
            "dashboard.view",
            "collection.view",
            "settlement.view",
            "reconciliation.view",
            "role.view",
            "parameter.view",
        },
    ),
    (
        "staff",
        "collection_agent",
        "催收专员",
        "机构提出外包催收岗位只需登记催收联系",
        {"product.view", "loan.view", "collection.record"},
    ),
]


async def seed_parameters() -> None:
    await sync_defaults()
    user = await User.select(User.id).where(User.login_key == SUPER_ADMIN).first()
    if user is None:
        return
    root = await actor_for(user["id"])
    now = datetime.now(UTC)
    for key, value, reason, days_ago in HISTORY:
        version = await change_parameter(root, key, value, reason=reason)
        # Demo history reads as past weeks, not as the seconds the seed took.
        await ParameterChange.update({ParameterChange.at: now - timedelta(days=days_ago)}).where(
            (ParameterChange.key == key) & (ParameterChange.version == version)
        )
    for kind, code, label, reason, permissions in CREATED_ROLES:
        await create_role(root, kind, code, label, reason)
        await set_permissions(root, kind, code, permissions, None, reason, end_sessions=None)
