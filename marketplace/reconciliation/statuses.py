"""What matching a reported disbursement against the platform's loans can find, and the
one transition of a discrepancy.

open ──resolve──▶ resolved   (institution staff or an operator, with a note)

A matched row has no state; every other outcome is a discrepancy, open until resolved.
"""

from __future__ import annotations

from enum import StrEnum

from marketplace.i18n import N_
from marketplace.statemachine import StateMachine, Transition

VIEW = "reconciliation.view"
REPORT = "reconciliation.report"
RESOLVE = "reconciliation.resolve"


class Outcome(StrEnum):
    MATCHED = "matched"
    AMOUNT_DIFFERS = "amount_differs"  # also when the date differs as well
    DATE_DIFFERS = "date_differs"
    MISSING_ON_PLATFORM = "missing_on_platform"
    MISSING_IN_REPORT = "missing_in_report"


OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.MATCHED: N_("一致"),
    Outcome.AMOUNT_DIFFERS: N_("金额不符"),
    Outcome.DATE_DIFFERS: N_("日期不符"),
    Outcome.MISSING_ON_PLATFORM: N_("平台无记录"),
    Outcome.MISSING_IN_REPORT: N_("机构未报送"),
}


class DiscrepancyState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


DISCREPANCY_MACHINE: StateMachine[DiscrepancyState] = StateMachine(
    DiscrepancyState,
    {DiscrepancyState.OPEN: N_("待处理"), DiscrepancyState.RESOLVED: N_("已处理")},
    {
        DiscrepancyState.OPEN: {
            "resolve": Transition(DiscrepancyState.RESOLVED, RESOLVE, N_("标记已处理")),
        },
    },
)


class ReportSource(StrEnum):
    UPLOAD = "upload"
    FORM = "form"
    API = "api"


SOURCE_LABELS: dict[ReportSource, str] = {
    ReportSource.UPLOAD: N_("上传文件"),
    ReportSource.FORM: N_("逐笔录入"),
    ReportSource.API: N_("开放接口"),
}
