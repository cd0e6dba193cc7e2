from marketplace.contexts import declare_context
from marketplace.reconciliation.tables import (
    DisbursementReport,
    DiscrepancyResolution,
    ReportedDisbursement,
)

CONTEXT = declare_context(
    "reconciliation",
    __file__,
    [DisbursementReport, ReportedDisbursement, DiscrepancyResolution],
    depends_on=("accounts", "institutions"),
    public=("services", "queries", "statuses", "files"),
)
APP_CONFIG = CONTEXT.app
