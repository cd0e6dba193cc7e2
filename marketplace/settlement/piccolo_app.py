from marketplace.contexts import Cron, declare_context
from marketplace.settlement.tables import (
    BillingCredit,
    BillingEvent,
    FlaggedLead,
    Statement,
    StatementDispute,
    StatementLine,
)

CONTEXT = declare_context(
    "settlement",
    __file__,
    [BillingEvent, FlaggedLead, BillingCredit, Statement, StatementLine, StatementDispute],
    depends_on=("accounts", "institutions", "agreements", "applications", "loans"),
    jobs={
        "settlement.bill": "marketplace.settlement.jobs:bill",
        "settlement.screen_withdrawal": "marketplace.settlement.jobs:screen_withdrawal",
        "settlement.build_statements": "marketplace.settlement.jobs:build_statements",
    },
    crons=(
        Cron(
            "settlement.build_last_month",
            "marketplace.settlement.jobs:build_last_month",
            every_seconds=3600,
        ),
    ),
    public=("services", "queries", "statuses"),
)
APP_CONFIG = CONTEXT.app
