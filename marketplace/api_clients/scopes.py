"""What an API client may be granted: each scope lends the client's actor permissions of
the role × permission matrix, so the services check an API call exactly as a staff click."""

from __future__ import annotations

from collections.abc import Iterable

from marketplace.i18n import N_

SCOPES: dict[str, str] = {
    "leads:read": N_("读取线索"),
    "leads:write": N_("更新线索状态、拒绝线索"),
    "offers:write": N_("发送批复方案"),
    "loans:write": N_("登记放款与还款"),
    "reconciliation:read": N_("读取放款对账结果"),
    "reconciliation:write": N_("报送月度放款台账、处理对账差异"),
}

_PERMISSIONS: dict[str, frozenset[str]] = {
    "leads:read": frozenset({"lead.view"}),
    "leads:write": frozenset({"lead.view", "lead.work"}),
    "offers:write": frozenset({"lead.view", "lead.work"}),
    "loans:write": frozenset({"loan.view", "loan.disburse", "loan.record_repayment"}),
    "reconciliation:read": frozenset({"reconciliation.view"}),
    "reconciliation:write": frozenset(
        {"reconciliation.view", "reconciliation.report", "reconciliation.resolve"}
    ),
}


def permissions_for(scopes: Iterable[str]) -> frozenset[str]:
    return frozenset().union(*(_PERMISSIONS[scope] for scope in scopes if scope in _PERMISSIONS))
