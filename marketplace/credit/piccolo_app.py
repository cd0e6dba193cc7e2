from marketplace.contexts import Cron, declare_context
from marketplace.credit.tables import CreditRun, CreditSnapshot

CONTEXT = declare_context(
    "credit",
    __file__,
    [CreditSnapshot, CreditRun],
    depends_on=("accounts",),
    jobs={"credit.snapshot": "marketplace.credit.jobs:snapshot_job"},
    # Checked hourly; queues each borrower's snapshot once per Asia/Shanghai date.
    crons=(
        Cron(
            "credit.daily_snapshots",
            "marketplace.credit.jobs:daily_snapshots",
            every_seconds=3600,
            run_at_startup=True,
        ),
    ),
    public=("services", "queries", "score"),
)
APP_CONFIG = CONTEXT.app
