from marketplace.contexts import Cron, declare_context
from marketplace.loans.tables import (
    Instalment,
    Loan,
    LoanDailyRun,
    LoanEvent,
    LoanMonthEnd,
    LoanRoll,
    Repayment,
)

CONTEXT = declare_context(
    "loans",
    __file__,
    [Loan, Instalment, Repayment, LoanDailyRun, LoanEvent, LoanMonthEnd, LoanRoll],
    depends_on=("accounts", "institutions", "products", "applications", "offers"),
    # Checked often, runs once per Asia/Shanghai business date (see jobs.daily_overdue).
    crons=(
        Cron(
            "loans.daily_overdue",
            "marketplace.loans.jobs:daily_overdue",
            every_seconds=3600,
            run_at_startup=True,
        ),
    ),
    public=("services", "queries", "statuses"),
)
APP_CONFIG = CONTEXT.app
